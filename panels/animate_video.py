"""Animate stage: driving video / single image."""

import bpy

from .stages import AnimatePanel, settings_layout


class VIEW3D_PT_faceforge_animate_video(AnimatePanel, bpy.types.Panel):
    bl_label = "Video & Image"
    bl_order = 0

    def draw(self, context):
        a = context.scene.faceforge.animate
        v = a.video
        layout = settings_layout(self.layout)
        col = layout.column()
        col.prop(v, "path")
        col.prop(v, "smoothing", slider=True)
        col.prop(v, "neutral_mode", expand=True)
        if v.neutral_mode == "FRAME":
            row = col.row(align=True)
            row.prop(v, "neutral_frame")
            row.operator("faceforge.video_neutral_from_frame", text="", icon="EYEDROPPER")
        elif v.last_neutral_frame >= 0:
            col.label(text=f"Neutral used: video frame {v.last_neutral_frame}", icon="INFO")
        col.prop(v, "use_range")
        if v.use_range:
            row = col.row(align=True)
            row.prop(v, "range_first")
            row.prop(v, "range_last")
        col.prop(a, "start_frame")
        col.prop(a, "replace_action")
        col.prop(v, "head_rotation")
        col.prop(v, "eye_rotation")
        col.prop(v, "add_reference")
        layout.operator("faceforge.animate_from_video", icon="SEQUENCE")
        if v.last_summary:
            box = layout.box()
            for line in v.last_summary.split("; "):
                box.label(text=line)
        layout.separator()
        col = layout.column()
        col.prop(v, "image_path")
        col.prop(v, "image_neutral_path")
        col.prop(v, "key_image")
        layout.operator("faceforge.animate_from_image", icon="IMAGE_DATA")


classes = (VIEW3D_PT_faceforge_animate_video,)
