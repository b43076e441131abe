"""Emotions, text prompts and timelines on a character with ARKit shape keys.

Public functions (operators and the command line call these):

* :func:`pose_emotion` - set an emotion preset (or a blend of two) on the face;
* :func:`pose_from_text` - set the expression a free-text prompt describes;
* :func:`timeline_job` - bake "neutral 0.5 s -> happy 1 s -> ..." as keyframes
  (a job generator: run it with ``core.jobs.run_sync`` from scripts).

A character needs shape keys named as ARKit's 52 blendshapes (the rig stage
builds them); only the ones it has are driven.  Per-character taste lives in
``obj.faceforge.animate.expression_scales`` (shape or region name -> scale,
e.g. mouthSmileLeft 0.8, Brows 1.2; region names from ``core.arkit.REGIONS``),
read by every function here; see :func:`set_character_scales`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import bpy

from ..animation import emotions, text_expression, timeline
from ..core import limits, params
from ..core.arkit import INDEX
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress
from . import actions
from .character import require_rigged
from .scene import scene_fps

def character_scales(obj) -> dict[str, float]:
    """The character's stored expression scales ``{shape or region: scale}`` ({} when none)."""
    return {item.name: float(item.value) for item in obj.faceforge.animate.expression_scales}


def set_character_scales(obj, scales: dict[str, float] | None) -> None:
    """Store per-shape / per-region scales on the character (None or {} removes them)."""
    scales = dict(scales or {})
    emotions.scale_vector(scales)  # validates the names
    stored = obj.faceforge.animate.expression_scales
    stored.clear()
    for name, value in scales.items():
        item = stored.add()
        item.name, item.value = name, float(value)


@dataclass
class Applied:
    """What posing did: the values set, the frame keyed (None: not keyed) and why it was keyed
    when nobody asked (``note``: the character plays an action that would override the pose)."""

    values: dict[str, float]
    key_frame: int | None
    note: str = ""


def apply_weights(obj, weights: np.ndarray, key_frame: int | None = None, scene=None) -> Applied:
    """Set the ARKit shape-key values of ``obj`` from ``weights`` (52,); optionally key them.

    Keying inserts one key per shape into the Key's existing curves (so it adds to an
    animation instead of replacing it).  A character whose shape keys play an action would
    lose a plain pose at the next frame change (and in the saved file): then the pose is
    keyed at the current frame, and :attr:`Applied.note` says so.
    """
    names = require_rigged(obj)
    key = obj.data.shape_keys
    blocks = key.key_blocks
    note = ""
    action = key.animation_data.action if key.animation_data is not None else None
    if key_frame is None and action is not None and any(
            fc.data_path.startswith("key_blocks[") for fc in actions.all_fcurves(action)):
        key_frame = (scene or bpy.context.scene).frame_current
        note = (f"'{obj.name}' plays the action '{action.name}', which would override a plain pose, "
                f"so the pose was keyed at frame {key_frame}")
    out = {}
    for n in names:
        v = float(np.clip(weights[INDEX[n]], 0.0, 1.0))
        kb = blocks[n]
        kb.value = v
        out[n] = v
        if key_frame is not None:
            kb.keyframe_insert("value", frame=key_frame, group="FaceForge")
    obj.data.update()
    return Applied(out, key_frame, note)


def pose_emotion(obj, emotion: str = "happiness", intensity: float = 1.0, blend_with: str | None = None,
                 blend: float = 0.0, scales: dict | None = None, key_frame: int | None = None) -> dict:
    """Pose ``obj`` with an emotion preset at ``intensity``, optionally blended with a second one.

    ``blend`` is the second emotion's share (0.3 = 70 % ``emotion`` + 30 %
    ``blend_with``).  ``scales`` default to the character's own.  Returns
    ``{"weights": (52,), "set": {name: value}, "mix": {...}, "key_frame": int | None,
    "note": str}`` (see :func:`apply_weights`).
    """
    require_rigged(obj)
    intensity = params.check("emotion.intensity", intensity)
    blend = params.check("emotion.blend", blend, "The blend share")
    key_frame = params.check_optional("frame", key_frame, "The key frame")
    mix = {emotions.resolve_emotion(emotion): 1.0 - (blend if blend_with else 0.0)}
    if blend_with and blend > 0:
        second = emotions.resolve_emotion(blend_with)
        mix[second] = mix.get(second, 0.0) + blend
    scales = character_scales(obj) if scales is None else scales
    weights = emotions.blend_emotions(mix, intensity=intensity, scales=scales)
    applied = apply_weights(obj, weights, key_frame)
    return {"weights": weights, "set": applied.values, "mix": mix, "key_frame": applied.key_frame,
            "note": applied.note}


def interpret_prompt(obj, prompt: str, embedder=None) -> text_expression.TextExpression:
    """The text stage's pure part with this character's scales (no Blender data changed)."""
    return text_expression.interpret(prompt, embedder=embedder, scales=character_scales(obj))


