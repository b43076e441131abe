"""Rig operators: generate / transfer ARKit shape keys, test pose, contact sheet."""

import os

import bpy

from ..api import shape_keys as api_keys
from ..api.character import arkit_keys
from .base import FaceForgeOperator, active_mesh


class _WithLandmarks(FaceForgeOperator):
    @classmethod
    def why_not(cls, context):
        if not len(context.active_object.faceforge.landmarks.points):
            return "This mesh has no landmarks yet: run 1 Landmarks > Detect first"
        return None


class FACEFORGE_OT_generate_shape_keys(_WithLandmarks, bpy.types.Operator):
    """Generate the 52 ARKit shape keys on the selected face mesh from its landmarks"""

    bl_idname = "faceforge.generate_shape_keys"
    bl_label = "Generate Shape Keys"
    job_label = "Generate shape keys"

    def invoke(self, context, event):
        settings = context.scene.faceforge.rig
        have = arkit_keys(context.active_object)
        if have and settings.replace_existing and not bpy.app.background:
            return context.window_manager.invoke_confirm(self, event)
        return super().invoke(context, event)

    def make_job(self, context):
        settings = context.scene.faceforge.rig
        obj = active_mesh(context)
        return api_keys.generate_shape_keys_job(obj, intensity=settings.intensity,
                                                scales=api_keys.parse_scales(obj.faceforge.rig.shape_scales),
                                                replace=settings.replace_existing, source=settings.source)

    def report_result(self, context, result):
        msg = f"{len(result['generated'])} ARKit shape keys on '{result['object']}'"
        if result["notes"]:
            msg += "; " + "; ".join(result["notes"])
        self.report({"INFO"}, msg)


class FACEFORGE_OT_transfer_shape_keys(_WithLandmarks, bpy.types.Operator):
    """Transfer ARKit shape keys from a reference head (which has them) onto the selected mesh"""

    bl_idname = "faceforge.transfer_shape_keys"
    bl_label = "Transfer from Reference"
    job_label = "Transfer shape keys"

    @classmethod
    def why_not(cls, context):
        if reason := super().why_not(context):
            return reason
        ref = bpy.data.objects.get(context.scene.faceforge.rig.reference)
        if ref is None or ref.type != "MESH":
            return "Pick a Reference Head (a mesh with ARKit shape keys and landmarks)"
        return None

    def make_job(self, context):
        settings = context.scene.faceforge.rig
        return api_keys.transfer_shape_keys_job(active_mesh(context), bpy.data.objects[settings.reference],
                                                replace=settings.replace_existing)

    def report_result(self, context, result):
        self.report({"INFO"}, f"{len(result['transferred'])} shape keys from '{result['reference']}'")


class FACEFORGE_OT_reset_pose(FaceForgeOperator, bpy.types.Operator):
    """Set every ARKit shape key back to 0"""

    bl_idname = "faceforge.reset_pose"
    bl_label = "Reset Pose"

    def run(self, context):
        api_keys.reset_pose(context.active_object)


class FACEFORGE_OT_contact_sheet(FaceForgeOperator, bpy.types.Operator):
    """Render every ARKit shape of the selected mesh into one labelled PNG grid"""

    bl_idname = "faceforge.contact_sheet"
    bl_label = "Contact Sheet"
    bl_options = {"REGISTER"}
    job_label = "Contact sheet"

    @classmethod
    def why_not(cls, context):
        if context.active_object.data.shape_keys is None:
            return "This mesh has no shape keys yet: Generate Shape Keys first"
        return None

    def make_job(self, context):
        from ..api import contact_sheet

        out = bpy.path.abspath(context.scene.faceforge.deliver.output_dir) or "//"
        obj = active_mesh(context)
        return contact_sheet.contact_sheet_job(obj, os.path.join(out, f"{obj.name}_shapes.png"))

    def report_result(self, context, result):
        self.report({"INFO"}, f"{result['shapes']} shapes -> {result['path']}")


classes = (FACEFORGE_OT_generate_shape_keys, FACEFORGE_OT_transfer_shape_keys, FACEFORGE_OT_reset_pose,
           FACEFORGE_OT_contact_sheet)
