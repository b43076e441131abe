"""Headless renders of mesh objects to numpy images, with the camera as numpy.

``render_view`` renders only the given objects, from a temporary camera, and
returns the RGB image (H, W, 3) uint8 and the :class:`PinholeCamera` that
made it, so image points can be cast back onto the surface.  Every change to
the scene (temporary camera, render settings, hidden objects) is undone in
``finally``: the scene is left exactly as it was.

Engines: Workbench (fast; needs OpenGL - Mesa's software GL works headless)
with Cycles CPU as the fallback when Workbench cannot start.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile

import numpy as np

import bpy
from mathutils import Matrix

from ..core.errors import FaceForgeError
from ..rigging.camera import PinholeCamera, look_at

SENSOR_MM = 36.0
LENS_MM = 85.0  # a portrait lens: little perspective distortion, like a phone photo at arm's length
_engine_ok: dict[str, bool] = {}
# Workbench settings we pin for every render (the user's scene may have anything).
_SHADING = ("light", "color_type", "studio_light", "show_cavity", "show_shadows", "show_xray",
            "show_object_outline", "show_specular_highlight", "show_backface_culling", "single_color")
_WORLD_NAME = "FaceForge_tmp_world"


@contextlib.contextmanager
def _saved_settings(scene):
    r = scene.render
    saved = dict(engine=r.engine, rx=r.resolution_x, ry=r.resolution_y, pct=r.resolution_percentage,
                 path=r.filepath, fmt=r.image_settings.file_format, mode=r.image_settings.color_mode,
                 cam=scene.camera, transparent=r.film_transparent,
                 use_seq=r.use_sequencer, use_comp=r.use_compositing,
                 shading={k: getattr(scene.display.shading, k) for k in _SHADING},
                 world=scene.world, look=scene.view_settings.look,
                 exposure=scene.view_settings.exposure, gamma=scene.view_settings.gamma,
                 samples=getattr(scene.cycles, "samples", None) if hasattr(scene, "cycles") else None,
                 view=scene.view_settings.view_transform, aa=scene.display.render_aa)
    try:
        yield
    finally:
        r.engine = saved["engine"]
        r.resolution_x, r.resolution_y, r.resolution_percentage = saved["rx"], saved["ry"], saved["pct"]
        r.filepath = saved["path"]
        r.image_settings.file_format, r.image_settings.color_mode = saved["fmt"], saved["mode"]
        scene.camera = saved["cam"]
        r.film_transparent = saved["transparent"]
        r.use_sequencer, r.use_compositing = saved["use_seq"], saved["use_comp"]
        for k, v in saved["shading"].items():
            setattr(scene.display.shading, k, v)
        scene.world = saved["world"]
        scene.view_settings.look = saved["look"]
        scene.view_settings.exposure, scene.view_settings.gamma = saved["exposure"], saved["gamma"]
        if saved["samples"] is not None:
            scene.cycles.samples = saved["samples"]
        scene.view_settings.view_transform = saved["view"]
        scene.display.render_aa = saved["aa"]


def has_image_texture(objs) -> bool:
    """True when any object shows an image texture (e.g. a face made from a photo)."""
    for obj in objs:
        for slot in obj.material_slots:
            mat = slot.material
            if mat and mat.node_tree and any(n.type == "TEX_IMAGE" and n.image for n in mat.node_tree.nodes):
                return True
    return False


def _render_to_array(scene, engine: str) -> np.ndarray:
    import cv2

    fd, path = tempfile.mkstemp(suffix=".png", prefix="faceforge_")
    os.close(fd)
    try:
        scene.render.engine = engine
        scene.render.filepath = path
        bpy.ops.render.render(write_still=True, scene=scene.name)
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError("render wrote no image")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    finally:
        if os.path.exists(path):
            os.remove(path)


def render_view(objects, target, view_dir, up, radius: float, resolution: int = 512,
                engine: str | None = None, samples: int = 8, shading: dict | None = None,
                background=(0.05, 0.05, 0.05), lens_mm: float = LENS_MM,
                aa: str | None = None) -> tuple[np.ndarray, PinholeCamera]:
    """Render ``objects`` looking along ``view_dir`` at a sphere (``target``, ``radius``).

    Returns (rgb (resolution, resolution, 3) uint8, camera).  Other objects are hidden for the
    render; everything is restored afterwards.  ``shading``, ``background``: as
    :func:`render_camera`; ``lens_mm``: the focal length on a 36 mm sensor (the camera stands back
    to frame the sphere); ``aa``: Workbench's anti-aliasing for this render
    (``scene.display.render_aa``: "OFF", "FXAA", "5", "8", ...; None keeps the scene's).
    """
    view_dir = np.asarray(view_dir, float) / np.linalg.norm(view_dir)
    fov = 2.0 * math.atan(SENSOR_MM / 2.0 / lens_mm)
    dist = radius / math.sin(fov / 2.0)
    eye = np.asarray(target, float) - view_dir * dist
    camera = PinholeCamera(np.array(look_at(eye, target, up)), lens_mm / SENSOR_MM * resolution, int(resolution),
                           int(resolution))
    img = render_camera(objects, camera, engine=engine, samples=samples, clip=(dist * 0.01, dist * 10.0),
                        shading=shading, background=background, aa=aa)
    return img, camera


def render_camera(objects, camera: PinholeCamera, engine: str | None = None, samples: int = 8,
                  clip: tuple[float, float] | None = None, light: str = "STUDIO", shading: dict | None = None,
                  background=(0.05, 0.05, 0.05), aa: str | None = None) -> np.ndarray:
    """Render ``objects`` through ``camera`` (any :class:`PinholeCamera`: its size, focal length and
    placement); returns rgb (camera.height, camera.width, 3) uint8.  ``light``: Workbench's
    ``STUDIO`` lighting or ``FLAT`` (unlit: textures show their own colours).  ``shading``: Workbench
    settings (``scene.display.shading`` attributes, e.g. ``studio_light``, ``studiolight_rotate_z``,
    ``show_shadows``) over the defaults; ``background``: the world's colour (linear RGB).  Other
    objects are hidden for the render; everything is restored afterwards.  ``aa``: as
    :func:`render_view`."""
    scene = bpy.context.scene
    objects = list(objects)
    m = np.asarray(camera.cam_to_world, float)
    if clip is None:  # from the objects' boxes
        corners = np.array([np.array(o.matrix_world) @ np.r_[c[:], 1.0] for o in objects for c in o.bound_box])
        dist = np.linalg.norm(corners[:, :3] - m[:3, 3], axis=1) if len(corners) else np.ones(1)
        clip = (max(float(dist.min()) * 0.1, 1e-4), max(float(dist.max()) * 10.0, 1e-3))
    cam_data = bpy.data.cameras.new("FaceForge_tmp_cam")
    cam_data.sensor_width, cam_data.sensor_fit = SENSOR_MM, "HORIZONTAL"
    cam_data.lens = camera.focal_px * SENSOR_MM / camera.width
    cam_data.clip_start, cam_data.clip_end = clip
    cam = bpy.data.objects.new("FaceForge_tmp_cam", cam_data)
    scene.collection.objects.link(cam)
    cam.matrix_world = Matrix(m.tolist())  # Matrix() takes rows (a plain nested list would be columns)
    world = bpy.data.worlds.new(_WORLD_NAME)
    world.color = tuple(background)
    hidden = []
    shading = dict(shading or {})
    saved_extra = {k: getattr(scene.display.shading, k) for k in shading if k not in _SHADING}
    try:
        for obj in scene.objects:
            if obj not in objects and obj is not cam and not obj.hide_render:
                obj.hide_render = True
                hidden.append(obj)
        with _saved_settings(scene):
            scene.camera = cam
            r = scene.render
            r.resolution_x, r.resolution_y = int(camera.width), int(camera.height)
            r.resolution_percentage = 100
            r.image_settings.file_format, r.image_settings.color_mode = "PNG", "RGB"
            r.film_transparent = False
            r.use_sequencer = r.use_compositing = False
            scene.view_settings.view_transform = "Standard"
            scene.view_settings.look, scene.view_settings.exposure, scene.view_settings.gamma = "None", 0.0, 1.0
            textured = has_image_texture(objects)
            sh = scene.display.shading
            sh.light = light
            if light == "STUDIO":
                sh.studio_light = "Default"
            sh.color_type = "TEXTURE" if textured else "MATERIAL"
            sh.show_cavity = sh.show_shadows = sh.show_xray = sh.show_object_outline = False
            sh.show_specular_highlight, sh.show_backface_culling = True, False
            for k, v in shading.items():
                setattr(sh, k, v)
            scene.world = world
            if aa is not None:
                scene.display.render_aa = aa
            if hasattr(scene, "cycles"):
                scene.cycles.samples = samples
                scene.cycles.device = "CPU"
                scene.cycles.use_denoising = False
            engines = [engine] if engine else ["BLENDER_WORKBENCH", "CYCLES"]
            img, last_err = None, None
            for eng in engines:
                if _engine_ok.get(eng) is False:
                    continue
                try:
                    img = _render_to_array(scene, eng)
                    _engine_ok[eng] = True
                    break
                except Exception as exc:  # this engine can't run here: try the next
                    _engine_ok[eng] = False
                    last_err = exc
            if img is None:
                raise FaceForgeError(f"Could not render the mesh with {', '.join(engines)}: {last_err}")
    finally:
        for k, v in saved_extra.items():
            setattr(scene.display.shading, k, v)
        for obj in hidden:
            obj.hide_render = False
        bpy.data.objects.remove(cam)
        bpy.data.cameras.remove(cam_data)
        bpy.data.worlds.remove(world)
    return img