def pose_from_text(obj, prompt: str, key_frame: int | None = None, embedder=None):
    """Pose ``obj`` from a free-text prompt; returns ``(TextExpression, Applied)``."""
    require_rigged(obj)
    key_frame = params.check_optional("frame", key_frame, "The key frame")
    result = interpret_prompt(obj, prompt, embedder)
    return result, apply_weights(obj, result.weights, key_frame)


def pose_from_text_job(obj, prompt: str, key_frame: int | None = None):
    """:func:`pose_from_text` as a job (the model loads in a worker thread the first time)."""
    require_rigged(obj)
    scales = character_scales(obj)
    yield Progress(0.0, "reading the prompt")
    result = yield Offload(text_expression.interpret, (prompt,), {"scales": scales})
    applied = apply_weights(obj, result.weights, key_frame)
    yield Progress(1.0, "posed")
    return result, applied


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
                 action_name: str = "FF_Timeline", keys: str = "auto"):
    """Bake an expression timeline onto ``obj``'s ARKit shape keys.

    ``text``: "neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral" (see
    ``animation/timeline.py``).  ``fps`` defaults to the scene's.  ``keys``:
    "dense" (one key per frame), "sparse" (two Bezier keys per transition whose
    flat handles give the same smoothstep ease; easy to edit; not with life) or
    "auto" (sparse unless subtle life is on, which moves every frame).  With
    ``replace=False`` the Key's current action is kept (given a fake user so
    it survives saving) and a new action is baked and assigned.  The scene's
    end frame is extended when the take ends after it.
    Returns ``{"action", "frames": (first, last), "keys", "interpolation",
    "steps", "key_frames", "shapes"}``.
    """
    import bpy

    from .actions import bake_shape_keys

    names = require_rigged(obj)
    if keys not in ("auto", "dense", "sparse"):
        raise FaceForgeError(f"keys must be auto, dense or sparse, not '{keys}'")
    if keys == "sparse" and life:
        raise FaceForgeError("Subtle life moves every frame: bake dense keys, or turn life off for sparse keys")
    scene = bpy.context.scene
    fps = params.check("fps", scene_fps(scene) if fps is None else fps, "The frame rate")
    start_frame = params.check("start_frame", start_frame)
    transition = params.check("timeline.transition", transition)
    seed = params.check("seed", seed)
    steps = timeline.parse(text)
    limits.check_take(sum(s.duration or 0.0 for s in steps), fps, "The timeline", samples=len(steps),
                      unit="step", start_frame=start_frame)
    scales = character_scales(obj)
    yield Progress(0.05, f"{len(steps)} steps")
    poses = yield Offload(_resolve_all, (steps, scales), report=True, span=(0.05, 0.8))
    it = iter(poses)
    tl = timeline.build(steps, resolve=lambda _t: next(it), transition=transition, ease=ease)
    sparse = (not life and ease == "smoothstep") if keys == "auto" else keys == "sparse"
    if sparse:  # two Bezier keys per transition: easy to edit, same smoothstep ease
        times, weights = timeline.keyframes(tl)
        interpolation = "BEZIER"
    else:  # one key per frame (subtle life moves every frame)
        times, weights = timeline.sample(tl, fps)
        if life:
            weights = timeline.add_life(times, weights, fps, seed=seed)
        interpolation = "LINEAR"
    yield Progress(0.85, "baking keys")
    frames = start_frame + times * fps
    cols = [INDEX[n] for n in names]
    key = obj.data.shape_keys
    previous = key.animation_data.action if key.animation_data else None
    if previous is not None and not replace:
        previous.use_fake_user = True  # kept: the new take gets its own action
    action = bake_shape_keys(obj, names, frames, weights[:, cols], action_name, replace=replace,
                             interpolation=interpolation)
    last = int(np.ceil(frames[-1] - 1e-6))
    if scene.frame_end < last:
        scene.frame_end = last
    yield Progress(1.0, "done")
    return {"action": action.name, "frames": (int(round(frames[0])), last),
            "keys": len(frames), "interpolation": interpolation,
            "steps": [s.text for s in steps],
            "key_frames": [float(start_frame + t * fps) for t in tl.key_times()],
            "shapes": len(names)}


# --- optional diffusion backend -------------------------------------------------------

