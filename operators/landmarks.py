"""Landmark operators: thin wrappers over ``api.landmarks``."""

import bpy

from ..api import landmarks as api_landmarks
from .base import FaceForgeOperator, active_mesh


class FACEFORGE_OT_detect_landmarks(FaceForgeOperator, bpy.types.Operator):
    """Render the selected mesh, find the face with MediaPipe and bind 478 landmarks to its surface"""

    bl_idname = "faceforge.detect_landmarks"
    bl_label = "Detect Landmarks"
    job_label = "Detect landmarks"

    def make_job(self, context):
        settings = context.scene.faceforge.landmarks
        return api_landmarks.detect_landmarks_job(active_mesh(context), resolution=settings.render_resolution,
                                                  symmetric=settings.symmetric)

    def report_result(self, context, result):
        mirrored = ", made symmetric" if result["symmetric"] else ""
        self.report({"INFO"}, f"{result['landmarks']} landmarks on '{result['object']}' "
                              f"(face looking {result['view']}, score {result['score']:.2f}{mirrored})"
                    + "".join(f"; {n}" for n in result.get("notes", ())))


class FACEFORGE_OT_clear_landmarks(FaceForgeOperator, bpy.types.Operator):
    """Remove the landmarks bound to the selected mesh"""

    bl_idname = "faceforge.clear_landmarks"
    bl_label = "Clear Landmarks"

    @classmethod
    def why_not(cls, context):
        return None if len(context.active_object.faceforge.landmarks.points) else "This mesh has no landmarks"

    def run(self, context):
        api_landmarks.clear_landmarks(context.active_object)


class _EditOperator(FaceForgeOperator):
    """Works on the active mesh or on the mesh whose landmark empty is active."""

    needs = "IDLE"

    @classmethod
    def why_not(cls, context):
        if api_landmarks.edited_mesh(context.active_object) is None:
            return "Select the face mesh (or one of its landmark empties)"
        return None


class FACEFORGE_OT_edit_landmarks(FaceForgeOperator, bpy.types.Operator):
    """Show the landmarks as small empties you can move; then Apply (snaps them to the surface)"""

    bl_idname = "faceforge.edit_landmarks"
    bl_label = "Edit Landmarks"

    def run(self, context):
        n = api_landmarks.begin_edit(active_mesh(context))
        return f"{n} landmark empties: move them, then Apply Edits"


class FACEFORGE_OT_apply_landmark_edits(_EditOperator, bpy.types.Operator):
    """Snap the moved landmark empties to the surface and store them (mirrored if Mirror is on)"""

    bl_idname = "faceforge.apply_landmark_edits"
    bl_label = "Apply Edits"

    def run(self, context):
        mirror = context.scene.faceforge.landmarks.mirror_edits
        moved = api_landmarks.apply_edit(api_landmarks.edited_mesh(context.active_object), mirror=mirror)
        return f"{moved} landmarks moved" + (" (and their mirror twins)" if mirror else "")


class FACEFORGE_OT_cancel_landmark_edits(_EditOperator, bpy.types.Operator):
    """Drop the landmark empties; the landmarks stay as they were"""

    bl_idname = "faceforge.cancel_landmark_edits"
    bl_label = "Reset Edits"

    def run(self, context):
        api_landmarks.cancel_edit(api_landmarks.edited_mesh(context.active_object))
        return "Landmark edits discarded"


class FACEFORGE_OT_place_key_points(FaceForgeOperator, bpy.types.Operator):
    """For faces MediaPipe can't find (cartoons, creatures): add 8 key-point empties to snap onto the face"""

    bl_idname = "faceforge.place_key_points"
    bl_label = "Place Key Points"

    def run(self, context):
        names = api_landmarks.place_key_points(active_mesh(context))
        return f"Move the {len(names)} key points (eye and mouth corners, nose tip, chin), then Fit Template"


class FACEFORGE_OT_fit_landmarks_manual(_EditOperator, bpy.types.Operator):
    """Fit all 478 landmarks to the key points you placed and bind them to the surface"""

    bl_idname = "faceforge.fit_landmarks_manual"
    bl_label = "Fit Template"

    def run(self, context):
        r = api_landmarks.fit_manual(api_landmarks.edited_mesh(context.active_object))
        return f"{r['landmarks']} landmarks fitted to {r['key_points']} key points"


class FACEFORGE_OT_face_from_photo(FaceForgeOperator, bpy.types.Operator):
    """Build a whole textured head from one photo, with the 52 ARKit keys and the photo's expression as an Action"""

    bl_idname = "faceforge.face_from_photo"
    bl_label = "Face from Photo"
    job_label = "Face from photo"
    needs = "OBJECT_MODE"

    def make_job(self, context):
        from ..api import photo_face

        return photo_face.face_from_photo_job(context.scene.faceforge.landmarks.photo_path)

    def report_result(self, context, result):
        note = f"; {result['note']}" if result["note"] else ""
        self.report({"INFO"}, f"Built '{result['object']}': {result['shape_keys']} ARKit keys, the photo's "
                    f"expression in the Action '{result['action']}'{note}")


classes = (FACEFORGE_OT_detect_landmarks, FACEFORGE_OT_clear_landmarks, FACEFORGE_OT_edit_landmarks,
           FACEFORGE_OT_apply_landmark_edits, FACEFORGE_OT_cancel_landmark_edits,
           FACEFORGE_OT_place_key_points, FACEFORGE_OT_fit_landmarks_manual, FACEFORGE_OT_face_from_photo)
