"""Face armature operators: thin wrappers over ``api.armature``."""

import bpy

from ..api import armature as api_armature
from .base import FaceForgeOperator, active_mesh


class FACEFORGE_OT_generate_armature(FaceForgeOperator, bpy.types.Operator):
    """Place a face armature (root, neck, head, jaw, eyes, tongue) from the landmarks and skin the selected meshes to it with automatic weights"""

    bl_idname = "faceforge.generate_armature"
    bl_label = "Generate Face Armature"
    job_label = "Generate armature"

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


class FACEFORGE_OT_reset_face_pose(FaceForgeOperator, bpy.types.Operator):
    """Put the face rig's bones back to rest and every ARKit shape value (and test-pose slider) to 0"""

    bl_idname = "faceforge.reset_face_pose"
    bl_label = "Reset Pose"
    needs = "IDLE"

    @classmethod
    def why_not(cls, context):
        arm, meshes = api_armature.rig_and_meshes(context.active_object)
        return "Select the face mesh or its face rig" if arm is None and not meshes else None

    def run(self, context):
        api_armature.reset_pose(context.active_object)


classes = (FACEFORGE_OT_generate_armature, FACEFORGE_OT_reset_face_pose)
