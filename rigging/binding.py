"""Binding image landmarks to a triangle mesh surface (pure numpy/scipy).

Shapes: ``verts`` (N, 3) float, ``tris`` (T, 3) int, rays (L, 3) origins and
unit directions.  A binding is, per landmark, the three vertex indices of the
triangle it lies on and barycentric weights (:class:`Binding`; ``api/binding.py``
stores it on the object).  :func:`bind_landmarks` is the whole binding step of
landmark detection: rays from the camera through the detected pixels, the
face's outline snapped to the mesh's occluding contour, and (on a
mirror-symmetric mesh) the landmarks made symmetric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .transfer import TriangleSet

IRIS = np.arange(468, 478)


@dataclass
class Binding:
    """Landmarks bound to a surface: per landmark a triangle and barycentric weights on it."""
    verts: np.ndarray  # (L, 3) int32 mesh vertex indices of the triangle
    bary: np.ndarray  # (L, 3) float64 barycentric weights (rows sum to 1)
    confidence: np.ndarray  # (L,) float64

    def positions(self, coords: np.ndarray) -> np.ndarray:
        """Landmark positions (L, 3) on a mesh whose vertices are ``coords`` (N, 3)."""
        return np.einsum("lk,lkd->ld", self.bary, coords[self.verts])


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
    n = np.cross(b - a, c - a)
    return 0.5 * np.sqrt(n[:, 0] ** 2 + n[:, 1] ** 2 + n[:, 2] ** 2)  # columns: axis=1 is slow on 3


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
                  tri_ids: np.ndarray | None = None, grid: int | None = None):
    """Nearest ray/triangle intersection per ray (Moller-Trumbore).

    ``tri_ids`` restricts the search to those triangles.  Rays from one
    origin (a pinhole camera) are accelerated with a screen-space grid: each
    triangle is binned by its projected bounding box, and each ray is tested
    only against the triangles of its cell, so the cost barely depends on the
    mesh size.  ``grid``: cells a side (default about 3 per ray's share of a side).
    Returns (tri (L,) int, -1 for a miss; t (L,) distance; uv (L, 2)).
    """
    return _nearest_hits(len(origins), *_ray_hits(origins, dirs, verts, tris, tri_ids, grid))


def _ray_hits(origins, dirs, verts, tris, tri_ids=None, grid=None):
    """Every ray/triangle intersection: (ray (H,), tri (H,), t (H,), uv (H, 2)), grouped by ray."""
    tri_ids = np.arange(len(tris)) if tri_ids is None else np.asarray(tri_ids)
    out = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 2))]
    if not len(origins) or not len(tri_ids):
        return out
    if np.allclose(origins, origins[0]):
        if grid is None:  # finer cells put each triangle in more of them: they cost more than tests
            grid = int(np.clip(3.0 * np.sqrt(len(origins)), 16, 256))
        chunks = [_candidates(origins, dirs, verts, tris, tri_ids, grid)]
    else:  # general rays: every triangle, a few rays at a time
        step = max(1, 200_000 // len(tri_ids))
        chunks = (np.broadcast_to(np.arange(s, min(s + step, len(origins)))[:, None], (min(step, len(origins) - s),
                                  len(tri_ids))).ravel() for s in range(0, len(origins), step))
        chunks = ((r, np.tile(tri_ids, len(r) // len(tri_ids))) for r in chunks)
    for ray, cand in chunks:
        for s in range(0, len(ray), 1_000_000):  # bounded memory
            r, c = ray[s:s + 1_000_000], cand[s:s + 1_000_000]
            v0 = verts[tris[c, 0]]
            e1, e2 = verts[tris[c, 1]] - v0, verts[tris[c, 2]] - v0
            d, o = dirs[r], origins[r]
            p = np.cross(d, e2)
            det = np.einsum("ij,ij->i", e1, p)
            ok = np.abs(det) > 1e-14
            inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            sv = o - v0
            u = np.einsum("ij,ij->i", sv, p) * inv
            q = np.cross(sv, e1)
            v = np.einsum("ij,ij->i", q, d) * inv
            t = np.einsum("ij,ij->i", e2, q) * inv
            hit = np.flatnonzero(ok & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & (t > 0))
            out = [np.concatenate([h, val]) for h, val in
                   zip(out, (r[hit], c[hit], t[hit], np.stack([u[hit], v[hit]], axis=1)))]
    return out


def _nearest_hits(n_rays: int, ray, tri, t, uv, keep=None):
    """Per ray, its nearest intersection among ``_ray_hits``' (those with ``keep`` (T,) bool
    true for their triangle): (tri (L,) -1 for none, t (L,), uv (L, 2) clamped to 0..1)."""
    best_t = np.full(n_rays, np.inf)
    best_tri = np.full(n_rays, -1, dtype=np.int64)
    best_uv = np.zeros((n_rays, 2))
    if keep is not None:
        sel = keep[tri]
        ray, tri, t, uv = ray[sel], tri[sel], t[sel], uv[sel]
    if not len(ray):
        return best_tri, best_t, best_uv
    order = np.lexsort((t, ray))  # by ray, nearest first
    first = order[np.r_[True, ray[order][1:] != ray[order][:-1]]]
    r = ray[first]
    best_t[r], best_tri[r], best_uv[r] = t[first], tri[first], np.clip(uv[first], 0.0, 1.0)
    return best_tri, best_t, best_uv


def _candidates(origins, dirs, verts, tris, tri_ids, grid):
    """The (ray, triangle) pairs (triangles of ``tri_ids``) that can intersect, rays from one
    origin: (ray (P,), tri (P,))."""
    o = origins[0]
    fwd = dirs.mean(axis=0)
    fwd /= np.linalg.norm(fwd)
    xax = np.cross(fwd, [0.0, 0.0, 1.0] if abs(fwd[2]) < 0.9 else [1.0, 0.0, 0.0])
    xax /= np.linalg.norm(xax)
    yax = np.cross(xax, fwd)
    rd = dirs @ fwd
    ray_xy = np.stack([(dirs @ xax) / rd, (dirs @ yax) / rd], axis=1)
    rel = verts - o
    z = rel @ fwd
    front = z > 1e-12
    vxy = np.stack([(rel @ xax) / np.where(front, z, 1.0), (rel @ yax) / np.where(front, z, 1.0)], axis=1)
    tv = tris[tri_ids]
    keep = front[tv].all(axis=1)
    ids, tv = tri_ids[keep], tv[keep]
    lo, hi = vxy[tv].min(axis=1), vxy[tv].max(axis=1)
    pad = 1e-9 + 1e-6 * np.ptp(ray_xy, axis=0).max()
    g_lo, g_hi = ray_xy.min(axis=0) - pad, ray_xy.max(axis=0) + pad
    inside = (hi >= g_lo).all(axis=1) & (lo <= g_hi).all(axis=1)
    ids, lo, hi = ids[inside], lo[inside], hi[inside]
    cell = (g_hi - g_lo) / grid
    c0 = np.clip(np.floor((lo - g_lo) / cell), 0, grid - 1).astype(np.int64)
    c1 = np.clip(np.floor((hi - g_lo) / cell), 0, grid - 1).astype(np.int64)
    nx, ny = c1[:, 0] - c0[:, 0] + 1, c1[:, 1] - c0[:, 1] + 1
    counts = nx * ny
    rep = np.repeat(np.arange(len(ids)), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cx = c0[rep, 0] + offs % nx[rep]
    cy = c0[rep, 1] + offs // nx[rep]
    keys = cx * grid + cy
    order = np.argsort(keys, kind="stable")
    keys, members = keys[order], ids[rep[order]]
    rc = np.clip(np.floor((ray_xy - g_lo) / cell), 0, grid - 1).astype(np.int64)
    rkeys = rc[:, 0] * grid + rc[:, 1]
    starts = np.searchsorted(keys, rkeys, side="left")
    counts = np.searchsorted(keys, rkeys, side="right") - starts
    ray = np.repeat(np.arange(len(rkeys)), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return ray, members[np.repeat(starts, counts) + offs]


def closest_on_triangles(points: np.ndarray, verts: np.ndarray, tris: np.ndarray, tri_ids: np.ndarray):
    """For each point, the nearest point on the triangles ``tri_ids``.
    Returns (tri (L,), bary (L, 3))."""
    return TriangleSet(verts, tris, tri_ids).closest(points)


def rim_sides(count: int = 478) -> np.ndarray:
    """(L,) +1 for landmarks on an upper rim (upper eyelids, upper inner lip),
    -1 for lower rims, 0 elsewhere: where a landmark seen through an opening belongs."""
    from . import regions as R

    side = np.zeros(count, dtype=np.int8)
    for ids, s in ((R.EYE_LEFT_UPPER, 1), (R.EYE_RIGHT_UPPER, 1), (R.UPPER_LIP_INNER, 1),
                   (R.EYE_LEFT_LOWER, -1), (R.EYE_RIGHT_LOWER, -1), (R.LOWER_LIP_INNER, -1)):
        inner = [i for i in ids[1:-1] if i < count]  # corners belong to both
        side[inner] = s
    return side


def bind_rays(origins: np.ndarray, dirs: np.ndarray, verts: np.ndarray, tris: np.ndarray,
              skin: np.ndarray, any_part: np.ndarray | None = None, depth_gap: float | None = None,
              up: np.ndarray | None = None, rim_side: np.ndarray | None = None):
    """Cast landmark rays onto the mesh and bind each to a triangle.

    ``skin`` (T,) bool: triangles landmarks may land on; ``any_part`` (L,)
    bool: landmarks that may land on any part (the iris points on eyeballs).
    A ray that misses the skin, or whose skin hit lies more than ``depth_gap``
    behind the first surface it meets (it went through the eye opening or
    parted lips), is bound to the skin point nearest to where it met that
    first surface, with confidence 0.5; with ``up`` (the image's up vector)
    and ``rim_side`` (see :func:`rim_sides`) an upper-rim landmark only snaps
    to skin above that point and a lower-rim one only below.  ``depth_gap`` defaults to 5 % of the
    depth range of the landmarks' hits.

    Returns (tri_verts (L, 3) int32, bary (L, 3), confidence (L,), hit_point (L, 3)).
    """
    L = len(origins)
    any_part = np.zeros(L, bool) if any_part is None else any_part
    skin_ids = np.nonzero(skin)[0]
    cand_all = np.arange(len(tris))
    pairs = _ray_hits(origins, dirs, verts, tris, cand_all)  # one pass for the skin and for any part
    tri_s, t_s, uv_s = _nearest_hits(L, *pairs, keep=np.asarray(skin, bool))
    tri_a, t_a, uv_a = _nearest_hits(L, *pairs)
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
    with np.errstate(invalid="ignore"):
        far_behind = np.where(tri_s >= 0, t_s - np.where(tri_a >= 0, t_a, t_s), 0.0) > gap
    through_hole = (~any_part) & (tri_a >= 0) & ((tri_s < 0) | far_behind)
    bary = np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)
    tri_verts = np.zeros((L, 3), dtype=np.int32)
    ok = (tri >= 0) & ~through_hole
    tri_verts[ok] = tris[tri[ok]]
    redo = np.nonzero(~ok)[0]
    if len(redo):
        depth = np.where(tri_a[redo] >= 0, t_a[redo],
                         np.median(hit_depths) if len(hit_depths) else 1.0)
        pts = origins[redo] + dirs[redo] * depth[:, None]
        pool = TriangleSet(verts, tris, skin_ids)
        ntri, nbary = pool.closest(pts)
        if up is not None and rim_side is not None:
            rim = np.flatnonzero(rim_side[redo] != 0)
            # a rim landmark only on skin above (upper rims) or below (lower rims) where it met the surface
            side = rim_side[redo[rim], None] * (pool.centroids @ up - (pts[rim] @ up)[:, None]) > 0
            rim, side = rim[side.any(axis=1)], side[side.any(axis=1)]
            if len(rim):
                ntri[rim], nbary[rim] = pool.closest(pts[rim], allowed=side)
        tri_verts[redo] = tris[ntri]
        bary[redo] = nbary
        conf[redo] = 0.5
    points = np.einsum("lk,lkd->ld", bary, verts[tri_verts])
    return tri_verts, bary, conf, points


def vertex_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (N, 3) of the triangles ``tris`` (sums by bincount)."""
    tris = np.asarray(tris, np.int64)
    fn = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    idx = tris.ravel()
    vn = np.stack([np.bincount(idx, weights=np.repeat(fn[:, c], 3), minlength=len(verts)) for c in range(3)], axis=1)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-30)


