"""Animate-stage state (video, image, speech, text, emotions)."""

from bpy.props import BoolProperty, IntProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_animate_settings(PropertyGroup):
    start_frame: IntProperty(name="Start Frame", default=1,
                             description="Scene frame where the baked take begins")
    replace_action: BoolProperty(
        name="Replace Action", default=False,
        description="Overwrite the character's current action instead of keeping it")


classes = (FACEFORGE_PG_animate_settings,)
