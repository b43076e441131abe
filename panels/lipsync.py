"""Animate > Speech: lip sync from an audio file."""

import bpy

from .stages import AnimatePanel


class VIEW3D_PT_faceforge_animate_lipsync(AnimatePanel, bpy.types.Panel):
    bl_label = "Speech"
    bl_options = {"DEFAULT_CLOSED"}

    def draw_header(self, context):
        self.layout.label(text="", icon="SPEAKER")

    def draw(self, context):
        settings = context.scene.faceforge.animate
        s = settings.lipsync
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(s, "audio_path")
        layout.prop(s, "transcript")
        layout.prop(s, "use_sidecar_transcript")
        layout.prop(s, "method")
        layout.prop(s, "intensity", slider=True)
        col = layout.column(heading="Take")
        col.prop(settings, "start_frame")
        col.prop(settings, "replace_action")
        col.prop(s, "add_sound")
        layout.operator("faceforge.lipsync", icon="SPEAKER")
        if s.last_result:
            box = layout.box()
            box.use_property_split = False
            col = box.column(align=True)
            for k, part in enumerate(s.last_result.split("; ")):
                col.label(text=part, icon="INFO" if k == 0 else "BLANK1")


classes = (VIEW3D_PT_faceforge_animate_lipsync,)