def contour_edges(cam_pos: np.ndarray, verts: np.ndarray, tris: np.ndarray, tri_ids: np.ndarray) -> np.ndarray:
    """Occluding-contour edges (E, 2) of the triangles ``tri_ids`` seen from ``cam_pos``:
    edges shared by a triangle facing the camera and one facing away."""
    t = tris[tri_ids]
    a, b, c = verts[t[:, 0]], verts[t[:, 1]], verts[t[:, 2]]
    facing = np.einsum("ij,ij->i", np.cross(b - a, c - a), (a + b + c) / 3.0 - cam_pos) < 0
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    f = np.tile(facing, 3)
    e = np.sort(e, axis=1)
    key = e[:, 0].astype(np.int64) * (len(verts) + 1) + e[:, 1]
    order = np.argsort(key, kind="stable")
    key, e, f = key[order], e[order], f[order]
    pair = np.nonzero(key[1:] == key[:-1])[0]
    pair = pair[f[pair] != f[pair + 1]]
    return e[pair]


def snap_to_contour(cam, pixels: np.ndarray, hit_points: np.ndarray, verts: np.ndarray, tris: np.ndarray,
                    skin: np.ndarray, max_px: float, face_size: float | None = None,
                    normals: np.ndarray | None = None):
    """Move landmarks seen on the face's outline onto the mesh's occluding contour.

    A landmark on the outline (MediaPipe's face oval) is seen where the surface
    turns away from the camera: its ray grazes the surface, so the first hit
    can lie far in front of the true point although the pixel is right; or the
    ray just misses the outline and hits something behind it (an ear).  For
    each landmark, the candidates are the visible contour points within
    ``max_px`` pixels of it in the image and within 35 % of ``face_size``
    (default: the landmarks' extent) of its hit - not the neck's outline below
    the jaw.  The front-most candidate (an ear's rim lies behind the face's
    outline) replaces the hit when it is on the side of the face (its normal
    within about 20 degrees of the image's horizontal, where the outline runs
    up the cheek) or when the hit lies more than 5 % of ``face_size`` behind
    it.  Along the jaw's lower edge, where the surface faces down, a hit in
    front of the contour (the jaw line an annotator would pick, the chin seen
    from the front) is kept.

    ``cam``: a :class:`~faceforge.rigging.camera.PinholeCamera`; ``pixels`` (L, 2);
    ``hit_points`` (L, 3) the ray hits; ``skin`` (T,) bool; ``normals`` (V, 3) the
    skin's vertex normals (``vertex_normals(verts, tris[skin])``) where the caller has them.
    Returns (points (L, 3), snapped (L,) bool).
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    out = np.array(hit_points, dtype=np.float64)
    snapped = np.zeros(len(out), dtype=bool)
    skin_ids = np.nonzero(skin)[0]
    if len(out) == 0 or len(skin_ids) == 0:
        return out, snapped
    cam_pos = cam.position
    up = cam.cam_to_world[:3, 1]
    vn = vertex_normals(verts, tris[skin_ids]) if normals is None else normals
    size = face_size if face_size else float(np.ptp(out, axis=0).max()) or float(np.ptp(verts, axis=0).max())
    gap, reach_3d = 0.05 * size, 0.35 * size
    edges = contour_edges(cam_pos, verts, tris, skin_ids)
    if len(edges) == 0:
        return out, snapped
    p0, _ = cam.project(verts[edges[:, 0]])
    p1, _ = cam.project(verts[edges[:, 1]])
    # only edges near the landmarks, then keep the visible ones
    mid = (p0 + p1) / 2.0
    reach = max_px + np.linalg.norm(p1 - p0, axis=1)
    dmin = np.min(np.linalg.norm(mid[:, None, :] - pixels[None, :, :], axis=2), axis=1)
    near = dmin <= reach
    edges, p0, p1 = edges[near], p0[near], p1[near]
    if len(edges) == 0:
        return out, snapped
    m3 = verts[edges].mean(axis=1)
    dirs = m3 - cam_pos
    dist = np.linalg.norm(dirs, axis=1)
    dirs /= dist[:, None]
    tri_v, t_v, _ = ray_mesh_hits(np.repeat(cam_pos[None], len(m3), axis=0), dirs, verts, tris)
    visible = (tri_v < 0) | (t_v >= dist * (1.0 - 1e-3))
    edges, p0, p1 = edges[visible], p0[visible], p1[visible]
    if len(edges) == 0:
        return out, snapped
    seg = p1 - p0
    seg_len2 = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-30)
    hit_dist = np.linalg.norm(out - cam_pos, axis=1)
    for li in range(len(out)):
        s = np.clip(np.einsum("ij,ij->i", pixels[li] - p0, seg) / seg_len2, 0.0, 1.0)
        q = p0 + s[:, None] * seg
        dd = np.linalg.norm(q - pixels[li], axis=1)
        close = np.nonzero(dd <= max_px)[0]
        if len(close) == 0:
            continue
        # the face's outline is the front-most contour there (an ear's rim lies
        # behind it), but not one far from the hit (the neck's, below the jaw)
        pts = verts[edges[close, 0]] + s[close, None] * (verts[edges[close, 1]] - verts[edges[close, 0]])
        near_hit = np.linalg.norm(pts - out[li], axis=1) <= reach_3d
        if not near_hit.any():
            continue
        close, pts = close[near_hit], pts[near_hit]
        k = int(np.argmin(np.linalg.norm(pts - cam_pos, axis=1)))
        point = pts[k]
        e = edges[close[k]]
        nc = vn[e[0]] + s[close[k]] * (vn[e[1]] - vn[e[0]])
        side_contour = abs(nc @ up) < 0.35 * np.linalg.norm(nc)
        if side_contour or hit_dist[li] - np.linalg.norm(point - cam_pos) > gap:
            out[li] = point
            snapped[li] = True
    return out, snapped


# --- the binding step of landmark detection -------------------------------------------

def rough_positions(origins: np.ndarray, dirs: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Where the rays (L, 3) pass the head's centre plane, moved half a ``radius`` towards
    the camera: enough to frame a close-up of the face (no mesh needed)."""
    n = dirs.mean(axis=0)
    n /= np.linalg.norm(n)
    t = ((centre - origins) @ n) / (dirs @ n)
    return origins + dirs * t[:, None] - n * radius * 0.5


