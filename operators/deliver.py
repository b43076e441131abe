"""Deliver operators: export, preview, Live Link Face CSV in and out - from the sidebar and from
File > Import / Export (file-browser versions of the same calls, with Blender's operator presets)."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..core.errors import FaceForgeError
from ..core import paths
from ..core.paths import safe_filename
from ..properties import deliver as props
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
                                 morph_normals=s.morph_normals, motion=s.export_motion, unit=s.export_unit,
                                 opaque=s.opaque_materials)

    def report_result(self, context, result):
        _report_export(self, context, result)


def _report_export(op, context, result):
    for note in result.notes:
        op.report({"INFO"}, note)
    names = ", ".join(p.name for p in result.files)
    _report(op, context, result, f"Exported {len(result.takes)} take(s) to {names} in {result.path.parent}",
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
                                            replace=animate.replace_action, head=s.livelink_head)

    def report_result(self, context, result):
        _report_import(self, context, result)


def _report_import(op, context, result):
    bones = f"; rotations keyed on {', '.join(result.rotations)}" if result.rotations else ""
    _report(op, context, result, f"Baked '{result.action}': frames {result.frame_start}-{result.frame_end} "
                                 f"(CSV at {result.source_fps:g} fps{bones})")


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
        s = context.scene.faceforge.deliver
        return livelink.export_livelink(obj, path, action=action, fps=s.livelink_rows_fps or None,
                                        head=s.livelink_head)

    def report_result(self, context, result):
        _report(self, context, None, f"Wrote {result}", output=result)


# --- File > Import / Export ------------------------------------------------------------------
# The same calls through Blender's file browser.  They run to the end before returning (as
# Blender's own importers and exporters do); the sidebar buttons run them as cancellable jobs.

class _FileOperator(FaceForgeOperator):
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    def invoke(self, context, event):
        self._defaults(context)
        helper = next(b for b in type(self).__mro__ if b in (ExportHelper, ImportHelper))
        return helper.invoke(self, context, event)  # the file browser

    def _defaults(self, context):
        pass


def _ext(fmt: str) -> str:
    return {"GLB": ".glb", "GLTF": ".gltf", "FBX": ".fbx"}[fmt]


class FACEFORGE_OT_export_file(_FileOperator, bpy.types.Operator, ExportHelper):
    """Export the face with its 52 ARKit shape keys, armature and takes for a game engine
    (FaceForge's engine presets; jaw and eyes moved once; metres)"""

    bl_idname = "faceforge.export_file"
    bl_label = "Export FaceForge Character"
    job_label = "Export"
    filename_ext = ".glb"
    filter_glob: StringProperty(default="*.glb;*.gltf;*.fbx", options={"HIDDEN"})
    export_format: EnumProperty(name="Format", items=props.FORMAT_ITEMS, default="GLB")
    export_preset: EnumProperty(name="Engine", items=props.PRESET_ITEMS, default="DEFAULT")
    export_takes: EnumProperty(name="Takes", items=props.TAKES_ITEMS, default="ALL")
    export_motion: EnumProperty(name="Jaw & Eyes", items=props.MOTION_ITEMS, default="AUTO")
    export_unit: EnumProperty(name="Unit", items=props.UNIT_ITEMS, default="AUTO")
    morph_normals: BoolProperty(name="Morph Normals", default=True,
                                description="glTF: each shape key's normals (off: much smaller files)")
    opaque_materials: BoolProperty(name="Opaque Materials", default=False,
                                   description="Write fully transmissive materials with Transmission 0")

    def _defaults(self, context):
        s = context.scene.faceforge.deliver
        for name in ("export_format", "export_preset", "export_takes", "export_motion", "export_unit",
                     "morph_normals", "opaque_materials"):
            if not self.properties.is_property_set(name):
                setattr(self, name, getattr(s, name))
        if not self.filepath and context.active_object is not None:
            self.filepath = safe_filename(context.active_object.name) + _ext(self.export_format)

    def check(self, context):
        self.filename_ext = _ext(self.export_format)
        return ExportHelper.check(self, context)

    def make_job(self, context):
        from ..api import export

        return export.export_job(context.active_object, bpy.path.abspath(self.filepath), self.export_format,
                                 self.export_preset, None, self.export_takes, morph_normals=self.morph_normals,
                                 motion=self.export_motion, unit=self.export_unit, opaque=self.opaque_materials)

    def report_result(self, context, result):
        _report_export(self, context, result)


class FACEFORGE_OT_import_livelink_file(_FileOperator, bpy.types.Operator, ImportHelper):
    """Bake a Live Link Face CSV (iPhone app) onto the selected face as a new take: its ARKit shape
    keys, and the head/eye rotations on its face rig"""

    bl_idname = "faceforge.import_livelink_file"
    bl_label = "Import Live Link Face CSV"
    job_label = "Live Link import"
    filename_ext = ".csv"
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})
    fps: IntProperty(name="CSV fps", default=0, min=0, max=240,
                     description="The CSV's timecode frame rate (0: read it from the timecodes)")
    start_frame: IntProperty(name="Start Frame", default=1, description="First frame of the baked take")
    head: BoolProperty(name="Head & Eyes", default=True, description="Key the head/eye rotation columns on the rig")

    def make_job(self, context):
        from ..api import livelink

        return livelink.import_livelink_job(context.active_object, bpy.path.abspath(self.filepath),
                                            start_frame=self.start_frame, fps=self.fps or None, head=self.head)

    def report_result(self, context, result):
        _report_import(self, context, result)


