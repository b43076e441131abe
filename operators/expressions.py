"""Animate from words: emotion presets, text prompts, timelines, optional diffusion."""

from __future__ import annotations

import bpy

from ..core.jobs import Progress
from ..api.character import is_rigged
from .base import JobOperator, poll_active_mesh


def _words(context):
    return context.scene.faceforge.animate.words


def _poll_character(cls, context) -> bool:
    if not poll_active_mesh(cls, context):
        return False
    if not is_rigged(context.active_object):
        cls.poll_message_set(f"'{context.active_object.name}' has no ARKit shape keys: "
                             "build them in 2 Rig first")
        return False
    return True


def _key_frame(context, words):
    return context.scene.frame_current if words.key_pose else None


class FACEFORGE_OT_pose_emotion(JobOperator, bpy.types.Operator):
    """Pose the character with an emotion preset (FACS action units -> ARKit), optionally blended"""

    bl_idname = "faceforge.pose_emotion"
    bl_label = "Pose Emotion"
    job_label = "Pose emotion"

    @classmethod
    def poll(cls, context):
        return _poll_character(cls, context)

    def make_job(self, context):
        from ..api import expressions

        words = _words(context)
        obj = context.active_object

        def job():
            yield Progress(0.0, words.emotion)
            blend_with = None if words.blend_with == "NONE" else words.blend_with
            return expressions.pose_emotion(obj, words.emotion, words.intensity, blend_with=blend_with,
                                            blend=words.blend, key_frame=_key_frame(context, words))

        return job()

    def report_result(self, context, result):
        mix = " + ".join(f"{share * 100:.0f}% {name}" for name, share in result["mix"].items())
        self.report({"INFO"}, f"Posed {mix} on {len(result['set'])} shape keys")


class FACEFORGE_OT_pose_from_text(JobOperator, bpy.types.Operator):
    """Pose the character from a text prompt (all-MiniLM-L6-v2 matches it to described expressions)"""

    bl_idname = "faceforge.pose_from_text"
    bl_label = "Pose From Text"
    job_label = "Pose from text"

    @classmethod
    def poll(cls, context):
        if not _poll_character(cls, context):
            return False
        if not _words(context).prompt.strip():
            cls.poll_message_set("Type a prompt first, e.g. 'a delighted surprise'")
            return False
        from ..inference import text_embed

        if not text_embed.available():
            cls.poll_message_set("The text model is missing (models/minilm-l6.onnx): reinstall the FaceForge "
                                 "extension, or run scripts/setup_env.sh in a source checkout")
            return False
        return True

    def make_job(self, context):
        from ..api import expressions

        words = _words(context)
        return expressions.pose_from_text_job(context.active_object, words.prompt,
                                              key_frame=_key_frame(context, words))

    def report_result(self, context, result):
        words = _words(context)
        words.matches = "\n".join(f"{m.label}|{m.share:.3f}|{int(m.negated)}|{m.clause}" for m in result.matches)
        words.reads_as = result.emotion
        top = ", ".join(f"{'not ' if m.negated else ''}{m.label} {m.share * 100:.0f}%" for m in result.top(3))
        self.report({"INFO"}, f"Reads as {result.emotion}: {top}")


class FACEFORGE_OT_bake_timeline(JobOperator, bpy.types.Operator):
    """Bake an expression timeline ('neutral 0.5 s -> happy 1 s -> ...') as shape-key keyframes"""

    bl_idname = "faceforge.bake_timeline"
    bl_label = "Bake Timeline"
    job_label = "Bake timeline"

    @classmethod
    def poll(cls, context):
        if not _poll_character(cls, context):
            return False
        words = _words(context)
        if words.timeline_source == "FILE" and not words.timeline_file:
            cls.poll_message_set("Choose a timeline file (one step per line, e.g. 'happy 1 s')")
            return False
        if words.timeline_source == "TEXT" and not words.timeline.strip():
            cls.poll_message_set("Type a timeline, e.g. 'neutral 0.5 s -> happy 1 s -> neutral'")
            return False
        return True

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


class FACEFORGE_OT_pose_from_diffusion(JobOperator, bpy.types.Operator):
    """Render the face, edit it with a diffusion model from the prompt, and solve ARKit weights from it"""

    bl_idname = "faceforge.pose_from_diffusion"
    bl_label = "Pose From Diffusion"
    job_label = "Diffusion edit"

    @classmethod
    def poll(cls, context):
        if not _poll_character(cls, context):
            return False
        from ..inference import diffusion_client
        from .. import preferences

        prefs = preferences.get(context)
        problem = diffusion_client.setup_problem(
            getattr(prefs, "worker_python", "") if prefs else "",
            getattr(prefs, "diffusion_model_dir", "") if prefs else "")
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def make_job(self, context):
        from .. import preferences
        from ..api import expressions

        prefs = preferences.get(context)
        words = _words(context)
        return expressions.diffusion_pose_job(context.active_object, words.prompt, prefs.worker_python,
                                              bpy.path.abspath(prefs.diffusion_model_dir),
                                              key=words.key_pose)

    def report_result(self, context, result):
        self.report({"INFO"}, f"Posed from the diffusion edit ({result.get('edited', '')})")


_SCALE_PROPS = (("Brows", "scale_brows"), ("Eyes", "scale_eyes"), ("Cheeks & Nose", "scale_cheeks"),
                ("Jaw", "scale_jaw"), ("Mouth", "scale_mouth"))


class FACEFORGE_OT_store_expression_scales(bpy.types.Operator):
    """Store the region strengths on the active character: every emotion, prompt and timeline uses them"""

    bl_idname = "faceforge.store_expression_scales"
    bl_label = "Store on Character"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_character(cls, context)

    def execute(self, context):
        from ..api import expressions

        words = _words(context)
        obj = context.active_object
        scales = {region: getattr(words, prop) for region, prop in _SCALE_PROPS
                  if abs(getattr(words, prop) - 1.0) > 1e-6}
        expressions.set_character_scales(obj, scales)
        text = ", ".join(f"{k} {v:.2f}" for k, v in scales.items()) or "none (all 1)"
        self.report({"INFO"}, f"Expression scales on '{obj.name}': {text}")
        return {"FINISHED"}


classes = (FACEFORGE_OT_pose_emotion, FACEFORGE_OT_pose_from_text, FACEFORGE_OT_bake_timeline,
           FACEFORGE_OT_pose_from_diffusion, FACEFORGE_OT_store_expression_scales)
