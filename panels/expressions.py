"""3 Animate > Emotions & Text: presets, prompts (with what they matched), timelines."""

import bpy

from .stages import AnimatePanel


class VIEW3D_PT_faceforge_animate_expressions(AnimatePanel, bpy.types.Panel):
    bl_label = "Emotions & Text"
    bl_order = 30

    def draw(self, context):
        layout = self.layout
        words = context.scene.faceforge.animate.expressions
        settings = context.scene.faceforge.animate

        box = layout.box()
        box.label(text="Emotion", icon="SHAPEKEY_DATA")
        box.prop(words, "emotion", text="")
        box.prop(words, "intensity", slider=True)
        row = box.row(align=True)
        row.prop(words, "blend_with", text="Blend")
        sub = row.row(align=True)
        sub.active = words.blend_with != "NONE"
        sub.prop(words, "blend", text="", slider=True)
        box.prop(words, "key_pose")
        box.operator("faceforge.pose_emotion", icon="CHECKMARK")

        box = layout.box()
        box.label(text="Text Prompt", icon="FONT_DATA")
        box.prop(words, "prompt", text="")
        box.operator("faceforge.pose_from_text", icon="PLAY")
        if words.matches:
            col = box.column(align=True)
            if words.reads_as:
                col.label(text=f"Reads as: {words.reads_as.title()}")
            for line in words.matches.splitlines()[:8]:
                parts = line.split("|", 3)
                if len(parts) < 3:
                    continue
                label, share, negated = parts[0], float(parts[1]), parts[2] == "1"
                clause = parts[3] if len(parts) > 3 else ""
                text = f"{'NOT ' if negated else ''}{label} ({clause})" if clause else label
                col.progress(factor=share, text=f"{text}  {share * 100:.0f}%")

        box = layout.box()
        box.label(text="Timeline", icon="TIME")
        box.row().prop(words, "timeline_source", expand=True)
        if words.timeline_source == "TEXT":
            box.prop(words, "timeline", text="")
        else:
            box.prop(words, "timeline_file", text="")
        row = box.row(align=True)
        row.prop(words, "transition")
        row.prop(settings, "start_frame", text="Start")
        row = box.row(align=True)
        row.prop(words, "life")
        sub = row.row(align=True)
        sub.active = words.life
        sub.prop(words, "seed")
        box.prop(settings, "replace_action")
        box.operator("faceforge.bake_timeline", icon="REC")

        box = layout.box()
        box.label(text="Character Scaling", icon="MODIFIER")
        col = box.column(align=True)
        for prop in ("scale_brows", "scale_eyes", "scale_cheeks", "scale_jaw", "scale_mouth"):
            col.prop(words, prop, slider=True)
        box.operator("faceforge.store_expression_scales", icon="CHECKMARK")
        obj = context.active_object
        stored = obj.faceforge.animate.expression_scales if obj is not None else ()
        if len(stored):
            box.label(text="Stored: " + ", ".join(f"{s.name}: {s.value:g}" for s in stored))

        layout.operator("faceforge.pose_from_diffusion", icon="IMAGE_DATA")


classes = (VIEW3D_PT_faceforge_animate_expressions,)
