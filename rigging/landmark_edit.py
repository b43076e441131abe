"""Landmark editing math (pure): the face template, mirroring, manual fitting.

The template (``models/face_template.npz``, made by
``scripts/make_face_template.py``) is a symmetric 478-point face in metres
(looking -Y, +Z up, subject's left +X) plus each landmark's left/right twin.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ..core.errors import FaceForgeError
from .regions import MIRROR
from .transfer import apply_similarity, similarity

TEMPLATE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models",
                             "face_template.npz")

# Key points a user places by hand for the manual path: role -> MediaPipe index.
KEY_POINTS: dict[str, int] = {
    "eye_outer.R": 33, "eye_inner.R": 133, "eye_inner.L": 362, "eye_outer.L": 263,
    "mouth_corner.R": 61, "mouth_corner.L": 291, "nose_tip": 1, "chin": 152,
}


@functools.lru_cache(maxsize=1)
def template() -> tuple[np.ndarray, np.ndarray]:
    """(points (478, 3) float64, mirror (478,) int)."""
    if not os.path.isfile(TEMPLATE_PATH):
        raise FaceForgeError("The face template is missing from the add-on (models/face_template.npz); reinstall it")
    data = np.load(TEMPLATE_PATH)
    return data["points"].astype(np.float64), data["mirror"].astype(np.int64)


def mirror_map() -> np.ndarray:
    """Each landmark's left/right twin (``rigging.regions.MIRROR``; the template's own
    map, found from a real photo, is the same table - tested)."""
    return MIRROR


def midline() -> np.ndarray:
    m = mirror_map()
    return np.nonzero(m == np.arange(len(m)))[0]


def symmetry_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, unit normal) of the face's symmetry plane, from landmark pairs (478, 3).

    The normal is the mean direction from right twins to left twins; the plane
    passes through the mean of all pair midpoints.
    """
    m = mirror_map()
    pairs = np.nonzero(m > np.arange(len(m)))[0]
    d = points[pairs] - points[m[pairs]]
    # orient every pair consistently (left minus right) using the template's x sign
    tx = template()[0][pairs, 0] - template()[0][m[pairs], 0]
    d *= np.sign(tx)[:, None]
    n = d.mean(axis=0)
    n /= np.linalg.norm(n)
    centre = ((points[pairs] + points[m[pairs]]) / 2).mean(axis=0)
    return centre, n


def reflect(points: np.ndarray, plane: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    c, n = plane
    return points - 2.0 * ((points - c) @ n)[:, None] * n


def mirror_edits(old: np.ndarray, new: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Propagate edits to the twins: each moved landmark's twin gets the mirrored move.

    ``old``/``new``: (478, 3) before/after the user's edit.  Where both twins
    moved, the user's own positions win.  Midline points stay as edited.
    """
    m = mirror_map()
    moved = np.linalg.norm(new - old, axis=1) > tol
    plane = symmetry_plane(old)
    out = new.copy()
    twin_moved = moved[m]
    src = np.nonzero(moved & ~twin_moved & (m != np.arange(len(m))))[0]
    out[m[src]] = reflect(new[src], plane)
    return out


def fit_template(key_positions: dict[str, np.ndarray]) -> np.ndarray:
    """All 478 landmarks (478, 3) from a few placed key points (see ``KEY_POINTS``).

    Similarity fit of the template to the key points, then a smooth warp
    (thin-plate RBF) that makes the key points exact.  Needs at least 4 of them.
    """
    from scipy.interpolate import RBFInterpolator

    names = [n for n in KEY_POINTS if n in key_positions]
    if len(names) < 4:
        raise FaceForgeError(f"Place at least 4 key points (have {len(names)}): "
                             + ", ".join(KEY_POINTS))
    tpl = template()[0]
    src = tpl[[KEY_POINTS[n] for n in names]]
    dst = np.array([key_positions[n] for n in names], dtype=np.float64)
    fitted = apply_similarity(tpl, *similarity(src, dst))
    resid = dst - fitted[[KEY_POINTS[n] for n in names]]
    if len(names) >= 5:
        warp = RBFInterpolator(fitted[[KEY_POINTS[n] for n in names]], resid,
                               kernel="thin_plate_spline", degree=1)
        fitted = fitted + warp(fitted)
    return fitted
