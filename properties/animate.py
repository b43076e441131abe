"""Animate-stage state: shared take settings plus one sub-group per driver."""

from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_animate_video(PropertyGroup):
    """Driving video / single image (issue: animate from video)."""
    path: StringProperty(
        name="Video", subtype="FILE_PATH",
        description="Driving video (mp4/mov/avi/mkv/mpg/webm) of a face; it is read frame by frame")
    smoothing: FloatProperty(
        name="Smoothing", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
        description="One Euro filter strength: 0 = raw, 1 = heavy. Fast motions such as blinks are kept")
    neutral_mode: EnumProperty(
        name="Neutral",
        items=(("AUTO", "Auto", "Pick the frame where the actor's face is most at rest"),
               ("FRAME", "Frame", "Use the video frame below as the actor's neutral face")),
        default="AUTO", description="The actor's rest face, against which expressions are measured")
    neutral_frame: IntProperty(
        name="Neutral Frame", default=0, min=0,
        description="Video frame (from 0) where the actor's face is at rest")
    use_range: BoolProperty(
        name="Frame Range", default=False, description="Solve only part of the video")
    range_first: IntProperty(name="First", default=0, min=0, description="First video frame to solve (from 0)")
    range_last: IntProperty(name="Last", default=250, min=0, description="Last video frame to solve")
    head_rotation: BoolProperty(
        name="Head Rotation", default=True,
        description="Key the head's rotation (head bone if the character has one, else the object)")
    eye_rotation: BoolProperty(
        name="Eye Rotation", default=True, description="Key eye bones (eye.L/eye.R...) when present")
    add_reference: BoolProperty(
        name="Add Reference", default=True,
        description="Add the video as a Video Sequencer strip to compare with the animation")
    image_path: StringProperty(
        name="Image", subtype="FILE_PATH", description="A photo of a face to pose the character from")
    image_neutral_path: StringProperty(
        name="Rest Photo", subtype="FILE_PATH",
        description="Optional: a photo of the same person with a relaxed face; without it the character's "
                    "neutral stands in and face-shape differences read as a little expression")
    key_image: BoolProperty(
        name="Key Pose", default=False, description="Insert keyframes for the pose on the current frame")
    last_neutral_frame: IntProperty(
        name="Neutral Used", default=-1, description="The video frame the last solve used as neutral")
    last_summary: StringProperty(name="Last Result", description="What the last solve did")


class FACEFORGE_PG_animate_speech(PropertyGroup):
    """Speech recording -> lip sync."""


class FACEFORGE_PG_animate_words(PropertyGroup):
    """Emotion presets, text prompts, timelines."""


class FACEFORGE_PG_animate_settings(PropertyGroup):
    start_frame: IntProperty(name="Start Frame", default=1,
                             description="Scene frame where the baked take begins")
    replace_action: BoolProperty(
        name="Replace Action", default=False,
        description="Overwrite the character's current action instead of keeping it")
    video: PointerProperty(type=FACEFORGE_PG_animate_video)
    speech: PointerProperty(type=FACEFORGE_PG_animate_speech)
    words: PointerProperty(type=FACEFORGE_PG_animate_words)


classes = (FACEFORGE_PG_animate_video, FACEFORGE_PG_animate_speech, FACEFORGE_PG_animate_words,
           FACEFORGE_PG_animate_settings)
