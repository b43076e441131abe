"""Emotions, text prompts and timelines on a character with ARKit shape keys.

Public functions (operators and the command line call these):

* :func:`pose_emotion` - set an emotion preset (or a blend of two) on the face;
* :func:`pose_from_text` - set the expression a free-text prompt describes;
* :func:`timeline_job` - bake "neutral 0.5 s -> happy 1 s -> ..." as keyframes
  (a job generator: run it with ``core.jobs.run_sync`` from scripts).

A character needs shape keys named as ARKit's 52 blendshapes (the rig stage
builds them); only the ones it has are driven.  Per-character taste lives in
the object's custom property ``faceforge_shape_scales`` (``{"mouthSmileLeft":
0.8, "Brows": 1.2, ...}``; region names from ``core.arkit.REGIONS``), read by
every function here; see :func:`set_character_scales`.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..animation import emotions, text_expression, timeline
from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress
from .mesh import require_mesh

SCALES_PROP = "faceforge_shape_scales"


def arkit_keys(obj) -> list[str]:
    """The ARKit shape keys ``obj`` has (in ARKit order); FaceForgeError when it has none."""
    require_mesh(obj, "the character's face mesh")
    key = obj.data.shape_keys
    have = set(key.key_blocks.keys()) if key is not None else set()
    names = [n for n in ARKIT_NAMES if n in have]
    if not names:
        raise FaceForgeError(
            f"'{obj.name}' has no ARKit shape keys (jawOpen, mouthSmileLeft, ...): build them in "
            "the 2 Rig stage first, or select the character that has them")
    return names


def character_scales(obj) -> dict[str, float]:
    raw = obj.get(SCALES_PROP)
    if raw is None:
        return {}
    try:
        scales = {str(k): float(v) for k, v in (json.loads(raw) if isinstance(raw, str) else raw).items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise FaceForgeError(f"'{obj.name}' has an unreadable {SCALES_PROP} property ({exc}); "
                             "remove it or set it with set_character_scales") from exc
    emotions.scale_vector(scales)  # validates names
    return scales


def set_character_scales(obj, scales: dict[str, float] | None) -> None:
    """Store per-shape / per-region scales on the character (None or {} removes them)."""
    if not scales:
        if SCALES_PROP in obj:
            del obj[SCALES_PROP]
        return
    emotions.scale_vector(scales)
    obj[SCALES_PROP] = json.dumps({k: float(v) for k, v in scales.items()})


def apply_weights(obj, weights: np.ndarray, key_frame: int | None = None) -> dict[str, float]:
    """Set the ARKit shape-key values of ``obj`` from ``weights`` (52,); optionally key them.

    Keying inserts one key per shape into the Key's existing curves (so it
    adds to an animation instead of replacing it).  Returns what was set.
    """
    names = arkit_keys(obj)
    blocks = obj.data.shape_keys.key_blocks
    out = {}
    for n in names:
        v = float(np.clip(weights[INDEX[n]], 0.0, 1.0))
        kb = blocks[n]
        kb.value = v
        out[n] = v
        if key_frame is not None:
            kb.keyframe_insert("value", frame=key_frame, group="FaceForge")
    obj.data.update()
    return out


def pose_emotion(obj, emotion: str = "happiness", intensity: float = 1.0, blend_with: str | None = None,
                 blend: float = 0.0, scales: dict | None = None, key_frame: int | None = None) -> dict:
    """Pose ``obj`` with an emotion preset at ``intensity``, optionally blended with a second one.

    ``blend`` is the second emotion's share (0.3 = 70 % ``emotion`` + 30 %
    ``blend_with``).  ``scales`` default to the character's own.  Returns
    ``{"weights": (52,), "set": {name: value}, "mix": {...}}``.
    """
    arkit_keys(obj)
    if not 0.0 <= blend <= 1.0:
        raise FaceForgeError(f"The blend share must be between 0 and 1, got {blend}")
    mix = {emotions.resolve_emotion(emotion): 1.0 - (blend if blend_with else 0.0)}
    if blend_with and blend > 0:
        second = emotions.resolve_emotion(blend_with)
        mix[second] = mix.get(second, 0.0) + blend
    scales = character_scales(obj) if scales is None else scales
    weights = emotions.blend_emotions(mix, intensity=intensity, scales=scales)
    applied = apply_weights(obj, weights, key_frame)
    return {"weights": weights, "set": applied, "mix": mix}


def interpret_prompt(obj, prompt: str, embedder=None) -> text_expression.TextExpression:
    """The text stage's pure part with this character's scales (no Blender data changed)."""
    return text_expression.interpret(prompt, embedder=embedder, scales=character_scales(obj))


def pose_from_text(obj, prompt: str, key_frame: int | None = None, embedder=None):
    """Pose ``obj`` from a free-text prompt; returns the :class:`TextExpression` (weights + matches)."""
    arkit_keys(obj)
    result = interpret_prompt(obj, prompt, embedder)
    apply_weights(obj, result.weights, key_frame)
    return result


def pose_from_text_job(obj, prompt: str, key_frame: int | None = None):
    """:func:`pose_from_text` as a job (the model loads in a worker thread the first time)."""
    arkit_keys(obj)
    scales = character_scales(obj)
    yield Progress(0.0, "reading the prompt")
    result = yield Offload(text_expression.interpret, (prompt,), {"scales": scales})
    apply_weights(obj, result.weights, key_frame)
    yield Progress(1.0, "posed")
    return result


def read_timeline_file(path: str) -> str:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise FaceForgeError(f"Timeline file not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FaceForgeError(f"Could not read the timeline file {path}: {exc}") from exc


def _resolve_all(steps, scales, report=None):
    """Pure: each step's pose; the text model loads only when a step is not an emotion mix."""
    poses = []
    resolver = None
    for i, step in enumerate(steps):
        mix = emotions.parse_mix(step.text)
        if mix is not None:
            poses.append(emotions.blend_emotions(mix, scales=scales))
        else:
            resolver = resolver or timeline.text_resolver(scales=scales)
            poses.append(resolver(step.text))
        if report:
            report((i + 1) / len(steps), f"step {i + 1}/{len(steps)}: {step.text}")
    return poses


