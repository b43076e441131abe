"""Landmark operators: thin wrappers over ``api.landmarks``."""

import bpy

from ..api import landmarks as api_landmarks
from .base import JobOperator, active_mesh, poll_active_mesh


class FACEFORGE_OT_detect_landmarks(JobOperator, bpy.types.Operator):
    """Render the selected mesh, find the face with MediaPipe and bind 478 landmarks to its surface"""

    bl_idname = "faceforge.detect_landmarks"
    bl_label = "Detect Landmarks"
    job_label = "Detect landmarks"

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def make_job(self, context):
        settings = context.scene.faceforge.landmarks
        return api_landmarks.detect_landmarks_job(active_mesh(context), resolution=settings.render_resolution,
                                                  symmetric=settings.symmetric)

    def report_result(self, context, result):
        mirrored = ", made symmetric" if result["symmetric"] else ""
        self.report({"INFO"}, f"{result['landmarks']} landmarks on '{result['object']}' "
                              f"(face looking {result['view']}, score {result['score']:.2f}{mirrored})")


class FACEFORGE_OT_clear_landmarks(bpy.types.Operator):
    """Remove the landmarks bound to the selected mesh"""

    bl_idname = "faceforge.clear_landmarks"
    bl_label = "Clear Landmarks"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not poll_active_mesh(cls, context):
            return False
        if not len(context.active_object.faceforge.landmarks.points):
            cls.poll_message_set("This mesh has no landmarks")
            return False
        return True

    def execute(self, context):
        lm = context.active_object.faceforge.landmarks
        lm.points.clear()
        lm.source, lm.score, lm.view_axis = "NONE", 0.0, ""
        return {"FINISHED"}


class _SimpleMeshOp:
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def target(self, context):
        return active_mesh(context)

    def execute(self, context):
        from ..core.errors import FaceForgeError

        try:
            msg = self.run(context, self.target(context))
        except FaceForgeError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        if msg:
            self.report({"INFO"}, msg)
        return {"FINISHED"}


def _owner(context):
    """The mesh being edited: the active mesh, or the owner of the active edit empty."""
    obj = context.active_object
    if obj is not None and obj.type == "EMPTY" and "faceforge_owner" in obj:
        return bpy.data.objects.get(obj["faceforge_owner"])
    return obj if obj is not None and obj.type == "MESH" else None


class _EditOp(_SimpleMeshOp):
    @classmethod
    def poll(cls, context):
        if _owner(context) is None:
            cls.poll_message_set("Select the face mesh (or one of its landmark empties)")
            return False
        return True

    def target(self, context):
        return _owner(context)


class FACEFORGE_OT_edit_landmarks(_SimpleMeshOp, bpy.types.Operator):
    """Show the landmarks as small empties you can move; then Apply (snaps them to the surface)"""

    bl_idname = "faceforge.edit_landmarks"
    bl_label = "Edit Landmarks"

    def run(self, context, obj):
        n = api_landmarks.begin_edit(obj)
        return f"{n} landmark empties: move them, then Apply Edits"


class FACEFORGE_OT_apply_landmark_edits(_EditOp, bpy.types.Operator):
    """Snap the moved landmark empties to the surface and store them (mirrored if Mirror is on)"""

    bl_idname = "faceforge.apply_landmark_edits"
    bl_label = "Apply Edits"

    def run(self, context, obj):
        mirror = context.scene.faceforge.landmarks.mirror_edits
        moved = api_landmarks.apply_edit(obj, mirror=mirror)
        return f"{moved} landmarks moved" + (" (and their mirror twins)" if mirror else "")


class FACEFORGE_OT_cancel_landmark_edits(_EditOp, bpy.types.Operator):
    """Drop the landmark empties; the landmarks stay as they were"""

    bl_idname = "faceforge.cancel_landmark_edits"
    bl_label = "Reset Edits"

    def run(self, context, obj):
        api_landmarks.cancel_edit(obj)
        return "Landmark edits discarded"


class FACEFORGE_OT_place_key_points(_SimpleMeshOp, bpy.types.Operator):
    """For faces MediaPipe can't find (cartoons, creatures): add 8 key-point empties to snap onto the face"""

    bl_idname = "faceforge.place_key_points"
    bl_label = "Place Key Points"

    def run(self, context, obj):
        names = api_landmarks.place_key_points(obj)
        return f"Move the {len(names)} key points (eye and mouth corners, nose tip, chin), then Fit Template"


class FACEFORGE_OT_fit_landmarks_manual(_EditOp, bpy.types.Operator):
    """Fit all 478 landmarks to the key points you placed and bind them to the surface"""

    bl_idname = "faceforge.fit_landmarks_manual"
    bl_label = "Fit Template"

    def run(self, context, obj):
        r = api_landmarks.fit_manual(obj)
        return f"{r['landmarks']} landmarks fitted to {r['key_points']} key points"


class FACEFORGE_OT_face_from_photo(JobOperator, bpy.types.Operator):
    """Build a textured 3D face mesh from one photo, landmarks already bound"""

    bl_idname = "faceforge.face_from_photo"
    bl_label = "Face from Photo"
    job_label = "Face from photo"

    @classmethod
    def poll(cls, context):
        from .base import poll_not_busy

        if not poll_not_busy(cls, context):
            return False
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode first")
            return False
        return True

    def make_job(self, context):
        from ..api import photo_face

        return photo_face.face_from_photo_job(context.scene.faceforge.landmarks.photo_path)

    def report_result(self, context, result):
        self.report({"INFO"}, f"Built '{result['object']}' ({result['vertices']} vertices)"
                    + (f"; {result['note']}" if result["note"] else ""))


classes = (FACEFORGE_OT_detect_landmarks, FACEFORGE_OT_clear_landmarks, FACEFORGE_OT_edit_landmarks,
           FACEFORGE_OT_apply_landmark_edits, FACEFORGE_OT_cancel_landmark_edits,
           FACEFORGE_OT_place_key_points, FACEFORGE_OT_fit_landmarks_manual, FACEFORGE_OT_face_from_photo)
