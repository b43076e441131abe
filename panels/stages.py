"""The four stage panels of the FaceForge sidebar tab.

Stage content comes from sub-panels in the feature modules of this folder
(``bl_parent_id = "VIEW3D_PT_faceforge_<stage>"``); this module is registered
first so the parents exist.
"""

import bpy

def draw_job_progress(layout, context):
    job = context.window_manager.faceforge.job
    if job.running:
        box = layout.box()
        box.progress(factor=job.fraction, text=f"{job.label}: {job.message}")
        box.label(text="Press Esc to cancel", icon="CANCEL")


class _StagePanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"
    stage = ""

    def draw(self, context):
        draw_job_progress(self.layout, context)


class VIEW3D_PT_faceforge_landmarks(_StagePanel, bpy.types.Panel):
    bl_label = "1 Landmarks"
    bl_order = 0
    stage = "landmarks"


class VIEW3D_PT_faceforge_rig(_StagePanel, bpy.types.Panel):
    bl_label = "2 Rig"
    bl_order = 1
    stage = "rig"


class VIEW3D_PT_faceforge_animate(_StagePanel, bpy.types.Panel):
    bl_label = "3 Animate"
    bl_order = 2
    stage = "animate"


class VIEW3D_PT_faceforge_deliver(_StagePanel, bpy.types.Panel):
    bl_label = "4 Deliver"
    bl_order = 3
    stage = "deliver"

    def draw(self, context):
        super().draw(context)
        self.layout.operator("faceforge.check_dependencies", icon="CHECKMARK")


classes = (VIEW3D_PT_faceforge_landmarks, VIEW3D_PT_faceforge_rig,
           VIEW3D_PT_faceforge_animate, VIEW3D_PT_faceforge_deliver)
