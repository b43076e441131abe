"""Animate > Speech: lip sync from an audio file."""

import bpy

from .stages import AnimatePanel, settings_layout


class VIEW3D_PT_faceforge_animate_lipsync(AnimatePanel, bpy.types.Panel):
    bl_label = "Speech"
    bl_options = {"DEFAULT_CLOSED"}

    def draw_header(self, context):
        self.layout.label(text="", icon="SPEAKER")

    def draw(self, context):
        settings = context.scene.faceforge.animate
        s = settings.lipsync
        layout = settings_layout(self.layout, s, ("audio_path", "transcript", "use_sidecar_transcript", "method"))
        layout.prop(s, "intensity", slider=True)
        col = layout.column(heading="Take")
        col.prop(settings, "start_frame")
        col.prop(settings, "replace_action")
        col.prop(s, "add_sound")
        row = layout.row(heading="While Speaking", align=True)
        for name in ("blinks", "brows", "head"):
            row.prop(s, name, toggle=True)
        layout.operator("faceforge.lipsync", icon="SPEAKER")
        if s.last_result:
            box = layout.box()
            box.use_property_split = False
            col = box.column(align=True)
            for k, part in enumerate(s.last_result.split("; ")):
                col.label(text=part, icon="INFO" if k == 0 else "BLANK1")


classes = (VIEW3D_PT_faceforge_animate_lipsync,)
