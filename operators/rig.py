"""Rig operators: generate / transfer the 52 ARKit shape keys, contact sheet, test-pose helpers."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..api import shape_keys
from ..core.arkit import ARKIT_NAMES, mirror_name
from .base import JobOperator, active_mesh, poll_active_mesh


def _report_keys(op, result):
    msg = f"{len(result['keys'])} ARKit shape keys on the mesh"
    notes = list(result.get("notes", []))
    if notes:
        msg += " (" + "; ".join(notes) + ")"
    op.report({"INFO"}, msg)


class FACEFORGE_OT_generate_shape_keys(JobOperator, bpy.types.Operator):
    """Generate the 52 ARKit shape keys on the active face mesh from its landmarks"""

    bl_idname = "faceforge.generate_shape_keys"
    bl_label = "Generate Shape Keys"
    job_label = "Generating shape keys"
    replace: BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def invoke(self, context, event):
        obj = active_mesh(context)
        if obj is not None and shape_keys.faceforge_keys(obj) and not bpy.app.background:
            if not (context.scene.faceforge.rig.replace_existing or self.replace):
                self.replace = True  # confirmed -> execute() replaces
                return context.window_manager.invoke_confirm(
                    self, event, title="Replace FaceForge's shape keys?",
                    message="The mesh already has FaceForge's ARKit keys; your other keys stay.",
                    confirm_text="Replace")
        return super().invoke(context, event)

    def make_job(self, context):
        s = context.scene.faceforge.rig
        return shape_keys.generate_shape_keys_job(active_mesh(context), intensity=s.intensity,
                                                  replace=s.replace_existing or self.replace)

    def report_result(self, context, result):
        _report_keys(self, result)


class FACEFORGE_OT_transfer_shape_keys(JobOperator, bpy.types.Operator):
    """Transfer the ARKit shape keys of a reference head onto the active mesh"""

    bl_idname = "faceforge.transfer_shape_keys"
    bl_label = "Transfer Shape Keys"
    job_label = "Transferring shape keys"

    @classmethod
    def poll(cls, context):
        if not poll_active_mesh(cls, context):
            return False
        if context.scene.faceforge.rig.reference is None:
            cls.poll_message_set("Pick a Reference Head that has ARKit shape keys first")
            return False
        return True

    def make_job(self, context):
        s = context.scene.faceforge.rig
        return shape_keys.transfer_shape_keys_job(active_mesh(context), s.reference, replace=s.replace_existing)

    def report_result(self, context, result):
        _report_keys(self, result)


class FACEFORGE_OT_contact_sheet(JobOperator, bpy.types.Operator):
    """Render every ARKit shape of the active mesh into one labelled PNG grid"""

    bl_idname = "faceforge.contact_sheet"
    bl_label = "Contact Sheet"
    bl_options = {"REGISTER"}
    job_label = "Rendering contact sheet"

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def make_job(self, context):
        s = context.scene.faceforge.rig
        return shape_keys.contact_sheet_job(active_mesh(context), bpy.path.abspath(s.sheet_path),
                                            size=s.sheet_tile)

    def report_result(self, context, result):
        self.report({"INFO"}, f"Contact sheet of {result['shapes']} shapes: {result['path']}")


class FACEFORGE_OT_reset_pose(bpy.types.Operator):
    """Set every ARKit shape key of the active mesh back to 0"""

    bl_idname = "faceforge.reset_pose"
    bl_label = "Reset Pose"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def execute(self, context):
        obj = active_mesh(context)
        for name in shape_keys.arkit_keys(obj):
            obj.data.shape_keys.key_blocks[name].value = 0.0
        return {"FINISHED"}


class FACEFORGE_OT_mirror_pose(bpy.types.Operator):
    """Copy a shape key's value to its left/right twin"""

    bl_idname = "faceforge.mirror_pose"
    bl_label = "Mirror Pose"
    bl_options = {"REGISTER", "UNDO"}
    name: StringProperty(name="Shape", description="ARKit shape to copy to its twin ('' = all Left to Right)")

    @classmethod
    def poll(cls, context):
        return poll_active_mesh(cls, context)

    def execute(self, context):
        obj = active_mesh(context)
        keys = obj.data.shape_keys.key_blocks if obj.data.shape_keys else {}
        names = [self.name] if self.name else [n for n in ARKIT_NAMES if n.endswith("Left")]
        for n in names:
            twin = mirror_name(n)
            if n in keys and twin in keys and twin != n:
                keys[twin].value = keys[n].value
        return {"FINISHED"}


classes = (FACEFORGE_OT_generate_shape_keys, FACEFORGE_OT_transfer_shape_keys, FACEFORGE_OT_contact_sheet,
           FACEFORGE_OT_reset_pose, FACEFORGE_OT_mirror_pose)
