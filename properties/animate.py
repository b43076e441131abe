"""Animate-stage state: shared take settings plus one sub-group per driver."""

from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_animate_video(PropertyGroup):
    """Driving video / single image (issue: animate from video)."""


class FACEFORGE_PG_animate_speech(PropertyGroup):
    """Speech recording -> lip sync."""

    audio_path: StringProperty(
        name="Audio", subtype="FILE_PATH", default="",
        description="Speech recording: wav, flac, mp3, ogg, m4a, or a video with sound")
    transcript: StringProperty(
        name="Transcript", default="",
        description="What is said (much more accurate timing). Empty: a .txt/.lab file with the "
                    "audio's name is used if there is one, else phones are recognised")
    use_sidecar_transcript: BoolProperty(
        name="Use .txt/.lab Beside Audio", default=True,
        description="When the transcript is empty, read it from a .txt or .lab file next to the audio")
    method: EnumProperty(
        name="Method", default="auto",
        items=(("auto", "Auto", "Speech model (alignment or phone recognition); energy when it finds "
                "little English speech"),
               ("phonemes", "Phonemes", "PocketSphinx English phones: forced alignment with a "
                "transcript, phone recognition without"),
               ("energy", "Energy", "Loudness and spectrum only: any language, singing, shouting")))
    intensity: FloatProperty(
        name="Intensity", default=1.0, min=0.0, max=2.0, soft_max=1.5, subtype="FACTOR",
        description="Scale of the mouth motion (1 = as designed)")
    add_sound: BoolProperty(
        name="Add Sound Strip", default=True,
        description="Add the audio to the sequencer at the start frame so playback is in sync")
    last_result: StringProperty(
        name="Last Lip Sync", default="",
        description="What the last lip sync did: method used and why, frames, action")


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
