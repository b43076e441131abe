"""Face armature operators: thin wrappers over ``api.armature``."""

import bpy

from ..api import armature as api_armature
from .base import JobOperator, active_mesh, poll_active_mesh, poll_not_busy


class FACEFORGE_OT_generate_armature(JobOperator, bpy.types.Operator):
    """Place a face armature (root, neck, head, jaw, eyes, tongue) from the landmarks and skin the selected meshes to it with automatic weights"""

    bl_idname = "faceforge.generate_armature"
    bl_label = "Generate Face Armature"
    job_label = "Generate armature"

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def make_job(self, context):
        settings = context.scene.faceforge.armature
        face = active_mesh(context)
        others = [o for o in context.selected_objects if o.type == "MESH" and o is not face]
        return api_armature.generate_armature_job([face, *others], mode=settings.mode)

    def report_result(self, context, result):
        msg = (f"'{result['armature']}': {len(result['bones'])} bones on {len(result['objects'])} object(s), "
               f"eyes from {result['eyes']}")
        if result["driven"]:
            how = "driven by" if result["mode"] == "BONES" else "held for"
            msg += f"; {', '.join(result['driven'])} {how} the shape keys"
        self.report({"INFO"}, msg)
        for note in result["notes"]:
            self.report({"WARNING"}, note)


def _poll_face(cls, context):
    if not poll_not_busy(cls, context):
        return False
    arm, meshes = api_armature.rig_and_meshes(context.active_object)
    if arm is None and not meshes:
        cls.poll_message_set("Select the face mesh or its face rig")
        return False
    return True


class FACEFORGE_OT_reset_face_pose(bpy.types.Operator):
    """Put the face rig's bones back to rest and every ARKit shape value (and test-pose slider) to 0"""

    bl_idname = "faceforge.reset_face_pose"
    bl_label = "Reset Pose"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_face(cls, context)

    def execute(self, context):
        api_armature.reset_pose(context.active_object)
        return {"FINISHED"}


classes = (FACEFORGE_OT_generate_armature, FACEFORGE_OT_reset_face_pose)
