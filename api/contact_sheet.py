"""Contact sheet: every ARKit shape of a mesh rendered in a labelled grid (PNG)."""

from __future__ import annotations

import os

import numpy as np

from ..core.arkit import ARKIT_NAMES
from ..core import paths
from ..core.errors import FaceForgeError, FaceForgeFailure
from ..core.jobs import Progress, run_sync
from . import mesh as mesh_api
from .render import render_view


def face_view(obj):
    """(centre, view_dir, up, radius) framing the face of ``obj`` (world space)."""
    from ..inference.views import CANDIDATE_VIEWS, face_sphere
    from .binding import has_binding, landmark_positions

    if has_binding(obj):
        pos = landmark_positions(obj, world=True)
        centre, radius = face_sphere(pos[:468], margin=0.85)
        view = {v[0]: v for v in CANDIDATE_VIEWS}.get(obj.faceforge.landmarks.view_axis or "-Y",
                                                      CANDIDATE_VIEWS[0])
        return centre, np.array(view[1], float), np.array(view[2], float), radius
    from ..inference.views import bounding_sphere

    c, r = bounding_sphere(mesh_api.mesh_arrays(obj, world=True).verts)
    return c, np.array((0.0, 1.0, 0.0)), np.array((0.0, 0.0, 1.0)), r


# Shapes that are meant on top of an open jaw are shown with it (Apple's captures
# always pair them): mouthClose closes the lips of an open jaw, and a tongue only
# comes out between parted teeth.
SHOWN_WITH: dict[str, dict[str, float]] = {"mouthClose": {"jawOpen": 1.0}, "tongueOut": {"jawOpen": 0.3}}


def tile_label(name: str) -> str:
    extra = SHOWN_WITH.get(name, {})
    return name + "".join(f" +{k} {v:g}" for k, v in extra.items())


def render_shape(obj, name: str | None, weight: float = 1.0, size: int = 256, view=None, extra=None):
    """Render ``obj`` with only shape ``name`` at ``weight`` (None = neutral), plus the
    shapes in ``extra`` ({name: weight}, where the mesh has them); values restored."""
    key = obj.data.shape_keys
    saved = {kb.name: kb.value for kb in key.key_blocks} if key else {}
    anim = key.animation_data if key else None
    saved_action = anim.action if anim else None
    try:
        if anim is not None and saved_action is not None:
            anim.action = None  # an animation would override the values we set
        if key:
            for kb in key.key_blocks:
                kb.value = 0.0
            if name is not None:
                key.key_blocks[name].value = weight
            for other, w in (extra or {}).items():
                if other in key.key_blocks:
                    key.key_blocks[other].value = w
        centre, view_dir, up, radius = view or face_view(obj)
        img, cam = render_view([obj], centre, view_dir, up, radius, resolution=size)
    finally:
        if anim is not None and saved_action is not None:
            anim.action = saved_action
        if key:
            for n, v in saved.items():
                key.key_blocks[n].value = v
    return img, cam


def contact_sheet_job(obj, path: str, size: int = 192, columns: int = 8, names=None):
    """Write the grid PNG to ``path``; returns (path, shapes rendered)."""
    import cv2

    mesh_api.require_mesh(obj)
    key = obj.data.shape_keys
    names = [n for n in (names or ARKIT_NAMES) if key is not None and n in key.key_blocks]
    if not names:
        raise FaceForgeError(f"'{obj.name}' has no ARKit shape keys: generate them first")
    view = face_view(obj)
    tiles = []
    for i, name in enumerate(["neutral"] + names):
        yield Progress(i / (len(names) + 1), f"rendering {name}")
        img, _ = render_shape(obj, None if name == "neutral" else name, size=size, view=view,
                              extra=SHOWN_WITH.get(name))
        tile = img.copy()
        cv2.rectangle(tile, (0, size - 20), (size, size), (0, 0, 0), -1)
        label = tile_label(name)
        scale = 0.42
        width = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
        scale *= min(1.0, (size - 8) / max(width, 1))  # long labels shrink to fit the tile
        cv2.putText(tile, label, (4, size - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * size, columns * size, 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = t
    path = os.path.abspath(path)
    with paths.writing(path) as tmp:  # whole or not at all
        if not cv2.imwrite(tmp, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise FaceForgeFailure(f"OpenCV could not write {path} (use a .png name)")
    yield Progress(1.0, "done")
    return {"path": path, "shapes": len(names)}


def contact_sheet(obj, path: str, **kwargs):
    return run_sync(contact_sheet_job(obj, path, **kwargs))