def render_front(obj, path: str, size: int = 512, samples: int = 8) -> str:
    """Render ``obj`` straight on (it looks down -Y) with Cycles into ``path``; scene left as it was."""
    import bpy
    from mathutils import Vector

    scene = bpy.context.scene
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    lo = Vector([min(c[i] for c in corners) for i in range(3)])
    hi = Vector([max(c[i] for c in corners) for i in range(3)])
    centre, extent = (lo + hi) / 2, hi - lo
    cam_data = bpy.data.cameras.new("FF_RenderCam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = max(extent.x, extent.z) * 1.15
    cam = bpy.data.objects.new("FF_RenderCam", cam_data)
    cam.location = (centre.x, lo.y - max(extent.length, 0.1) * 2, centre.z)
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    cam_data.clip_end = max(extent.length, 0.1) * 10
    light_data = bpy.data.lights.new("FF_RenderLight", "SUN")
    light_data.energy = 3.0
    light = bpy.data.objects.new("FF_RenderLight", light_data)
    light.rotation_euler = (np.pi / 2 - 0.3, 0.0, 0.2)
    render = scene.render
    saved = (scene.camera, render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage,
             render.filepath, render.image_settings.file_format, render.film_transparent,
             scene.cycles.samples if hasattr(scene, "cycles") else None)
    try:
        scene.collection.objects.link(cam)
        scene.collection.objects.link(light)
        scene.camera = cam
        render.engine = "CYCLES"
        scene.cycles.samples = samples
        scene.cycles.device = "CPU"
        render.resolution_x = render.resolution_y = size
        render.resolution_percentage = 100
        render.film_transparent = False
        render.image_settings.file_format = "PNG"
        render.filepath = path
        bpy.ops.render.render(write_still=True)
    finally:
        (scene.camera, render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage,
         render.filepath, render.image_settings.file_format, render.film_transparent, samples_) = saved
        if samples_ is not None:
            scene.cycles.samples = samples_
        bpy.data.objects.remove(cam)
        bpy.data.objects.remove(light)
        bpy.data.cameras.remove(cam_data)
        bpy.data.lights.remove(light_data)
    return path


def _face_mask(rgb) -> np.ndarray | None:
    """(H, W) bool: the convex hull of the Face Mesh landmarks (the region an inpainting edit may change)."""
    import cv2

    from ..inference.face_mesh import FaceMeshDetector

    with FaceMeshDetector(video=False) as det:
        found = det.detect(rgb)
    if found is None:
        return None
    hull = cv2.convexHull(found.points[:, :2].astype(np.int32))
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def _edit_and_match(worker_python, model_dir, src, prompt, steps, seed, out_dir, report=None):
    """Pure: mask the face, run the worker, match the skin tone. Returns the matched image's path."""
    import cv2

    from ..inference import diffusion_client

    rgb = cv2.imread(src)[..., ::-1].copy()
    if report:
        report(0.05, "finding the face in the render")
    mask = _face_mask(rgb)
    mask_path = None
    if mask is not None:
        mask_path = os.path.join(out_dir, "mask.png")
        cv2.imwrite(mask_path, mask.astype(np.uint8) * 255)
    if report:
        report(0.1, "starting the diffusion worker")
    worker = diffusion_client.shared_worker(worker_python, model_dir)  # stays warm for the next edit
    if report:
        report(0.3, f"editing with {worker.info.get('pipeline', 'the pipeline')}")
    edited_path = worker.edit(src, prompt, mask_path=mask_path, steps=steps, seed=seed,
                              out_path=os.path.join(out_dir, "edited.png"))
    edited = cv2.imread(edited_path)
    if edited is None:
        raise FaceForgeError(f"The diffusion worker wrote no readable image at {edited_path}")
    matched = diffusion_client.match_skin_tone(edited[..., ::-1].copy(), rgb, mask=mask)
    out = os.path.join(out_dir, "edited_matched.png")
    cv2.imwrite(out, matched[..., ::-1])
    return out


def diffusion_pose_job(obj, prompt: str, worker_python: str, model_dir: str, steps: int = 20, seed: int = 0,
                       key: bool = False, out_dir: str | None = None, size: int = 512):
    """Job: render the face, edit it from ``prompt`` with the diffusion worker, keep the skin tone
    (Lab histogram matching), then solve ARKit weights from the edited image against the render
    (the video stage's image solver).  Returns that solver's result plus the image paths."""
    import tempfile

    from ..inference import diffusion_client

    require_rigged(obj)
    if not prompt.strip():
        raise FaceForgeError("Type a prompt first, e.g. 'make her smile'")
    problem = diffusion_client.setup_problem(worker_python, model_dir)
    if problem:
        raise FaceForgeError(problem)
    own = out_dir is None  # a temporary folder, removed however the job ends
    out_dir = tempfile.mkdtemp(prefix="faceforge-diffusion-") if own else out_dir
    try:
        os.makedirs(out_dir, exist_ok=True)
        yield Progress(0.0, "rendering the face")
        src = render_front(obj, os.path.join(out_dir, "render.png"), size=size)
        edited = yield Offload(_edit_and_match, (worker_python, model_dir, src, prompt, steps, seed, out_dir),
                               report=True, span=(0.1, 0.8))
        from . import animate_video

        result = yield from animate_video.animate_from_image_job(obj, edited, key=key, neutral_path=src,
                                                                 head=False)
    finally:
        if own:
            import shutil

            shutil.rmtree(out_dir, ignore_errors=True)
    result = dict(result or {})
    # the images are kept only in a folder the caller chose
    result.update(render=None if own else src, edited=None if own else edited)
    return result