class FACEFORGE_OT_export_livelink_file(_FileOperator, bpy.types.Operator, ExportHelper):
    """Write the face's current take as a Live Link Face CSV (ARKit curves, head and eye rotations)"""

    bl_idname = "faceforge.export_livelink_file"
    bl_label = "Export Live Link Face CSV"
    bl_options = {"REGISTER", "PRESET"}
    job_label = "Live Link export"
    filename_ext = ".csv"
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})
    rows_fps: IntProperty(name="Rows fps", default=0, min=0, max=240,
                          description="Rows per second (0: one per frame of the take; 60: resampled)")
    head: BoolProperty(name="Head & Eyes", default=True, description="Write the head/eye rotations")

    @classmethod
    def why_not(cls, context):
        if _current_take(context.active_object) is None:
            return f"'{context.active_object.name}' has no current take to export"
        return None

    def _defaults(self, context):
        if not self.filepath:
            self.filepath = safe_filename(_current_take(context.active_object).name) + ".csv"

    def run(self, context):
        from ..api import livelink

        obj = context.active_object
        return livelink.export_livelink(obj, bpy.path.abspath(self.filepath), action=_current_take(obj),
                                        fps=self.rows_fps or None, head=self.head)

    def report_result(self, context, result):
        _report(self, context, None, f"Wrote {result}", output=result)


def menu_import(self, context):
    self.layout.operator(FACEFORGE_OT_import_livelink_file.bl_idname, text="Live Link Face CSV (.csv)")


def menu_export(self, context):
    self.layout.operator(FACEFORGE_OT_export_file.bl_idname, text="FaceForge Character (.glb/.fbx)")
    self.layout.operator(FACEFORGE_OT_export_livelink_file.bl_idname, text="Live Link Face CSV (.csv)")


MENUS = ((bpy.types.TOPBAR_MT_file_import, menu_import), (bpy.types.TOPBAR_MT_file_export, menu_export))

classes = (FACEFORGE_OT_export, FACEFORGE_OT_render_preview, FACEFORGE_OT_livelink_import,
           FACEFORGE_OT_livelink_export, FACEFORGE_OT_export_file, FACEFORGE_OT_import_livelink_file,
           FACEFORGE_OT_export_livelink_file)
