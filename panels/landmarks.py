"""Landmarks stage: detect, edit (mirrored), manual fit, face from photo."""

import bpy

from .stages import LandmarksPanel


class VIEW3D_PT_faceforge_landmarks_detect(LandmarksPanel, bpy.types.Panel):
    bl_label = "Detect"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.faceforge.landmarks
        layout.prop(settings, "render_resolution")
        layout.prop(settings, "symmetric")
        layout.operator("faceforge.detect_landmarks", icon="VIEWZOOM")
        obj = context.active_object
        if obj is not None and obj.type == "MESH":
            lm = obj.faceforge.landmarks
            if len(lm.points):
                box = layout.box()
                box.label(text=f"{len(lm.points)} landmarks ({lm.source.lower()})", icon="CHECKMARK")
                if lm.source == "DETECTED":
                    box.label(text=f"Face looking {lm.view_axis}, score {lm.score:.2f}"
                                   + (", made symmetric" if lm.symmetric else ""))
                box.operator("faceforge.clear_landmarks", icon="X")
            else:
                layout.label(text="No landmarks on this mesh yet", icon="INFO")


class VIEW3D_PT_faceforge_landmarks_edit(LandmarksPanel, bpy.types.Panel):
    bl_label = "Edit"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene.faceforge.landmarks, "mirror_edits")
        row = layout.row(align=True)
        row.operator("faceforge.edit_landmarks", icon="EMPTY_DATA")
        row.operator("faceforge.apply_landmark_edits", icon="CHECKMARK")
        layout.operator("faceforge.cancel_landmark_edits", icon="LOOP_BACK")
        layout.label(text="No face found? Place key points by hand:")
        row = layout.row(align=True)
        row.operator("faceforge.place_key_points", icon="PLUS")
        row.operator("faceforge.fit_landmarks_manual", icon="MOD_MESHDEFORM")


class VIEW3D_PT_faceforge_landmarks_photo(LandmarksPanel, bpy.types.Panel):
    bl_label = "Face from Photo"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene.faceforge.landmarks, "photo_path", text="")
        layout.operator("faceforge.face_from_photo", icon="IMAGE_DATA")


classes = (VIEW3D_PT_faceforge_landmarks_detect, VIEW3D_PT_faceforge_landmarks_edit,
           VIEW3D_PT_faceforge_landmarks_photo)
