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
            msg += f"; shape keys drive {', '.join(result['driven'])}"
        self.report({"INFO"}, msg)
        for note in result["notes"]:
            self.report({"WARNING"}, note)


def _rig(context):
    obj = context.active_object
    if obj is None:
        return None
    if obj.type == "ARMATURE":
        return obj
    return api_armature.rig_of(obj)


class FACEFORGE_OT_reset_pose(bpy.types.Operator):
    """Put every bone of the face rig back to its rest pose"""

    bl_idname = "faceforge.reset_pose"
    bl_label = "Reset Pose"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not poll_not_busy(cls, context):
            return False
        if _rig(context) is None:
            cls.poll_message_set("Select the face rig or a mesh it deforms (Generate Face Armature first)")
            return False
        return True

    def execute(self, context):
        api_armature.reset_pose(_rig(context))
        return {"FINISHED"}


classes = (FACEFORGE_OT_generate_armature, FACEFORGE_OT_reset_pose)
