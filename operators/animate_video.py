"""Animate from a driving video / a single image (thin: one api call each)."""

import os

import bpy

from ..api import animate_video
from ..core.errors import FaceForgeError
from .base import FaceForgeOperator, active_mesh


def _summary(res: dict) -> str:
    s = (f"{res['video_frames']} video frames into '{res['action']}' (frames {res['first_frame']}-{res['last_frame']}); "
         f"neutral: video frame {res['neutral_frame']} ({'auto' if res['neutral_auto'] else 'chosen'})")
    if res.get("bridged"):
        s += f"; {res['bridged']} frames without a face bridged"
    s += f"; fit error {res['residual_median_iod'] * 100:.1f}% of eye distance"
    return s


class FACEFORGE_OT_animate_from_video(FaceForgeOperator, bpy.types.Operator):
    """Track the face in a video and bake it into one action of shape-key (and head/eye) keyframes"""
    bl_idname = "faceforge.animate_from_video"
    bl_label = "Animate from Video"
    job_label = "Animate from video"

    @classmethod
    def why_not(cls, context):
        return None if context.scene.faceforge.animate.video.path else "Choose a driving video first"

    def make_job(self, context):
        a = context.scene.faceforge.animate
        v = a.video
        return animate_video.animate_from_video_job(
            active_mesh(context), v.path, smoothing=v.smoothing,
            neutral_frame=v.neutral_frame if v.neutral_mode == "FRAME" else None,
            frame_range=(v.range_first, v.range_last) if v.use_range else (0, -1),
            start_frame=a.start_frame, replace=a.replace_action, head=v.head_rotation, eyes=v.eye_rotation,
            add_reference=v.add_reference)

    def report_result(self, context, result):
        v = context.scene.faceforge.animate.video
        v.last_neutral_frame = result["neutral_frame"]
        v.last_summary = _summary(result)
        self.report({"INFO"}, "Baked " + v.last_summary)
        if result.get("fps_note"):
            self.report({"WARNING"}, "Note: " + result["fps_note"])


class FACEFORGE_OT_animate_from_image(FaceForgeOperator, bpy.types.Operator):
    """Pose the character like the face in a photo (and key it on the current frame if asked)"""
    bl_idname = "faceforge.animate_from_image"
    bl_label = "Pose from Image"
    job_label = "Pose from image"

    @classmethod
    def why_not(cls, context):
        return None if context.scene.faceforge.animate.video.image_path else "Choose an image of a face first"

    def make_job(self, context):
        v = context.scene.faceforge.animate.video
        return animate_video.animate_from_image_job(active_mesh(context), v.image_path, key=v.key_image,
                                                    head=v.head_rotation,
                                                    neutral_path=v.image_neutral_path or None)

    def report_result(self, context, result):
        top = sorted(result["weights"].items(), key=lambda kv: -kv[1])[:3]
        shapes = ", ".join(f"{n} {w:.2f}" for n, w in top if w > 0.05) or "a neutral face"
        keyed = f"; keyed frame {result['keyed_frame']}" if result["keyed_frame"] is not None else ""
        self.report({"INFO"}, f"Posed: {shapes}{keyed}")


def reference_strip(scene, path: str):
    """The sequencer strip showing ``path`` (added by Animate from Video), or None."""
    se = scene.sequence_editor
    if se is None or not path:
        return None
    want = os.path.normcase(os.path.abspath(bpy.path.abspath(path)))
    for strip in animate_video.sequencer_strips(se):
        if strip.type == "MOVIE" and os.path.normcase(os.path.abspath(bpy.path.abspath(strip.filepath))) == want:
            return strip
    return None


class FACEFORGE_OT_video_neutral_from_frame(FaceForgeOperator, bpy.types.Operator):
    """Use the video frame shown at the current scene frame (in the reference strip) as the actor's neutral"""
    bl_idname = "faceforge.video_neutral_from_frame"
    bl_label = "Neutral from Current Frame"
    needs = "IDLE"

    @classmethod
    def why_not(cls, context):
        if reference_strip(context.scene, context.scene.faceforge.animate.video.path) is None:
            return "Add the video as a reference strip first (Animate from Video with Add Reference)"
        return None

    def run(self, context):
        v = context.scene.faceforge.animate.video
        strip = reference_strip(context.scene, v.path)
        frame = context.scene.frame_current - int(strip.frame_start)
        if frame < 0 or context.scene.frame_current >= strip.frame_final_end:
            raise FaceForgeError("The current frame is outside the reference strip: move into the video")
        v.neutral_mode = "FRAME"
        v.neutral_frame = frame
        return f"Neutral: video frame {frame}"


classes = (FACEFORGE_OT_animate_from_video, FACEFORGE_OT_animate_from_image, FACEFORGE_OT_video_neutral_from_frame)
