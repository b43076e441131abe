"""Animate-stage state: shared take settings plus one sub-group per driver."""

from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, PointerProperty, StringProperty)
from bpy.types import PropertyGroup

from ..core.params import PARAMS

# Numbers users set have their name, default and range in core/params.py (the command line reads
# the same table): PARAMS[key].prop() gives the keyword arguments.


class FACEFORGE_PG_animate_video(PropertyGroup):
    """Driving video / single image (issue: animate from video)."""
    path: StringProperty(
        name="Video", subtype="FILE_PATH",
        description="Driving video (mp4/mov/avi/mkv/mpg/webm) of a face; it is read frame by frame")
    smoothing: FloatProperty(subtype="FACTOR", **PARAMS["video.smoothing"].prop())
    neutral_mode: EnumProperty(
        name="Neutral",
        items=(("AUTO", "Auto", "Pick the frame where the actor's face is most at rest"),
               ("FRAME", "Frame", "Use the video frame below as the actor's neutral face")),
        default="AUTO", description="The actor's rest face, against which expressions are measured")
    neutral_frame: IntProperty(**PARAMS["video.frame"].prop(
        name="Neutral Frame", description="Video frame (from 0) where the actor's face is at rest"))
    use_range: BoolProperty(
        name="Frame Range", default=False, description="Solve only part of the video")
    range_first: IntProperty(**PARAMS["video.frame"].prop(
        name="First", description="First video frame to solve (from 0)"))
    range_last: IntProperty(**PARAMS["video.frame"].prop(
        name="Last", default=250, description="Last video frame to solve"))
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
        description="Optional: a photo of the same person with a relaxed face; without it the face's shape "
                    "is fitted from the photo itself and a little of it may read as expression")
    key_image: BoolProperty(
        name="Key Pose", default=False, description="Insert keyframes for the pose on the current frame")
    last_neutral_frame: IntProperty(
        name="Neutral Used", default=-1, description="The video frame the last solve used as neutral")
    last_summary: StringProperty(name="Last Result", description="What the last solve did")


class FACEFORGE_PG_animate_lipsync(PropertyGroup):
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
    intensity: FloatProperty(subtype="FACTOR", **PARAMS["lipsync.intensity"].prop())
    add_sound: BoolProperty(
        name="Add Sound Strip", default=True,
        description="Add the audio to the sequencer at the start frame so playback is in sync")
    blinks: BoolProperty(
        name="Blinks", default=True,
        description="Blink while speaking (about 20 a minute, and at the ends of phrases); "
                    "a take that already animates the eyelids keeps its own")
    brows: BoolProperty(
        name="Brows", default=True,
        description="Raise the brows a little on stressed, high-pitched syllables; "
                    "a take that already animates the brows keeps its own")
    head: BoolProperty(
        name="Head", default=True,
        description="Small nods on stressed syllables and a slow sway while speaking (head bone, "
                    "else the object); a take that already turns the head keeps its own")

    def life_layers(self) -> tuple[str, ...]:
        """The life layers switched on, for ``api.lipsync.lipsync_job(life=...)``."""
        return tuple(n for n in ("blinks", "brows", "head") if getattr(self, n))
    last_result: StringProperty(
        name="Last Lip Sync", default="",
        description="What the last lip sync did: method used and why, frames, action")


