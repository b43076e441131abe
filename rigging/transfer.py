"""Correspondence between meshes: similarity fit, smooth landmark-guided warp, closest points
(shape keys carried from a reference head: ``rigging.reference``).

Also used to bind landmark positions to a mesh surface (triangle + barycentric weights).

Shapes: points (N, 3) float64; triangles (T, 3) int.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.spatial import cKDTree


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None):
    """Umeyama: scale s, rotation Rm (3x3), translation t with ``dst ~ s * src @ Rm.T + t``
    (least squares, optionally weighted per point: ``weights`` (N,) >= 0)."""
    src = np.asarray(src, float)
    dst = np.asarray(dst, float)
    w = np.full(len(src), 1.0 / len(src)) if weights is None else np.asarray(weights, float) / np.sum(weights)
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    cov = (b * w[:, None]).T @ a
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rm = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / (w @ (a ** 2).sum(axis=1)))
    t = md - s * ms @ rm.T
    return s, rm, t


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """The rotation(s) nearest to the 3x3 matrix or stack (..., 3, 3) ``m`` (polar decomposition)."""
    u, _, vt = np.linalg.svd(np.asarray(m, dtype=np.float64))
    flip = np.linalg.det(u @ vt) < 0
    u[..., :, 2] = np.where(np.asarray(flip)[..., None], -u[..., :, 2], u[..., :, 2])
    return u @ vt


def apply_similarity(p, s, rm, t):
    return s * np.asarray(p, float) @ rm.T + t


def smooth_warp(src_ctrl: np.ndarray, dst_ctrl: np.ndarray, points: np.ndarray, smoothing: float = 0.0,
                scale: float = 1.0) -> np.ndarray:
    """Move ``points`` by the thin-plate interpolation of the control displacements."""
    disp = dst_ctrl - src_ctrl
    rbf = RBFInterpolator(src_ctrl / scale, disp, kernel="thin_plate_spline", smoothing=smoothing,
                          degree=1)
    return points + rbf(points / scale)


def closest_points_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """Closest point on each triangle (a, b, c) to each point p (all (N, 3)); returns (point, bary).

    Ericson's regions (Real-Time Collision Detection, 5.1.5), evaluated for all pairs at once."""
    def dot(x, y):  # summed as ``(x * y).sum(1)`` sums, to the last bit
        return x[:, 0] * y[:, 0] + x[:, 1] * y[:, 1] + x[:, 2] * y[:, 2]

    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = dot(ab, ap), dot(ac, ap)
    bp = p - b
    d3, d4 = dot(ab, bp), dot(ac, bp)
    cp = p - c
    d5, d6 = dot(ab, cp), dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = vb / denom
        w = vc / denom
        u = 1 - v - w
        # edge regions (later ones win where regions overlap)
        m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
        t = d1 / (d1 - d3)
        u, v, w = np.where(m, 1 - t, u), np.where(m, t, v), np.where(m, 0 * t, w)
        m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
        t = d2 / (d2 - d6)
        u, v, w = np.where(m, 1 - t, u), np.where(m, 0 * t, v), np.where(m, t, w)
        m = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        u, v, w = np.where(m, 0 * t, u), np.where(m, 1 - t, v), np.where(m, t, w)
    # vertex regions
    for m, corner in (((d1 <= 0) & (d2 <= 0), 0), ((d3 >= 0) & (d4 <= d3), 1), ((d6 >= 0) & (d5 <= d6), 2)):
        u, v, w = np.where(m, corner == 0, u), np.where(m, corner == 1, v), np.where(m, corner == 2, w)
    bary = np.nan_to_num(np.stack([u, v, w], axis=1), nan=1.0 / 3)
    q = bary[:, :1] * a + bary[:, 1:2] * b + bary[:, 2:] * c
    return q, bary


@dataclass
class SurfacePoints:
    tri: np.ndarray  # (P,) triangle index
    verts: np.ndarray  # (P, 3) vertex indices
    bary: np.ndarray  # (P, 3)
    points: np.ndarray  # (P, 3)
    distance: np.ndarray  # (P,)

    def on(self, coords: np.ndarray) -> np.ndarray:
        return np.einsum("pk,pkd->pd", self.bary, coords[self.verts])


