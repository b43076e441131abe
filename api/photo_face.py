"""Face from photo: a whole head from one photo, textured, with its landmarks and the 52 ARKit keys.

``face_from_photo_job(path)`` (a job generator, see ``core/jobs.py``):

1. reads the photo (``formats.video.read_image``) and finds its largest face
   (``inference.face_mesh.find_face``; several faces: the largest, and says so);
2. in a worker thread: fits the face model - pose, identity and the photo's expression
   (``facemodel.photo.fit_photo``; refuses a face under 64 px or turned into a profile) - and
   paints the skin from the photo (``facemodel.texture.bake_photo_texture``);
3. on the main thread: builds the head with the expression removed (``api.facemodel``: the Basis is
   the person's neutral face, the 52 ARKit keys straight from the model, ``tongueOut`` included, the
   landmarks bound), and keeps the photo's expression as an Action named after the photo, one key at
   frame 1 on every ARKit key (not assigned: assign it to see the photo's face).

``obj["faceforge_photo"]`` (a JSON string) records the photo, the Action, the fit (turn, residual)
and the photo's camera in the head's object space (:func:`photo_camera` reads it back), so a render
through that camera, with the Action applied, sees the head as the photo did.

Bad input (a missing or unreadable file, an image under 64 px, no face, a tiny face, a profile)
raises a one-sentence FaceForgeError before anything is added to the scene.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

import bpy

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..facemodel.photo import MIN_FACE_PX, fit_photo
from ..facemodel.texture import TEXTURE_SIZE, bake_photo_texture
from ..rigging.camera import PinholeCamera
from . import actions
from .facemodel import build_face_object, remove_head

MAX_SIDE = 2048  # larger photos are reduced to this (the face's texture tile is 1024 texels)


def _photo_path(image_path: str) -> str:
    return os.path.abspath(bpy.path.abspath(image_path)) if image_path else ""


def _fit_and_paint(model, rgb, face, what):
    """Worker: the fit and the texture (pure)."""
    fit = fit_photo(model, face.points, face.image_size, what=what, num_faces=face.num_faces)
    tex = bake_photo_texture(model, fit, rgb)
    return fit, tex


def face_from_photo_job(image_path: str, name: str = "PhotoFace", collection=None):
    """Build the head from a photo; returns a summary with the new object (see the module docstring)."""
    from ..facemodel import load_model
    from ..formats.video import read_image
    from ..inference.face_mesh import find_face

    t0 = time.perf_counter()
    yield Progress(0.0, "reading the photo")
    path = _photo_path(image_path)
    if not path:
        raise FaceForgeError("Choose a photo of a face first")
    what = os.path.basename(path)
    rgb = read_image(path, max_side=MAX_SIDE)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_FACE_PX:
        raise FaceForgeError(f"{what} is only {w}x{h} pixels: a face needs at least {MIN_FACE_PX} px across")
    yield Progress(0.05, "finding the face")
    face = yield Offload(find_face, (rgb,))
    if face is None:
        raise FaceForgeError(f"No face found in {what}: use a clear photo of a face turned toward the camera, "
                             f"at least {MIN_FACE_PX} px across")
    yield Progress(0.25, "fitting the face model and painting the skin")
    model = load_model()
    fit, tex = yield Offload(_fit_and_paint, (model, rgb, face, what))
    yield Progress(0.85, "building the head")
    obj = action = None
    try:
        obj = build_face_object(fit.identity, None, name=name, shape_keys=True, landmarks=True, model=model,
                                collection=collection, texture=tex)
        action = _keep_photo_pose(obj, fit.expression, os.path.splitext(what)[0] or "photo")
        obj["faceforge_photo"] = json.dumps(_record(fit, what, action.name, tex))
        for o in bpy.context.selected_objects:
            o.select_set(False)
        bpy.context.view_layer.objects.active = obj
        obj.select_set(True)
    except BaseException:
        if action is not None:
            bpy.data.actions.remove(action)
        if obj is not None:
            remove_head(obj)
        raise
    yield Progress(1.0, "done")
    note = f"{face.num_faces} faces in the photo: used the largest" if face.num_faces > 1 else ""
    expression = {n: round(float(v), 3) for n, v in zip(ARKIT_NAMES, fit.expression) if v >= 0.05}
    return {"object": obj.name, "vertices": len(obj.data.vertices), "polygons": len(obj.data.polygons),
            "shape_keys": len(obj.data.shape_keys.key_blocks) - 1, "action": action.name, "expression": expression,
            "faces_in_photo": face.num_faces, "note": note, "seconds": round(time.perf_counter() - t0, 2),
            **fit.summary()}


def _keep_photo_pose(obj, expression: np.ndarray, stem: str):
    """The photo's expression as an Action on the head's shape keys (one key at frame 1 on each ARKit
    key), kept with a fake user and not assigned: the head shows its neutral Basis."""
    key = obj.data.shape_keys
    had = key.animation_data.action if key.animation_data else None
    action = actions.bake_shape_keys(obj, list(ARKIT_NAMES), [1], np.asarray(expression, np.float64)[None],
                                     action_name=stem[:60], interpolation="CONSTANT")
    action.use_fake_user = True
    key.animation_data.action = had
    return action


def _record(fit, what: str, action: str, tex) -> dict:
    cam = fit.blender_camera()
    box = [round(float(v), 1) for v in (*fit.points[:, :2].min(0), *fit.points[:, :2].max(0))]
    return {"photo": what, "action": action, "image_size": list(fit.image_size), "face_box": box,
            "focal_px": cam.focal_px,
            "camera": [[float(x) for x in row] for row in cam.cam_to_world], **fit.summary(),
            "skin_srgb": [round(float(x), 4) for x in tex.skin], "iris_srgb": [round(float(x), 4) for x in tex.iris]}


def photo_record(obj) -> dict:
    """What ``face_from_photo`` recorded on a head (empty for any other object)."""
    text = obj.get("faceforge_photo") if obj is not None else None
    return json.loads(text) if isinstance(text, str) else {}


def photo_camera(obj) -> PinholeCamera:
    """The photo's camera in world space (the head's object matrix applied), for renders that see the
    head as the photo did; FaceForgeError for a head not made from a photo."""
    rec = photo_record(obj)
    if not rec:
        raise FaceForgeError(f"'{obj.name}' was not made from a photo")
    w, h = rec["image_size"]
    m = np.array(obj.matrix_world) @ np.array(rec["camera"])
    scale = np.linalg.norm(m[:3, :3], axis=0)
    m[:3, :3] /= scale  # a scaled head: the camera keeps its focal length, moves with the head
    return PinholeCamera(m, float(rec["focal_px"]), int(w), int(h))


def face_from_photo(image_path: str, **kwargs):
    return run_sync(face_from_photo_job(image_path, **kwargs))


__all__ = ["face_from_photo_job", "face_from_photo", "photo_record", "photo_camera", "TEXTURE_SIZE"]
