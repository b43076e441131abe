"""Binding image landmarks to a triangle mesh surface (pure numpy/scipy).

Shapes: ``verts`` (N, 3) float, ``tris`` (T, 3) int, rays (L, 3) origins and
unit directions.  A binding is, per landmark, the three vertex indices of the
triangle it lies on and barycentric weights (see ``api/binding.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IRIS = np.arange(468, 478)


@dataclass
class Parts:
    labels: np.ndarray  # (N,) component id per vertex
    areas: np.ndarray  # (C,) surface area per component
    tri_labels: np.ndarray  # (T,) component id per triangle

    def skin_mask(self, min_fraction: float = 0.15) -> np.ndarray:
        """(T,) bool: triangles of the big surfaces (skin), not eyelashes/eyeballs/teeth.

        A component counts as skin when its area is at least ``min_fraction``
        of the largest component's (the head).  Eyeballs, eyelashes, teeth,
        lacrimal glands and the mouth socket are far smaller (the ICT head's
        mouth socket is 11 % of its head).
        """
        big = self.areas >= min_fraction * self.areas.max()
        return big[self.tri_labels]


def triangle_areas(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def mesh_parts(verts: np.ndarray, tris: np.ndarray) -> Parts:
    """Connected components (by shared vertices) and their surface areas."""
    n = len(verts)
    rows = np.concatenate([tris[:, 0], tris[:, 1], tris[:, 2]])
    cols = np.concatenate([tris[:, 1], tris[:, 2], tris[:, 0]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    tri_labels = labels[tris[:, 0]]
    areas = np.bincount(tri_labels, weights=triangle_areas(verts, tris), minlength=count)
    return Parts(labels=labels, areas=areas, tri_labels=tri_labels)


def ray_mesh_hits(origins: np.ndarray, dirs: np.ndarray, verts: np.ndarray, tris: np.ndarray,
                  tri_ids: np.ndarray | None = None, chunk: int = 200_000):
    """Nearest ray/triangle intersection per ray (Moller-Trumbore, vectorised).

    ``tri_ids`` restricts the search to those triangles.  Candidates are
    pre-filtered per ray by the triangle's angular bounding box around the
    ray, so the cost is about (rays x nearby triangles), not rays x all.
    Returns (tri (L,) int, -1 for a miss; t (L,) distance; uv (L, 2)).
    """
    L = len(origins)
    tri_ids = np.arange(len(tris)) if tri_ids is None else np.asarray(tri_ids)
    best_t = np.full(L, np.inf)
    best_tri = np.full(L, -1, dtype=np.int64)
    best_uv = np.zeros((L, 2))
    for start in range(0, len(tri_ids), chunk):
        ids = tri_ids[start:start + chunk]
        v0, v1, v2 = verts[tris[ids, 0]], verts[tris[ids, 1]], verts[tris[ids, 2]]
        e1, e2 = v1 - v0, v2 - v0
        for i in range(L):  # per ray, vectorised over triangles
            d, o = dirs[i], origins[i]
            p = np.cross(d, e2)
            det = np.einsum("ij,ij->i", e1, p)
            ok = np.abs(det) > 1e-14
            inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            s = o - v0
            u = np.einsum("ij,ij->i", s, p) * inv
            q = np.cross(s, e1)
            v = (q @ d) * inv
            t = np.einsum("ij,ij->i", e2, q) * inv
            hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
            if hit.any():
                j = np.argmin(np.where(hit, t, np.inf))
                if t[j] < best_t[i]:
                    best_t[i], best_tri[i], best_uv[i] = t[j], ids[j], (u[j], v[j])
    return best_tri, best_t, best_uv


def closest_on_triangles(points: np.ndarray, verts: np.ndarray, tris: np.ndarray, tri_ids: np.ndarray):
    """For each point, the nearest triangle among ``tri_ids`` (by centroid, then exact
    barycentric projection clamped to the triangle). Returns (tri (L,), bary (L, 3))."""
    from scipy.spatial import cKDTree

    cent = verts[tris[tri_ids]].mean(axis=1)
    _, k = cKDTree(cent).query(points, k=min(24, len(tri_ids)))
    k = np.atleast_2d(k)
    out_tri = np.empty(len(points), dtype=np.int64)
    out_bary = np.empty((len(points), 3))
    for i, cand in enumerate(k):
        best = (np.inf, None, None)
        for c in tri_ids[cand]:
            b = _closest_bary(points[i], *verts[tris[c]])
            q = b @ verts[tris[c]]
            d = np.linalg.norm(q - points[i])
            if d < best[0]:
                best = (d, c, b)
        out_tri[i], out_bary[i] = best[1], best[2]
    return out_tri, out_bary


def _closest_bary(p, a, b, c):
    """Barycentric coordinates of the point of triangle abc closest to p."""
    ab, ac, ap = b - a, c - a, p - a
    d00, d01, d11 = ab @ ab, ab @ ac, ac @ ac
    d20, d21 = ap @ ab, ap @ ac
    den = d00 * d11 - d01 * d01
    if abs(den) < 1e-20:
        return np.array([1.0, 0.0, 0.0])
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.array([1 - v - w, v, w])
    if (bary >= 0).all():
        return bary
    bary = np.clip(bary, 0, None)
    return bary / bary.sum()


def bind_rays(origins: np.ndarray, dirs: np.ndarray, verts: np.ndarray, tris: np.ndarray,
              skin: np.ndarray, any_part: np.ndarray | None = None, depth_gap: float | None = None):
    """Cast landmark rays onto the mesh and bind each to a triangle.

    ``skin`` (T,) bool: triangles landmarks may land on; ``any_part`` (L,)
    bool: landmarks that may land on any part (the iris points on eyeballs).
    A ray that misses the skin, or whose skin hit lies more than ``depth_gap``
    behind the first surface it meets (it went through the eye opening or
    parted lips), is bound to the skin point nearest to where it met that
    first surface, with confidence 0.5.  ``depth_gap`` defaults to 5 % of the
    depth range of the landmarks' hits.

    Returns (tri_verts (L, 3) int32, bary (L, 3), confidence (L,), hit_point (L, 3)).
    """
    L = len(origins)
    any_part = np.zeros(L, bool) if any_part is None else any_part
    skin_ids = np.nonzero(skin)[0]
    # Only front-facing-ish triangles near the rays matter: prefilter by distance to the ray bundle.
    cent = verts[tris].mean(axis=1)
    o = origins[0]
    mean_dir = dirs.mean(axis=0)
    mean_dir /= np.linalg.norm(mean_dir)
    rel = cent - o
    along = rel @ mean_dir
    perp = rel - along[:, None] * mean_dir
    spread = np.max(np.linalg.norm(np.cross(dirs, mean_dir), axis=1)) * along.max() + 1e-9
    near = (along > 0) & (np.linalg.norm(perp, axis=1) <= spread * 1.2 + np.sqrt(triangle_areas(verts, tris)) * 2)
    cand_skin = np.intersect1d(skin_ids, np.nonzero(near)[0])
    cand_all = np.nonzero(near)[0]
    tri_s, t_s, uv_s = ray_mesh_hits(origins, dirs, verts, tris, cand_skin)
    tri_a, t_a, uv_a = ray_mesh_hits(origins, dirs, verts, tris, cand_all)
    tri, uv = tri_s.copy(), uv_s.copy()
    conf = np.where(tri_s >= 0, 1.0, 0.0)
    # Iris points may land on whatever they hit first (the eyeball).
    take_any = any_part & (tri_a >= 0) & ((tri_s < 0) | (t_a < t_s))
    tri[take_any], uv[take_any] = tri_a[take_any], uv_a[take_any]
    conf[take_any] = 1.0
    # A ray whose skin hit lies far behind the first thing it meets went through
    # a hole (the eye opening, parted lips): the landmark belongs on the rim,
    # next to where the ray met that first surface.  Eyelashes lie on the lid,
    # so their skin hit is close behind and is kept.
    hit_depths = t_s[tri_s >= 0]
    gap = depth_gap if depth_gap is not None else 0.05 * (np.ptp(hit_depths) + 1e-9 if len(hit_depths) else 1.0)
    through_hole = (~any_part) & (tri_a >= 0) & ((tri_s < 0) | (t_s - t_a > gap))
    bary = np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)
    tri_verts = np.zeros((L, 3), dtype=np.int32)
    ok = (tri >= 0) & ~through_hole
    tri_verts[ok] = tris[tri[ok]]
    redo = np.nonzero(~ok)[0]
    if len(redo):
        depth = np.where(tri_a[redo] >= 0, t_a[redo],
                         np.median(hit_depths) if len(hit_depths) else 1.0)
        pts = origins[redo] + dirs[redo] * depth[:, None]
        ntri, nbary = closest_on_triangles(pts, verts, tris, cand_skin if len(cand_skin) else skin_ids)
        tri_verts[redo] = tris[ntri]
        bary[redo] = nbary
        conf[redo] = 0.5
    points = np.einsum("lk,lkd->ld", bary, verts[tri_verts])
    return tri_verts, bary, conf, points
