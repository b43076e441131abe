"""Landmarks stage: detection and status."""

import bpy


class VIEW3D_PT_faceforge_landmarks_detect(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"
    bl_parent_id = "VIEW3D_PT_faceforge_landmarks"
    bl_label = "Detect"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.faceforge.landmarks
        layout.prop(settings, "render_resolution")
        layout.operator("faceforge.detect_landmarks", icon="VIEWZOOM")
        obj = context.active_object
        if obj is not None and obj.type == "MESH":
            lm = obj.faceforge.landmarks
            if len(lm.points):
                box = layout.box()
                box.label(text=f"{len(lm.points)} landmarks ({lm.source.lower()})", icon="CHECKMARK")
                if lm.source == "DETECTED":
                    box.label(text=f"Face looking {lm.view_axis}, score {lm.score:.2f}")
                box.operator("faceforge.clear_landmarks", icon="X")
            else:
                layout.label(text="No landmarks on this mesh yet", icon="INFO")


classes = (VIEW3D_PT_faceforge_landmarks_detect,)