def bind_landmarks(cam, points_px: np.ndarray, verts: np.ndarray, tris: np.ndarray,
                   symmetric: bool = True) -> tuple[Binding, bool]:
    """Bind landmarks detected in a render to the mesh they were seen on.

    cam: the render's :class:`rigging.camera.PinholeCamera`; points_px: (L, 2+)
    pixels (478 Face Mesh points, irises last); verts (N, 3) / tris (T, 3): the
    mesh in the camera's (world) space.  Each point is cast onto the skin (the
    big surfaces; the irises may land on the eyeball), the face's outline is
    snapped to the occluding contour, and with ``symmetric`` on a mirror-symmetric
    mesh every landmark but the irises is averaged with its twin's reflection.
    Returns (binding with per-landmark confidence in 0..1, whether it was made symmetric).
    """
    from .regions import FACE_OVAL

    parts = mesh_parts(verts, tris)
    skin = parts.skin_mask()
    skin_ids = np.nonzero(skin)[0]
    normals = vertex_normals(verts, tris[skin_ids])  # the outline and the mirror plane
    origins, dirs = cam.rays(points_px[:, :2])
    any_part = np.zeros(len(points_px), bool)
    any_part[IRIS[IRIS < len(points_px)]] = True
    up = cam.cam_to_world[:3, 1]
    tri_verts, bary, conf, hits = bind_rays(origins, dirs, verts, tris, skin, any_part,
                                            up=up, rim_side=rim_sides(len(points_px)))
    # The face's outline: grazing rays put the hit in front of the true point.
    oval = np.array([i for i in FACE_OVAL if i < len(points_px)])
    if len(oval):
        iod_px = float(np.linalg.norm(points_px[263, :2] - points_px[33, :2])) if len(points_px) > 263 else 0.0
        moved, snapped = snap_to_contour(cam, points_px[oval, :2], hits[oval], verts, tris, skin,
                                         max_px=max(2.0, 0.05 * iod_px), normals=normals)
        if snapped.any():
            ids = oval[snapped]
            ntri, nbary = closest_on_triangles(moved[snapped], verts, tris, skin_ids)
            tri_verts[ids], bary[ids] = tris[ntri], nbary
    binding = Binding(tri_verts, bary, conf)
    mirrored = False
    if symmetric and len(points_px) == 478:
        mirrored = symmetrize_binding(binding, verts, tris, skin_ids, normals, keep=any_part)
    return binding, mirrored