class TriangleSet:
    """Closest points on the triangles ``tri_ids`` of a mesh, for many queries: a k-d tree of
    their centroids built once; each point is tested exactly against the ``k`` triangles whose
    centroids are nearest (among those it may use), ties to the nearer centroid."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, tri_ids: np.ndarray, k: int = 24):
        self.verts = np.asarray(verts, np.float64)
        self.tri_ids = np.asarray(tri_ids, np.int64)
        self.corners = np.asarray(tris)[self.tri_ids]
        self.centroids = self.verts[self.corners].mean(axis=1)
        self.tree = cKDTree(self.centroids)
        self.k = min(k, len(self.tri_ids))

    def closest(self, points: np.ndarray, allowed: np.ndarray | None = None, chunk: int = 200_000):
        """(tri (P,) indices into the mesh's triangles, bary (P, 3)) of each point's closest
        point.  ``allowed`` (P, len(tri_ids)) bool: the triangles each point may land on (each
        point needs one); the candidates are then its nearest ``k`` allowed centroids.  About
        ``chunk`` point-triangle pairs at a time."""
        points = np.atleast_2d(np.asarray(points, np.float64))
        tri, bary = np.zeros(len(points), np.int64), np.zeros((len(points), 3))
        step = max(1, chunk // max(self.k, 1))
        for s in range(0, len(points), step):
            sl = slice(s, s + step)
            tri[sl], bary[sl] = self._closest(points[sl], None if allowed is None else allowed[sl])
        return tri, bary

    def _closest(self, points: np.ndarray, allowed: np.ndarray | None):
        n, k = len(self.tri_ids), self.k
        if allowed is None:
            _, cand = self.tree.query(points, k=k)
            cand = cand.reshape(len(points), k)
            pick = np.ones(cand.shape, bool)
        else:
            # the nearest centroids, more of them until every point has k allowed ones (or all)
            allowed = np.asarray(allowed, bool)
            kq = min(n, 4 * k)
            while True:
                _, cand = self.tree.query(points, k=kq)
                cand = cand.reshape(len(points), kq)
                ok = np.take_along_axis(allowed, cand, axis=1)
                if kq == n or (ok.sum(axis=1) >= np.minimum(k, allowed.sum(axis=1))).all():
                    break
                kq = min(n, 4 * kq)
            pick = ok & (np.cumsum(ok, axis=1) <= k)
        owner, col = np.nonzero(pick)  # row-major: each point's candidates nearest first
        tt = self.corners[cand[owner, col]]
        q, b = closest_points_on_triangles(points[owner], self.verts[tt[:, 0]], self.verts[tt[:, 1]],
                                           self.verts[tt[:, 2]])
        d = np.linalg.norm(q - points[owner], axis=1)
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        dmin = np.minimum.reduceat(d, starts)
        hit = np.flatnonzero(d <= dmin[np.searchsorted(owner[starts], owner)])
        first = hit[np.r_[True, owner[hit][1:] != owner[hit][:-1]]]  # ties: the nearer centroid
        return self.tri_ids[cand[owner[first], col[first]]], b[first]


def closest_points(verts: np.ndarray, tris: np.ndarray, points: np.ndarray, k: int = 12,
                   tri_mask: np.ndarray | None = None, chunk: int = 200_000) -> SurfacePoints:
    """Closest surface point of each query point among (optionally masked) triangles
    (:class:`TriangleSet`)."""
    tris = np.asarray(tris)
    idx_all = np.arange(len(tris)) if tri_mask is None else np.flatnonzero(tri_mask)
    points = np.asarray(points, float)
    tri, bary = TriangleSet(verts, tris, idx_all, k=k).closest(points, chunk=chunk)
    corners = tris[tri]
    pts = np.einsum("pk,pkd->pd", bary, np.asarray(verts, float)[corners])
    return SurfacePoints(tri=tri, verts=corners, bary=bary, points=pts, distance=np.linalg.norm(pts - points, axis=1))


def fit_landmarks(template: np.ndarray, template_ctrl: np.ndarray, target_ctrl: np.ndarray,
                  smoothing: float = 1e-3) -> np.ndarray:
    """Place a template's points on a target from sparse correspondences (similarity + smooth warp).

    ``template`` (P, 3) all template points; ``template_ctrl``/``target_ctrl`` (C, 3)
    corresponding control points.  Returns the template points in target space.
    """
    s, rm, t = similarity(template_ctrl, target_ctrl)
    moved = apply_similarity(template, s, rm, t)
    ctrl = apply_similarity(template_ctrl, s, rm, t)
    size = float(np.ptp(target_ctrl, axis=0).max())
    return smooth_warp(ctrl, target_ctrl, moved, smoothing=smoothing, scale=size)
