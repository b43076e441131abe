"""Deliver sub-panels: Export, Preview, Live Link Face CSV."""

import bpy

from .stages import DeliverPanel, settings_layout


def _takes_label(obj) -> str:
    from ..api.export import find_takes

    if obj is None or obj.type != "MESH":
        return "Select the face mesh"
    takes = find_takes(obj)
    if not takes:
        return "No baked take yet"
    return f"{len(takes)} take(s): " + ", ".join(a.name for a in takes[:3]) + ("..." if len(takes) > 3 else "")


def _draw_last_output(layout, s):
    """The last file written, with buttons to play/open it and to open its folder."""
    import os

    if not s.last_output:
        return
    box = layout.box()
    box.label(text=os.path.basename(s.last_output), icon="FILE_MOVIE" if s.last_output.endswith(".mp4") else "FILE")
    row = box.row(align=True)
    row.operator("wm.path_open", text="Open", icon="PLAY").filepath = s.last_output
    row.operator("wm.path_open", text="Folder", icon="FILE_FOLDER").filepath = os.path.dirname(s.last_output)


class VIEW3D_PT_faceforge_deliver_export(DeliverPanel, bpy.types.Panel):
    bl_label = "Export"
    bl_order = 0

    def draw(self, context):
        s = context.scene.faceforge.deliver
        layout = settings_layout(self.layout, s, ("output_dir", "export_format", "export_preset", "export_takes",
                                                  "export_motion", "export_unit"))
        if s.export_format != "FBX":
            layout.prop(s, "morph_normals")
        layout.prop(s, "opaque_materials")
        layout.label(text=_takes_label(context.active_object), icon="ACTION")
        row = layout.row(heading="Clip Frames")
        row.prop(s, "use_frame_range", text="")
        sub = row.row(align=True)
        sub.active = s.use_frame_range
        sub.prop(s, "frame_first", text="")
        sub.prop(s, "frame_last", text="")
        layout.operator("faceforge.export", icon="EXPORT")
        _draw_last_output(layout, s)


class VIEW3D_PT_faceforge_deliver_preview(DeliverPanel, bpy.types.Panel):
    bl_label = "Preview Video"
    bl_order = 1

    def draw(self, context):
        s = context.scene.faceforge.deliver
        layout = settings_layout(self.layout, s, ("preview_beside", "preview_engine", "preview_size"))
        layout.operator("faceforge.render_preview", icon="RENDER_ANIMATION")
        _draw_last_output(layout, s)


class VIEW3D_PT_faceforge_deliver_livelink(DeliverPanel, bpy.types.Panel):
    bl_label = "Live Link Face CSV"
    bl_order = 2
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = settings_layout(self.layout, context.scene.faceforge.deliver,
                                 ("livelink_csv", "livelink_fps", "livelink_rows_fps", "livelink_head"))
        row = layout.row(align=True)
        row.operator("faceforge.livelink_import", icon="IMPORT")
        row.operator("faceforge.livelink_export", icon="EXPORT")


classes = (VIEW3D_PT_faceforge_deliver_export, VIEW3D_PT_faceforge_deliver_preview,
           VIEW3D_PT_faceforge_deliver_livelink)