def symmetrize_binding(binding: Binding, verts: np.ndarray, tris: np.ndarray, skin_ids: np.ndarray,
                       normals: np.ndarray, keep: np.ndarray) -> bool:
    """On a mirror-symmetric face, average each landmark but ``keep`` (the irises,
    on the eyeball) with its twin's reflection and bind it to the nearest skin
    triangle (``skin_ids``) again, in place.  ``normals``: (N, 3) vertex normals of
    the skin.  Returns whether the face was symmetric (else nothing changed)."""
    from . import landmark_edit

    skin_verts = np.unique(tris[skin_ids])
    pos = binding.positions(verts)
    plane = landmark_edit.mesh_mirror_plane(pos, verts[skin_verts], normals[skin_verts])
    if plane is None:
        return False
    mask = ~keep
    sym = landmark_edit.symmetrize(pos, plane, mask)
    ntri, nbary = closest_on_triangles(sym[mask], verts, tris, skin_ids)
    binding.verts[mask], binding.bary[mask] = tris[ntri], nbary
    return True


def bind_to_skin(points: np.ndarray, verts: np.ndarray, tris: np.ndarray, confidence) -> Binding:
    """Bind points (L, 3) to the nearest skin (the mesh's big surfaces) - hand-placed or
    edited landmarks."""
    skin = np.nonzero(mesh_parts(verts, tris).skin_mask())[0]
    tri, bary = closest_on_triangles(points, verts, tris, skin)
    return Binding(tris[tri].astype(np.int32), bary, np.asarray(confidence, dtype=np.float64))
