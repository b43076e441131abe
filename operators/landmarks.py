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
        return api_landmarks.detect_landmarks_job(active_mesh(context), resolution=settings.render_resolution)

    def report_result(self, context, result):
        self.report({"INFO"}, f"{result['landmarks']} landmarks on '{result['object']}' "
                              f"(face looking {result['view']}, score {result['score']:.2f})")


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


classes = (FACEFORGE_OT_detect_landmarks, FACEFORGE_OT_clear_landmarks)
