"""Animate from words: emotion presets, text prompts, timelines, optional diffusion."""

from __future__ import annotations

import bpy

from ..api.character import is_rigged
from .base import FaceForgeOperator


def _words(context):
    return context.scene.faceforge.animate.expressions


class _CharacterOperator(FaceForgeOperator):
    """Needs the active mesh to have ARKit shape keys."""

    @classmethod
    def why_not(cls, context):
        if not is_rigged(context.active_object):
            return f"'{context.active_object.name}' has no ARKit shape keys: build them in 2 Rig first"
        return None


def _key_frame(context, words):
    return context.scene.frame_current if words.key_pose else None


class FACEFORGE_OT_pose_emotion(_CharacterOperator, bpy.types.Operator):
    """Pose the character with an emotion preset (FACS action units -> ARKit), optionally blended"""

    bl_idname = "faceforge.pose_emotion"
    bl_label = "Pose Emotion"
    job_label = "Pose emotion"

    def run(self, context):
        from ..api import expressions

        words = _words(context)
        blend_with = None if words.blend_with == "NONE" else words.blend_with
        return expressions.pose_emotion(context.active_object, words.emotion, words.intensity,
                                        blend_with=blend_with, blend=words.blend,
                                        key_frame=_key_frame(context, words))

    def report_result(self, context, result):
        mix = " + ".join(f"{share * 100:.0f}% {name}" for name, share in result["mix"].items())
        note = f" ({result['note']})" if result["note"] else ""
        self.report({"INFO"}, f"Posed {mix} on {len(result['set'])} shape keys{note}")


class FACEFORGE_OT_pose_from_text(_CharacterOperator, bpy.types.Operator):
    """Pose the character from a text prompt (all-MiniLM-L6-v2 matches it to described expressions)"""

    bl_idname = "faceforge.pose_from_text"
    bl_label = "Pose From Text"
    job_label = "Pose from text"

    @classmethod
    def why_not(cls, context):
        if reason := super().why_not(context):
            return reason
        if not _words(context).prompt.strip():
            return "Type a prompt first, e.g. 'a delighted surprise'"
        from ..inference import text_embed

        if not text_embed.available():
            return ("The text model is missing (models/minilm-l6.onnx): reinstall the FaceForge "
                    "extension, or run scripts/setup_env.sh in a source checkout")
        return None

    def make_job(self, context):
        from ..api import expressions

        words = _words(context)
        return expressions.pose_from_text_job(context.active_object, words.prompt,
                                              key_frame=_key_frame(context, words))

    def report_result(self, context, posed):
        result, applied = posed
        words = _words(context)
        words.matches = "\n".join(f"{m.label}|{m.share:.3f}|{int(m.negated)}|{m.clause}" for m in result.matches)
        words.reads_as = result.emotion
        top = ", ".join(f"{'not ' if m.negated else ''}{m.label} {m.share * 100:.0f}%" for m in result.top(3))
        note = f" ({applied.note})" if applied.note else ""
        self.report({"INFO"}, f"Reads as {result.emotion}: {top}{note}")


class FACEFORGE_OT_bake_timeline(_CharacterOperator, bpy.types.Operator):
    """Bake an expression timeline ('neutral 0.5 s -> happy 1 s -> ...') as shape-key keyframes"""

    bl_idname = "faceforge.bake_timeline"
    bl_label = "Bake Timeline"
    job_label = "Bake timeline"

    @classmethod
    def why_not(cls, context):
        words = _words(context)
        if reason := super().why_not(context):
            return reason
        if words.timeline_source == "FILE" and not words.timeline_file:
            return "Choose a timeline file (one step per line, e.g. 'happy 1 s')"
        if words.timeline_source == "TEXT" and not words.timeline.strip():
            return "Type a timeline, e.g. 'neutral 0.5 s -> happy 1 s -> neutral'"
        return None

    def make_job(self, context):
        from ..api import expressions

        words = _words(context)
        settings = context.scene.faceforge.animate
        if words.timeline_source == "FILE":
            text = expressions.read_timeline_file(bpy.path.abspath(words.timeline_file))
        else:
            text = words.timeline
        return expressions.timeline_job(context.active_object, text, start_frame=settings.start_frame,
                                        life=words.life, replace=settings.replace_action, seed=words.seed,
                                        transition=words.transition)

    def report_result(self, context, result):
        first, last = result["frames"]
        self.report({"INFO"}, f"Baked {len(result['steps'])} steps into '{result['action']}', "
                              f"frames {first}-{last}")


class FACEFORGE_OT_pose_from_diffusion(_CharacterOperator, bpy.types.Operator):
    """Render the face, edit it with a diffusion model from the prompt, and solve ARKit weights from it"""

    bl_idname = "faceforge.pose_from_diffusion"
    bl_label = "Pose From Diffusion"
    job_label = "Diffusion edit"

    @classmethod
    def why_not(cls, context):
        if reason := super().why_not(context):
            return reason
        from ..inference import diffusion_client
        from .. import preferences

        prefs = preferences.get(context)
        return diffusion_client.setup_problem(
            getattr(prefs, "worker_python", "") if prefs else "",
            getattr(prefs, "diffusion_model_dir", "") if prefs else "") or None

    def make_job(self, context):
        from .. import preferences
        from ..api import expressions

        prefs = preferences.get(context)
        words = _words(context)
        return expressions.diffusion_pose_job(context.active_object, words.prompt, prefs.worker_python,
                                              bpy.path.abspath(prefs.diffusion_model_dir),
                                              key=words.key_pose)

    def report_result(self, context, result):
        edited = result.get("edited")
        self.report({"INFO"}, "Posed from the diffusion edit" + (f" ({edited})" if edited else ""))


_SCALE_PROPS = (("Brows", "scale_brows"), ("Eyes", "scale_eyes"), ("Cheeks & Nose", "scale_cheeks"),
                ("Jaw", "scale_jaw"), ("Mouth", "scale_mouth"))


class FACEFORGE_OT_store_expression_scales(_CharacterOperator, bpy.types.Operator):
    """Store the region strengths on the active character: every emotion, prompt and timeline uses them"""

    bl_idname = "faceforge.store_expression_scales"
    bl_label = "Store on Character"

    def run(self, context):
        from ..api import expressions

        words = _words(context)
        obj = context.active_object
        scales = {region: getattr(words, prop) for region, prop in _SCALE_PROPS
                  if abs(getattr(words, prop) - 1.0) > 1e-6}
        expressions.set_character_scales(obj, scales)
        text = ", ".join(f"{k} {v:.2f}" for k, v in scales.items()) or "none (all 1)"
        return f"Expression scales on '{obj.name}': {text}"


classes = (FACEFORGE_OT_pose_emotion, FACEFORGE_OT_pose_from_text, FACEFORGE_OT_bake_timeline,
           FACEFORGE_OT_pose_from_diffusion, FACEFORGE_OT_store_expression_scales)
