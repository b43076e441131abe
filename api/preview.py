"""Preview videos of a baked take: the face, and the driving video or audio beside it.

:func:`render_preview_job` renders the character from the front, frame by
frame, in a throwaway scene (the user's scene, camera and render settings are
never touched; the previewed take is made the Key's action only while
rendering), then composes the MP4 in a worker thread
(``formats.preview_video.compose_video``: the driving video or a waveform of
the driving audio beside the face, its sound muxed in, a caption per frame).

Workbench renders when software OpenGL works (about 0.1 s a frame at 384 px),
else Cycles on the CPU with a few samples.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import limits, params, paths
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..formats.preview_video import compose_video, side_kind
from ..rigging.camera import axis_direction, facing_rotation
from .actions import sample_shape_keys
from .character import armatures
from .render import has_image_texture


@dataclass
class PreviewResult:
    path: Path
    frames: int
    fps: float
    engine: str
    size: tuple[int, int]  # (width, height) of the video
    side_by_side: str = ""  # "video", "audio" or ""
    has_audio: bool = False
    seconds_render: float = 0.0
    seconds_encode: float = 0.0
    warnings: list[str] = field(default_factory=list)


# --- Blender side -----------------------------------------------------------------------

def _world_points(obj) -> np.ndarray:
    """World-space points of the mesh and of every one of its shape keys fully on."""
    mw = np.array(obj.matrix_world)
    pts = []
    key = obj.data.shape_keys
    blocks = key.key_blocks if key is not None else []
    if len(blocks):
        for kb in blocks:
            co = np.empty(len(kb.data) * 3, np.float32)
            kb.data.foreach_get("co", co)
            pts.append(co.reshape(-1, 3))
    else:
        co = np.empty(len(obj.data.vertices) * 3, np.float32)
        obj.data.vertices.foreach_get("co", co)
        pts.append(co.reshape(-1, 3))
    p = np.concatenate(pts).astype(np.float64)
    return p @ mw[:3, :3].T + mw[:3, 3]


def facing_direction(obj, facing: str = "AUTO") -> np.ndarray:
    """The world direction the face looks along: ``facing`` ("-Y", "+Z", ...), else the
    landmark stage's ``view_axis`` when it names an axis, else -Y (FaceForge's convention)."""
    text = facing if facing and facing.upper() != "AUTO" else ""
    if not text:
        lm = getattr(getattr(obj, "faceforge", None), "landmarks", None)
        text = getattr(lm, "view_axis", "") or "-Y"
    try:
        return axis_direction(text)
    except ValueError:
        raise FaceForgeError(f"Can't tell which way the face looks from '{text}': use -Y, +Z, ...") from None


def _make_scene(obj, size: int, engine: str, samples: int, fps: tuple[int, float], facing: str = "AUTO"):
    import bpy
    from mathutils import Matrix

    scene = bpy.data.scenes.new("FaceForgePreview")
    for o in [obj, *armatures(obj)]:
        scene.collection.objects.link(o)
    d = facing_direction(obj, facing)
    rot = facing_rotation(d)
    pts = _world_points(obj)
    local = pts @ rot  # coordinates along right, up, back
    lo, hi = local.min(0), local.max(0)
    centre = rot @ ((lo + hi) / 2)
    extent = max(hi[0] - lo[0], hi[1] - lo[1]) * 1.15
    depth = hi[2] - lo[2]
    cam_data = bpy.data.cameras.new("FaceForgePreviewCam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = float(extent)
    cam_data.clip_start = 0.001
    cam_data.clip_end = float(10 * depth + 10 * extent)
    cam = bpy.data.objects.new("FaceForgePreviewCam", cam_data)
    # In front of the face (along ``d``), looking back at it; up is world Z (Y for faces along Z).
    location = centre + d * (depth / 2 + 2 * extent)
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = location
    cam.matrix_world = Matrix(m.tolist())
    scene.collection.objects.link(cam)
    scene.camera = cam
    light_data = bpy.data.lights.new("FaceForgePreviewKey", "SUN")
    light_data.energy = 3.0
    light = bpy.data.objects.new("FaceForgePreviewKey", light_data)
    # Key light from the upper left of the camera, towards the face.
    light_dir = rot @ np.array([-0.45, 0.6, 1.0])
    lm = np.eye(4)
    lm[:3, :3] = facing_rotation(light_dir / np.linalg.norm(light_dir))
    light.matrix_world = Matrix(lm.tolist())
    scene.collection.objects.link(light)
    world = bpy.data.worlds.new("FaceForgePreviewWorld")
    world.color = (0.25, 0.25, 0.27)
    scene.world = world
    r = scene.render
    r.resolution_x = r.resolution_y = int(size)
    r.resolution_percentage = 100
    r.fps, r.fps_base = fps
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = "RGB"
    r.film_transparent = False
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    _set_engine(scene, engine, samples, textured=has_image_texture([obj]))
    return scene, [cam, light], [cam_data, light_data, world]



def _set_engine(scene, engine: str, samples: int, textured: bool = False):
    scene.render.engine = engine
    if engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.samples = max(1, int(samples))
        scene.cycles.use_denoising = False
        scene.cycles.max_bounces = 2
    else:
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "TEXTURE" if textured else "SINGLE"
        shading.single_color = (0.8, 0.62, 0.52)
        shading.show_cavity = False


def _render_frame(scene, frame: int, path: str) -> bool:
    import bpy

    scene.frame_set(frame)
    scene.render.filepath = path
    try:
        bpy.ops.render.render(write_still=True, scene=scene.name)
    except RuntimeError:
        return False
    return os.path.isfile(path)


def _not_blank(path: str) -> bool:
    import cv2

    img = cv2.imread(path)
    return img is not None and float(img.std()) > 2.0


def render_preview_job(obj, path, frame_range=None, side_by_side=None, take=None, size: int = 384,
                       engine: str = "AUTO", samples: int = 4, caption: bool = True, facing: str = "AUTO"):
    """Job: render a preview MP4 of ``obj``'s take; returns :class:`PreviewResult`.

    frame_range: (first, last), default the take's range; side_by_side: a video
    or audio file shown (and heard) beside the face; take: an Action or its name
    (default: the Key's current action); engine: ``AUTO`` (Workbench, else
    Cycles), ``WORKBENCH`` or ``CYCLES``; facing: the world axis the face looks
    along (``-Y``, ``+Z``...; ``AUTO``: the landmark stage's view axis, else -Y).
    """
    import bpy

    from .mesh import require_mesh

    require_mesh(obj, "the character's face mesh")
    size = params.check("preview.size", size, "The preview size")
    path = Path(bpy.path.abspath(str(path))).resolve()
    if path.suffix.lower() != ".mp4":
        path = path.with_suffix(".mp4")
    paths.check_output(str(path), "The preview")
    side = None
    if side_by_side:
        side = Path(bpy.path.abspath(str(side_by_side))).resolve()
        if not side.is_file():
            raise FaceForgeError(f"The driving video/audio for the preview was not found: {side}")
        side_kind(side)  # a video or an audio file, else a clear error now
    key = obj.data.shape_keys
    anim = key.animation_data if key is not None else None
    if isinstance(take, str):
        action = bpy.data.actions.get(take)
        if action is None:
            raise FaceForgeError(f"There is no action named '{take}' to preview")
    else:
        action = take if take is not None else (anim.action if anim is not None else None)
    if frame_range is None:
        if action is None:
            raise FaceForgeError(f"'{obj.name}' has no baked take to preview: animate it first, "
                                 "or give a frame range")
        lo, hi = action.frame_range
        frame_range = (int(round(lo)), int(round(hi)))
    first, last = int(frame_range[0]), int(frame_range[1])
    if last < first:
        raise FaceForgeError(f"The frame range {first}-{last} is empty")
    limits.check_frames(last - first + 1, f"The preview of frames {first}-{last}")
    facing_direction(obj, facing)  # fail early on a bad axis
    engine = engine.upper()
    engines = {"AUTO": ["BLENDER_WORKBENCH", "CYCLES"], "WORKBENCH": ["BLENDER_WORKBENCH"],
               "CYCLES": ["CYCLES"]}.get(engine)
    if engines is None:
        raise FaceForgeError(f"Unknown preview engine '{engine}': use AUTO, WORKBENCH or CYCLES")
    user_scene = bpy.context.scene
    fps = (user_scene.render.fps, user_scene.render.fps_base)
    fps_value = fps[0] / fps[1]
    frames = list(range(first, last + 1))
    tmp = tempfile.mkdtemp(prefix="faceforge-preview-")
    # A scene that is not the window's does not evaluate the Key's animation, so the
    # preview sets the shape-key values itself, frame by frame, with the action
    # detached meanwhile; both come back afterwards.
    blocks = list(key.key_blocks) if key is not None else []
    saved_values = [kb.value for kb in blocks]
    saved_action = anim.action if anim is not None else None
    saved_slot = getattr(anim, "action_slot", None) if saved_action is not None else None
    weights = sample_shape_keys(action, [kb.name for kb in blocks], frames) if action is not None else None
    scene = objs = datas = None
    warnings = []
    used = None
    t0 = time.perf_counter()
    try:
        if anim is not None:
            anim.action = None
        scene, objs, datas = _make_scene(obj, size, engines[0], samples, fps, facing)
        for i, frame in enumerate(frames):
            if weights is not None:
                for kb, value in zip(blocks, weights[i]):
                    kb.value = value
            out = os.path.join(tmp, f"f_{i:06d}.png")
            if used is None:  # the first frame picks the engine that works here
                for candidate in engines:
                    _set_engine(scene, candidate, samples, textured=has_image_texture([obj]))
                    if _render_frame(scene, frame, out) and _not_blank(out):
                        used = candidate
                        break
                    warnings.append(f"{candidate} could not render here; trying the next engine")
                if used is None:
                    raise FaceForgeError("Neither Workbench nor Cycles could render a preview on this machine")
            elif not _render_frame(scene, frame, out):
                raise FaceForgeError(f"Rendering frame {frame} of the preview failed")
            if i % 5 == 0 or i == len(frames) - 1:
                yield Progress(0.8 * (i + 1) / len(frames), f"rendered frame {frame} ({used.lower()})")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if scene is not None:
            bpy.data.scenes.remove(scene)
        for o in objs or ():
            bpy.data.objects.remove(o)
        if datas:
            cam_data, light_data, world = datas
            bpy.data.cameras.remove(cam_data)
            bpy.data.lights.remove(light_data)
            bpy.data.worlds.remove(world)
        for kb, value in zip(blocks, saved_values):
            kb.value = value
        if anim is not None:
            anim.action = saved_action
            if saved_slot is not None and hasattr(anim, "action_slot"):
                anim.action_slot = saved_slot
    seconds_render = time.perf_counter() - t0
    label = (action.name if action is not None else obj.name) if caption else ""
    try:
        t1 = time.perf_counter()
        with paths.writing(str(path)) as partial:  # the MP4 appears whole or not at all
            info = yield Offload(compose_video, (tmp, len(frames), fps_value, partial),
                                 dict(side=str(side) if side else None, label=label, first_frame=first),
                                 report=True, span=(0.8, 1.0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return PreviewResult(path=path, frames=len(frames), fps=fps_value,
                         engine="WORKBENCH" if used == "BLENDER_WORKBENCH" else used,
                         size=info["size"], side_by_side=info["side"], has_audio=info["audio"],
                         seconds_render=seconds_render, seconds_encode=time.perf_counter() - t1,
                         warnings=warnings + info["warnings"])


def render_preview(obj, path_mp4, frame_range=None, side_by_side=None, **kw) -> Path:
    """Render a preview MP4 (see :func:`render_preview_job`); returns its path."""
    return run_sync(render_preview_job(obj, path_mp4, frame_range, side_by_side, **kw), on_progress=None).path
