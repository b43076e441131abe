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


def mesh_mirror_plane(points: np.ndarray, verts: np.ndarray, normals: np.ndarray, tol: float = 0.02,
                      iterations: int = 30, sample: int = 4000) -> tuple[np.ndarray, np.ndarray] | None:
    """The mirror plane of a mesh round its face, or None where it is not symmetric.

    ``points``: (478, 3) landmarks (they give a first plane, the face region and
    its size); ``verts``, ``normals``: (V, 3) the surface to test (the skin's
    vertices and unit normals).  The plane is refined by symmetric ICP: a fixed
    sample of face vertices is reflected, matched with the nearest vertex, and
    the plane moved to bring the reflections onto the tangent planes of their
    matches (Gauss-Newton on the plane's tilt and offset).  The face counts as
    symmetric when 90 % of the sample has a twin within ``tol`` x the
    eye-corner distance.
    """
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    size = float(np.linalg.norm(points[263] - points[33]))
    centre = points[:468].mean(axis=0)
    radius = float(np.linalg.norm(points[:468] - centre, axis=1).max())
    verts = np.asarray(verts, dtype=np.float64)
    near = np.linalg.norm(verts - centre, axis=1)
    region = verts[near < radius]
    if len(region) < 50 or size <= 0:
        return None
    if len(region) > sample:
        region = region[np.random.default_rng(0).choice(len(region), sample, replace=False)]
    in_pool = near < 1.25 * radius
    pool, pool_n = verts[in_pool], np.asarray(normals, dtype=np.float64)[in_pool]
    tree = cKDTree(pool)
    c, n = symmetry_plane(points)
    e1 = np.cross(n, [0.0, 0.0, 1.0] if abs(n[2]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    base_n, base_c = n, c

    def plane(q):  # q = (tilt along e1, tilt along e2, offset along the normal)
        m = base_n + q[0] * e1 + q[1] * e2
        m /= np.linalg.norm(m)
        return base_c + q[2] * size * m, m

    q = np.zeros(3)
    for _ in range(iterations):
        dist, j = tree.query(reflect(region, plane(q)))
        ok = dist <= max(3.0 * tol * size, np.quantile(dist, 0.5))
        a, b, bn = region[ok], pool[j[ok]], pool_n[j[ok]]

        def residual(qq):
            return np.einsum("ij,ij->i", reflect(a, plane(qq)) - b, bn) / size

        r0 = residual(q)
        jac = np.stack([(residual(q + h) - r0) / 1e-6 for h in np.eye(3) * 1e-6], axis=1)
        step = np.linalg.lstsq(jac, -r0, rcond=None)[0]
        q = q + step
        if np.abs(step).max() < 1e-7:
            break
    c, n = plane(q)
    dist = tree.query(reflect(region, (c, n)))[0]
    return (c, n) if np.quantile(dist, 0.9) <= tol * size else None


def symmetrize(points: np.ndarray, plane: tuple[np.ndarray, np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Each landmark averaged with its twin's reflection (midline points go onto
    the plane); only where both twins are in ``mask`` (478,) bool.  (478, 3)."""
    m = mirror_map()
    mask = np.asarray(mask, bool)
    mask = mask & mask[m]
    out = np.array(points, dtype=np.float64)
    out[mask] = (out[mask] + reflect(out[m], plane)[mask]) / 2.0
    return out


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