class FACEFORGE_PG_animate_expressions(PropertyGroup):
    """Emotion presets, text prompts, timelines."""

    _EMOTION_ITEMS = [
        ("neutral", "Neutral", "No action units: the rest face"),
        ("happiness", "Happiness", "AU6 + AU12: cheeks raised, lip corners pulled up"),
        ("sadness", "Sadness", "AU1 + AU4 + AU15 (+17): inner brows up, lip corners down"),
        ("surprise", "Surprise", "AU1 + AU2 + AU5 + AU26: brows up, eyes wide, jaw dropped"),
        ("fear", "Fear", "AU1 + 2 + 4 + 5 + 7 + 20 + 26: brows up and together, eyes wide, lips stretched"),
        ("anger", "Anger", "AU4 + AU5 + AU7 + AU23/24: brows down, lids tight, lips pressed"),
        ("disgust", "Disgust", "AU9 + AU10 + AU15/16: nose wrinkled, upper lip raised"),
    ]

    emotion: EnumProperty(name="Emotion", items=_EMOTION_ITEMS, default="happiness",
                          description="Basic emotion preset (built from its FACS action units)")
    intensity: FloatProperty(subtype="FACTOR", **PARAMS["emotion.intensity"].prop())
    blend_with: EnumProperty(name="Blend With", items=[("NONE", "None", "No second emotion")] + _EMOTION_ITEMS,
                             default="NONE", description="A second emotion mixed in")
    blend: FloatProperty(subtype="FACTOR", **PARAMS["emotion.blend"].prop())
    key_pose: BoolProperty(name="Insert Keyframe", default=False,
                           description="Also key the posed shape keys at the current frame")
    prompt: StringProperty(name="Prompt", default="a delighted surprise",
                           description="Describe an expression: 'slightly sad', 'smiling with eyes wide', "
                                       "'angry but not frowning'")
    matches: StringProperty(name="Matches", default="",
                            description="What the last prompt matched (label|share|negated per line)")
    reads_as: StringProperty(name="Reads As", default="")
    timeline_source: EnumProperty(name="Source", items=[
        ("TEXT", "Text", "Type the steps here"),
        ("FILE", "File", "A text file with one step per line")], default="TEXT")
    timeline: StringProperty(name="Timeline", default="neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral",
                             description="Steps 'expression duration' separated by '->'; "
                                         "the last step may omit its duration")
    timeline_file: StringProperty(name="Timeline File", subtype="FILE_PATH",
                                  description="A text file, one step per line ('happy 1 s'); # comments")
    transition: FloatProperty(unit="TIME_ABSOLUTE", **PARAMS["timeline.transition"].prop())
    life: BoolProperty(name="Subtle Life", default=True,
                       description="Blinks at natural intervals and small brow/eye motion")
    seed: IntProperty(**PARAMS["seed"].prop())
    scale_brows: FloatProperty(**PARAMS["expression.scale"].prop(
        name="Brows", description="This character's strength of brow shapes in every expression"))
    scale_eyes: FloatProperty(**PARAMS["expression.scale"].prop(
        name="Eyes", description="This character's strength of eye shapes in every expression"))
    scale_cheeks: FloatProperty(**PARAMS["expression.scale"].prop(
        name="Cheeks & Nose", description="This character's strength of cheek and nose shapes"))
    scale_jaw: FloatProperty(**PARAMS["expression.scale"].prop(
        name="Jaw", description="This character's strength of jaw shapes in every expression"))
    scale_mouth: FloatProperty(**PARAMS["expression.scale"].prop(
        name="Mouth", description="This character's strength of mouth shapes in every expression"))


class FACEFORGE_PG_animate_settings(PropertyGroup):
    start_frame: IntProperty(**PARAMS["start_frame"].prop())
    replace_action: BoolProperty(
        name="Replace Action", default=False,
        description="Overwrite the character's current action instead of keeping it")
    video: PointerProperty(type=FACEFORGE_PG_animate_video)
    lipsync: PointerProperty(type=FACEFORGE_PG_animate_lipsync)
    expressions: PointerProperty(type=FACEFORGE_PG_animate_expressions)


class FACEFORGE_PG_shape_scale(PropertyGroup):
    """One per-character strength: ``name`` is an ARKit shape or a region (``core.arkit.REGIONS``)."""
    value: FloatProperty(**PARAMS["expression.scale"].prop())


class FACEFORGE_PG_object_animate(PropertyGroup):
    """What the Animate stage keeps on a character (``object.faceforge.animate``)."""
    expression_scales: CollectionProperty(
        type=FACEFORGE_PG_shape_scale, name="Expression Scales",
        description="The character's taste: per-shape or per-region strengths used by every emotion, "
                    "prompt and timeline (a shape wins over its region)")
    rest_rotation: FloatVectorProperty(
        name="Rest Rotation", size=9, subtype="MATRIX",
        description="The object's rotation before a video take first drove its head, so takes don't compound "
                    "(3x3, row by row)")
    has_rest_rotation: BoolProperty(name="Rest Rotation Stored", default=False)


classes = (FACEFORGE_PG_animate_video, FACEFORGE_PG_animate_lipsync, FACEFORGE_PG_animate_expressions,
           FACEFORGE_PG_animate_settings, FACEFORGE_PG_shape_scale, FACEFORGE_PG_object_animate)
