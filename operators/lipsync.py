"""Lip sync operator: the active face mesh follows a speech recording."""

import bpy

from ..api import lipsync
from .base import FaceForgeOperator


class FACEFORGE_OT_lipsync(FaceForgeOperator, bpy.types.Operator):
    """Animate the mouth of the active face (ARKit shape keys) from a speech recording"""

    bl_idname = "faceforge.lipsync"
    bl_label = "Lip Sync from Audio"
    job_label = "Lip sync"

    @classmethod
    def why_not(cls, context):
        if not lipsync.speech_shapes_on(context.active_object):
            return "The active mesh has no ARKit mouth shape keys (jawOpen ...): build them in the Rig stage first"
        return None

    def make_job(self, context):
        settings = context.scene.faceforge.animate
        s = settings.lipsync
        return lipsync.lipsync_job(
            context.active_object, s.audio_path, transcript=s.transcript, method=s.method,
            intensity=s.intensity, start_frame=settings.start_frame, replace=settings.replace_action,
            use_sidecar_transcript=s.use_sidecar_transcript, add_sound=s.add_sound, scene=context.scene,
            life=s.life_layers())

    def report_result(self, context, result):
        line = lipsync.summary(result)
        context.scene.faceforge.animate.lipsync.last_result = line
        self.report({"INFO"}, line)


classes = (FACEFORGE_OT_lipsync,)
