"""Animate-stage state: shared take settings plus one sub-group per driver."""

from bpy.props import BoolProperty, IntProperty, PointerProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_animate_video(PropertyGroup):
    """Driving video / single image (issue: animate from video)."""


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
