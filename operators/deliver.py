"""Deliver operators: export, preview, Live Link Face CSV in and out."""

from __future__ import annotations

import os

import bpy

from ..core.errors import FaceForgeError
from ..core import paths
from ..core.paths import safe_filename
from .base import FaceForgeOperator


def output_dir(context) -> str:
    """The Output Folder as an absolute path (needs a saved file for '//' paths)."""
    raw = context.scene.faceforge.deliver.output_dir or "//faceforge_out/"
    if raw.startswith("//") and not bpy.data.filepath:
        raise FaceForgeError("Save the .blend file first, or set an absolute Output Folder in Deliver")
    return paths.check_output_dir(os.path.abspath(bpy.path.abspath(raw)), "The Output Folder")


def _clip(s):
    """The Deliver panel's frame range, or None (each take's own)."""
    return (s.frame_first, s.frame_last) if s.use_frame_range else None


def _current_take(obj):
    key = obj.data.shape_keys
    return key.animation_data.action if key is not None and key.animation_data else None


def _report(op, context, result, line: str, output=None) -> None:
    """The result's warnings, then ``line``; ``output`` becomes the panel's Last Output."""
    for w in getattr(result, "warnings", ()):
        op.report({"WARNING"}, w)
    if output is not None:
        context.scene.faceforge.deliver.last_output = str(output)
    op.report({"INFO"}, line)


class FACEFORGE_OT_export(FaceForgeOperator, bpy.types.Operator):
    """Export the face with its 52 ARKit shape keys, armature and baked takes for a game engine"""

    bl_idname = "faceforge.export"
    bl_label = "Export Character"
    job_label = "Export"

    def make_job(self, context):
        from ..api import export

        s = context.scene.faceforge.deliver
        obj = context.active_object
        path = os.path.join(output_dir(context), f"{safe_filename(obj.name)}.{s.export_format.lower()}")
        return export.export_job(obj, path, s.export_format, s.export_preset, _clip(s), s.export_takes,
                                 morph_normals=s.morph_normals)

    def report_result(self, context, result):
        names = ", ".join(p.name for p in result.files)
        _report(self, context, result, f"Exported {len(result.takes)} take(s) to {names} in {result.path.parent}",
                output=result.path)


class FACEFORGE_OT_render_preview(FaceForgeOperator, bpy.types.Operator):
    """Render a preview video of the current take (with the driving video or audio beside it)"""

    bl_idname = "faceforge.render_preview"
    bl_label = "Render Preview"
    job_label = "Preview"

    def make_job(self, context):
        from ..api import preview

        s = context.scene.faceforge.deliver
        obj = context.active_object
        action = _current_take(obj)
        name = safe_filename(f"{obj.name}_{action.name}" if action is not None else obj.name)
        return preview.render_preview_job(obj, os.path.join(output_dir(context), f"{name}_preview.mp4"),
                                          _clip(s), s.preview_beside or None, size=s.preview_size,
                                          engine=s.preview_engine)

    def report_result(self, context, result):
        _report(self, context, result, f"Preview: {result.path} ({result.frames} frames, {result.engine.title()})",
                output=result.path)


class FACEFORGE_OT_livelink_import(FaceForgeOperator, bpy.types.Operator):
    """Bake a Live Link Face CSV onto the face's ARKit shape keys as a new take"""

    bl_idname = "faceforge.livelink_import"
    bl_label = "Import Live Link CSV"
    job_label = "Live Link import"

    def make_job(self, context):
        from ..api import livelink

        s = context.scene.faceforge.deliver
        if not s.livelink_csv:
            raise FaceForgeError("Choose a Live Link Face CSV file first")
        animate = context.scene.faceforge.animate
        return livelink.import_livelink_job(context.active_object, bpy.path.abspath(s.livelink_csv),
                                            start_frame=animate.start_frame, fps=s.livelink_fps or None,
                                            replace=animate.replace_action)

    def report_result(self, context, result):
        _report(self, context, result, f"Baked '{result.action}': frames {result.frame_start}-{result.frame_end} "
                                       f"(CSV at {result.source_fps:g} fps)")


class FACEFORGE_OT_livelink_export(FaceForgeOperator, bpy.types.Operator):
    """Write the current take as a Live Link Face CSV (for Unreal's importer or other tools)"""

    bl_idname = "faceforge.livelink_export"
    bl_label = "Export Live Link CSV"
    bl_options = {"REGISTER"}
    job_label = "Live Link export"

    def run(self, context):
        from ..api import livelink

        obj = context.active_object
        action = _current_take(obj)
        if action is None:
            raise FaceForgeError(f"'{obj.name}' has no current take to export")
        path = os.path.join(output_dir(context), safe_filename(action.name) + ".csv")
        return livelink.export_livelink(obj, path, action=action)

    def report_result(self, context, result):
        _report(self, context, None, f"Wrote {result}", output=result)


classes = (FACEFORGE_OT_export, FACEFORGE_OT_render_preview, FACEFORGE_OT_livelink_import,
           FACEFORGE_OT_livelink_export)