def timeline_job(obj, text: str, fps: float | None = None, start_frame: int = 1, life: bool = True,
                 replace: bool = False, seed: int = 0, transition: float = 0.3, ease: str = "smoothstep",
                 action_name: str = "FF_Timeline"):
    """Bake an expression timeline onto ``obj``'s ARKit shape keys, one key per frame.

    ``text``: "neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral" (see
    ``animation/timeline.py``).  ``fps`` defaults to the scene's.  With
    ``replace=False`` the Key's current action is kept (given a fake user so
    it survives saving) and a new action is baked and assigned.
    Returns ``{"action", "frames": (first, last), "steps", "key_frames"}``.
    """
    import bpy

    from .actions import bake_shape_keys

    names = arkit_keys(obj)
    scene = bpy.context.scene
    if fps is None:
        fps = scene.render.fps / scene.render.fps_base
    steps = timeline.parse(text)
    scales = character_scales(obj)
    yield Progress(0.05, f"{len(steps)} steps")
    poses = yield Offload(_resolve_all, (steps, scales), report=True, span=(0.05, 0.8))
    it = iter(poses)
    tl = timeline.build(steps, resolve=lambda _t: next(it), transition=transition, ease=ease)
    times, weights = timeline.sample(tl, fps)
    if life:
        weights = timeline.add_life(times, weights, fps, seed=seed)
    yield Progress(0.85, "baking keys")
    frames = start_frame + times * fps
    cols = [INDEX[n] for n in names]
    key = obj.data.shape_keys
    previous = key.animation_data.action if key.animation_data else None
    if previous is not None and not replace:
        previous.use_fake_user = True  # kept: the new take gets its own action
    action = bake_shape_keys(obj, names, frames, weights[:, cols], action_name, replace=replace)
    yield Progress(1.0, "done")
    return {"action": action.name, "frames": (int(round(frames[0])), int(round(frames[-1]))),
            "steps": [s.text for s in steps],
            "key_frames": [float(start_frame + t * fps) for t in tl.key_times()],
            "shapes": len(names)}
