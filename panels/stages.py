"""The four stage panels of the FaceForge sidebar tab, and the mixins of their sub-panels.

Stage content comes from sub-panels in the feature modules of this folder: a
sub-panel derives from its stage's mixin (:class:`LandmarksPanel`,
:class:`RigPanel`, :class:`AnimatePanel`, :class:`DeliverPanel`), which places
it in the tab under that stage.  This module is registered first so the
parents exist.
"""

import bpy

def settings_layout(layout, group=None, names=()):
    """``layout`` in Blender's settings style (labels on the left, no keyframe dots), with the
    properties ``names`` of ``group`` drawn in it."""
    layout.use_property_split = True
    layout.use_property_decorate = False
    for name in names:
        layout.prop(group, name)
    return layout


def draw_job_progress(layout, context):
    job = context.window_manager.faceforge.job
    if job.running:
        box = layout.box()
        box.progress(factor=job.fraction, text=f"{job.label}: {job.message}")
        box.label(text="Press Esc to cancel", icon="CANCEL")


class FaceForgePanel:
    """Where every FaceForge panel lives: the 3D viewport's sidebar, tab "FaceForge"."""
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"


class _StagePanel(FaceForgePanel):
    def draw(self, context):
        draw_job_progress(self.layout, context)


class VIEW3D_PT_faceforge_landmarks(_StagePanel, bpy.types.Panel):
    bl_label = "1 Landmarks"
    bl_order = 0


class VIEW3D_PT_faceforge_rig(_StagePanel, bpy.types.Panel):
    bl_label = "2 Rig"
    bl_order = 1


class VIEW3D_PT_faceforge_animate(_StagePanel, bpy.types.Panel):
    bl_label = "3 Animate"
    bl_order = 2


class VIEW3D_PT_faceforge_deliver(_StagePanel, bpy.types.Panel):
    bl_label = "4 Deliver"
    bl_order = 3

    def draw(self, context):
        draw_job_progress(self.layout, context)
        self.layout.operator("faceforge.check_dependencies", icon="CHECKMARK")


class LandmarksPanel(FaceForgePanel):
    bl_parent_id = VIEW3D_PT_faceforge_landmarks.__name__


class RigPanel(FaceForgePanel):
    bl_parent_id = VIEW3D_PT_faceforge_rig.__name__


class AnimatePanel(FaceForgePanel):
    bl_parent_id = VIEW3D_PT_faceforge_animate.__name__


class DeliverPanel(FaceForgePanel):
    bl_parent_id = VIEW3D_PT_faceforge_deliver.__name__


classes = (VIEW3D_PT_faceforge_landmarks, VIEW3D_PT_faceforge_rig,
           VIEW3D_PT_faceforge_animate, VIEW3D_PT_faceforge_deliver)
