"""Deformation transfer (Sumner & Popovic 2004) in its vertex form, and carrying a surface's
motion onto a denser or different mesh that lies on it.  Pure numpy/scipy.

Shapes: ``verts`` (N, 3) float64, ``tris`` (T, 3) int, displacements (K, N, 3).

* :func:`deformation_gradients` - per triangle, the 3x3 affine map of a rest triangle onto
  its deformed copy (the edge vectors and a scaled normal, Sumner & Popovic's fourth vertex).
* :func:`poisson_transfer` - the source's deformation gradients applied to another mesh of
  the same triangles (e.g. the source registered onto a user's face): the displacements
  ``u`` whose per-triangle gradients best match ``(F - I) J`` in the least-squares sense
  (``J`` the target triangle's own tangent map), i.e. ``L u = G^T A (F - I) J`` with the
  cotangent Laplacian ``L = G^T A G``; vertices in ``fixed`` stay still (Dirichlet), the
  rest is one sparse factorisation (SuperLU) solved for every shape and coordinate at once.
* :func:`carry` - displacements for points lying on (or near) a moved surface: the
  surface's displacement at their closest point, plus their offset from it turned by the
  surface's local rotation there (the polar part of the averaged deformation gradient), so
  detail the surface does not have (a thicker lid, a deeper crease) turns with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..core.jobs import sub_report
from ..core.parallel import beside


def _frames(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(T, 3, 3) columns: two edges and the normal scaled by 1/sqrt(|e1 x e2|) (Sumner's v4 - v1)."""
    a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    return np.stack([b - a, c - a, _scaled_normals(verts, tris)], axis=2)


def inverse3(m: np.ndarray):
    """Batched 3x3 inverses by cofactors (much faster than ``np.linalg.inv`` on many small
    matrices): ``(inverse (..., 3, 3), ok (...,) bool)``; singular ones give the identity."""
    a = np.asarray(m, np.float64)
    c0 = np.cross(a[..., :, 1], a[..., :, 2])
    c1 = np.cross(a[..., :, 2], a[..., :, 0])
    c2 = np.cross(a[..., :, 0], a[..., :, 1])
    det = np.einsum("...i,...i->...", a[..., :, 0], c0)
    scale = np.abs(a).max(axis=(-2, -1)) ** 3
    ok = np.abs(det) > 1e-12 * np.maximum(scale, 1e-300)
    inv = np.stack([c0, c1, c2], axis=-2) / np.where(ok, det, 1.0)[..., None, None]
    inv[~ok] = np.eye(3)
    return inv, ok


def deformation_gradients(rest: np.ndarray, deformed: np.ndarray, tris: np.ndarray,
                          rest_inverse: np.ndarray | None = None) -> np.ndarray:
    """(T, 3, 3) per-triangle deformation gradients ``F`` with ``F @ frame(rest) = frame(deformed)``
    (identity for degenerate triangles).  ``rest_inverse``: :func:`rest_frames_inverse` of
    ``rest``, when many deformations of one rest are wanted."""
    tris = np.asarray(tris, np.int64)
    inv, ok = rest_frames_inverse(rest, tris) if rest_inverse is None else rest_inverse
    f = _frames(np.asarray(deformed, np.float64), tris) @ inv
    f[~ok] = np.eye(3)
    return f


def rest_frames_inverse(rest: np.ndarray, tris: np.ndarray):
    """``(inverse (T, 3, 3), ok (T,))`` of the rest triangles' frames; a degenerate triangle
    (not ``ok``) gets ``F = I`` in :func:`deformation_gradients`."""
    return inverse3(_frames(np.asarray(rest, np.float64), np.asarray(tris, np.int64)))


def gradient_operator(verts: np.ndarray, tris: np.ndarray):
    """The piecewise-linear gradient: ``G`` sparse (3T, N) (rows t*3 + axis) and triangle areas (T,).
    ``G @ f`` stacks each triangle's gradient of the per-vertex function ``f`` (N,) or (N, m)."""
    verts = np.asarray(verts, np.float64)
    tris = np.asarray(tris, np.int64)
    p = [verts[tris[:, i]] for i in range(3)]
    cr = np.cross(p[1] - p[0], p[2] - p[0])
    dbl = np.linalg.norm(cr, axis=1)  # 2 * area
    good = dbl > 1e-14 * max(float(np.abs(verts).max()), 1e-300) ** 2
    n = cr / np.maximum(dbl, 1e-300)[:, None]
    grads = []
    for i in range(3):
        e = p[(i + 2) % 3] - p[(i + 1) % 3]  # the edge opposite corner i
        grads.append(np.cross(n, e) / np.maximum(dbl, 1e-300)[:, None] * good[:, None])
    t = len(tris)
    rows = (np.arange(t)[:, None, None] * 3 + np.arange(3)[None, None, :]).repeat(3, axis=1)  # (T, 3 corners, 3 axes)
    cols = np.broadcast_to(tris[:, :, None], (t, 3, 3))
    vals = np.stack(grads, axis=1)  # (T, corner, axis)
    g = sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(3 * t, len(verts)))
    return g, 0.5 * dbl * good


def poisson_transfer(src_rest: np.ndarray, src_disp: np.ndarray, dst_rest: np.ndarray, tris: np.ndarray,
                     fixed: np.ndarray, report=None) -> np.ndarray:
    """Deformation transfer onto a mesh with the source's triangles (see the module docstring).

    ``src_rest`` (N, 3), ``src_disp`` (K, N, 3) the source's shapes as displacements,
    ``dst_rest`` (N, 3) the same triangles elsewhere (e.g. registered onto a user's face),
    ``tris`` (T, 3) the triangles that carry the motion, ``fixed`` (N,) bool vertices that stay
    still (at least one per connected part).  Returns (K, N, 3) float32 displacements of
    ``dst_rest``; vertices in no triangle stay still."""
    src_rest = np.asarray(src_rest, np.float64)
    dst_rest = np.asarray(dst_rest, np.float64)
    tris = np.asarray(tris, np.int64)
    n = len(dst_rest)
    g, area = gradient_operator(dst_rest, tris)
    ga = g.T @ sp.diags(np.repeat(area, 3))
    lap = (ga @ g).tocsr()
    in_tri = np.zeros(n, bool)
    in_tri[tris.ravel()] = True
    free = np.flatnonzero(in_tri & ~np.asarray(fixed, bool))
    out = np.zeros((len(src_disp), n, 3), np.float32)
    if not len(free):
        return out
    a = lap[free][:, free].tocsc()
    a = a + sp.identity(len(free), format="csc") * (1e-12 * abs(a.diagonal()).max())
    lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    # (F - I) J = (M' - M) M^-1 J with M = [e1, e2, n] the frames: with P = M^-1 J per triangle
    # the edges' part is linear in the displacements (one sparse operator K for every shape),
    # only the scaled normals' part (Q) is computed shape by shape
    inv, ok = rest_frames_inverse(src_rest, tris)
    p = inv @ _tangent_maps(dst_rest, tris)  # (T, 3 frame columns, 3 axes)
    p[~ok] = 0.0  # a degenerate source triangle: F = I, nothing to match
    t = len(tris)
    rows = np.arange(3 * t)  # G^T A's columns: t * 3 + axis
    pe1, pe2 = p[:, 0, :].ravel(), p[:, 1, :].ravel()
    corner = [np.repeat(tris[:, i], 3) for i in range(3)]
    edges = sp.csr_matrix((np.r_[-(pe1 + pe2), pe1, pe2], (np.r_[rows, rows, rows], np.r_[corner[0], corner[1], corner[2]])),
                          shape=(3 * t, n))
    ga_free = ga.tocsr()[free]
    k_op = (ga_free @ edges).tocsr()  # (free, N)
    q_op = (ga_free @ sp.csr_matrix((p[:, 2, :].ravel(), (rows, np.repeat(np.arange(t), 3))),
                                    shape=(3 * t, t))).tocsr()  # (free, T)
    disp = np.asarray(src_disp, np.float64)
    kk = len(disp)
    # right-hand sides, columns shape * 3 + coordinate
    rhs = k_op @ np.transpose(disp, (1, 0, 2)).reshape(n, 3 * kk)
    n_rest = _scaled_normals(src_rest, tris)
    step = 8
    for k0 in range(0, kk, step):  # a few shapes at once: bounded memory
        block = disp[k0:k0 + step]
        dn = _scaled_normals(src_rest[None] + block, tris) - n_rest  # (k, T, 3)
        rhs[:, 3 * k0:3 * (k0 + len(block))] += q_op @ np.transpose(dn, (1, 0, 2)).reshape(t, 3 * len(block))
        if report:
            report(0.5 * (k0 + len(block)) / kk, "deformation gradients")
    for c in range(rhs.shape[1]):  # column by column: SuperLU's solve is no faster on blocks
        k, axis = divmod(c, 3)
        out[k, free, axis] = lu.solve(rhs[:, c])
        if report and c % 24 == 23:
            report(0.5 + 0.5 * (c + 1) / rhs.shape[1], "solving")
    return out


def _scaled_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(..., T, 3) each triangle's normal scaled by 1/sqrt(|e1 x e2|) (the third column of
    :func:`_frames`) for ``verts`` (..., N, 3)."""
    a, b, c = verts[..., tris[:, 0], :], verts[..., tris[:, 1], :], verts[..., tris[:, 2], :]
    e1, e2 = b - a, c - a
    n0 = e1[..., 1] * e2[..., 2] - e1[..., 2] * e2[..., 1]
    n1 = e1[..., 2] * e2[..., 0] - e1[..., 0] * e2[..., 2]
    n2 = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    length = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    return np.stack([n0, n1, n2], axis=-1) / np.sqrt(np.maximum(length, 1e-300))[..., None]


def _tangent_maps(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(T, 3, 3) ``J`` per triangle, row c = the gradient of coordinate c (the projector onto the
    triangle's plane)."""
    p = [verts[tris[:, i]] for i in range(3)]
    cr = np.cross(p[1] - p[0], p[2] - p[0])
    dbl = np.maximum(np.linalg.norm(cr, axis=1), 1e-300)
    n = cr / dbl[:, None]
    j = np.zeros((len(tris), 3, 3))
    for i in range(3):
        grad = np.cross(n, p[(i + 2) % 3] - p[(i + 1) % 3]) / dbl[:, None]
        j += p[i][:, :, None] * grad[:, None, :]
    return j


def polar_rotation(m: np.ndarray, iterations: int = 4) -> np.ndarray:
    """The rotations nearest to ``m`` (..., 3, 3) (polar decomposition by Newton's iteration
    ``X <- (X + X^-T) / 2``, fast on many near-rotations; a singular matrix gives the identity)."""
    x = np.array(m, np.float64, copy=True)
    for _ in range(iterations):
        inv, ok = inverse3(x)
        x = np.where(ok[..., None, None], 0.5 * (x + np.swapaxes(inv, -1, -2)), np.eye(3))
    return x


class SurfaceRotations:
    """Local rotations of a moved surface at its vertices: the polar part of the area-weighted
    mean deformation gradient of the triangles round each vertex (rest -> rest + disp)."""

    def __init__(self, rest: np.ndarray, tris: np.ndarray):
        self.rest = np.asarray(rest, np.float64)
        self.tris = np.asarray(tris, np.int64)
        self.inv = rest_frames_inverse(self.rest, self.tris)
        t = self.tris
        area = np.linalg.norm(np.cross(self.rest[t[:, 1]] - self.rest[t[:, 0]],
                                       self.rest[t[:, 2]] - self.rest[t[:, 0]]), axis=1)
        m = sp.csr_matrix((np.repeat(area, 3), (t.ravel(), np.repeat(np.arange(len(t)), 3))),
                          shape=(len(self.rest), len(t)))
        total = np.asarray(m.sum(axis=1)).ravel()
        self.average = sp.diags(np.where(total > 0, 1.0 / np.maximum(total, 1e-300), 0.0)) @ m

    def prepare(self, vertices: np.ndarray):
        """A function ``[disp (N, 3), ...] -> [(turning (len(vertices),) bool, rotations
        (turning.sum(), 3, 3)), ...]`` for many shapes: the rotations at ``vertices`` that are not
        the identity.  Only the triangles that move are looked at (a shape moves a small part of
        a face): a vertex none of whose triangles move does not turn."""
        vertices = np.asarray(vertices, np.int64)
        rows = self.average[vertices]
        used = np.unique(rows.indices)
        by_tri = rows[:, used].tocsc()  # (len(vertices), U): the columns of the moving triangles
        tris = self.tris[used]
        inv, ok = self.inv[0][used], self.inv[1][used]
        eye = np.eye(3)

        def rotations(disps):
            found, means = [], []
            for disp in disps:
                disp = np.asarray(disp)
                size = (disp[:, 0] != 0) | (disp[:, 1] != 0) | (disp[:, 2] != 0)
                corner = size[tris]
                mt = np.flatnonzero(corner[:, 0] | corner[:, 1] | corner[:, 2])
                if not len(mt):
                    found.append(np.zeros(len(vertices), bool))
                    means.append(np.zeros((0, 3, 3)))
                    continue
                sub = by_tri[:, mt].tocsr()
                turning = np.diff(sub.indptr) > 0
                f = _frames(self.rest + disp, tris[mt]) @ inv[mt]
                f[~ok[mt]] = eye
                # the mean over all triangles round a vertex (weights summing to 1): still ones are I
                means.append(eye + (sub[turning] @ (f - eye).reshape(len(mt), 9)).reshape(-1, 3, 3))
                found.append(turning)
            rot = polar_rotation(np.concatenate(means)) if means else np.zeros((0, 3, 3))  # one batch
            ends = np.cumsum([len(m) for m in means])
            return list(zip(found, np.split(rot, ends[:-1])))

        return rotations


def carry(points: np.ndarray, surface_rest: np.ndarray, surface_disp: np.ndarray, tris: np.ndarray,
          hit_tri: np.ndarray, hit_bary: np.ndarray, hit_point: np.ndarray, detail_from: float,
          rotations: SurfaceRotations | None = None, into=None) -> np.ndarray | None:
    """Displacements (K, P, 3) float32 of ``points`` (P, 3) that lie on or near a surface moved
    by ``surface_disp`` (K, N, 3) (rest ``surface_rest`` (N, 3), triangles ``tris``): each takes
    the surface's displacement at its closest point (``hit_tri`` (P,) indices into ``tris``,
    ``hit_bary`` (P, 3), ``hit_point`` (P, 3)) plus its offset from that point turned by the
    surface's local rotation there, for offsets longer than ``detail_from`` (mesh units).
    ``rotations``: a :class:`SurfaceRotations` of the surface, when one is at hand.  ``into``:
    ``(array (K, M, 3), rows (P,), weight (P,))`` - each shape's displacements, times ``weight``,
    go straight into ``array[k, rows]`` and nothing is returned (no (K, P, 3) copy of a big mesh)."""
    tri_v = np.asarray(tris, np.int64)[hit_tri]  # (P, 3)
    offset = np.asarray(points, np.float64) - hit_point
    far = np.flatnonzero(np.linalg.norm(offset, axis=1) > detail_from)
    need = np.unique(tri_v[far]) if len(far) else np.zeros(0, np.int64)
    if len(far) and rotations is None:
        rotations = SurfaceRotations(surface_rest, tris)
    n_shapes, n_surf = len(surface_disp), len(surface_rest)
    p = len(points)
    if into is None:
        out = np.empty((n_shapes, p, 3), np.float32)
        into = (out, slice(None), None)
    else:
        out = None
    array, rows, weight = into
    # the surface's displacement at the closest points: a sparse interpolation
    interp = sp.csr_matrix((np.asarray(hit_bary, np.float64).ravel(), (np.repeat(np.arange(p), 3), tri_v.ravel())),
                           shape=(p, n_surf))
    if len(far):
        at_need = rotations.prepare(need)
        slot = np.searchsorted(need, tri_v[far])  # (F, 3) rows of ``need``
        bary_far, off_far = hit_bary[far], offset[far]
        turn = np.zeros((len(need), 3, 3))
    for s in range(0, n_shapes, 16):  # a few shapes' rotations at a time: bounded memory
        turns = at_need(surface_disp[s:s + 16]) if len(far) else [(None, ())] * len(surface_disp[s:s + 16])
        for k, (turning, rot) in enumerate(turns, start=s):
            d = interp @ surface_disp[k]
            if len(rot):
                turn[:] = 0.0
                turn[turning] = rot - np.eye(3)  # R - I: zero where the surface does not turn
                pts = np.flatnonzero(turning[slot].any(axis=1))  # the points round a turning vertex
                r = np.einsum("pk,pkij->pij", bary_far[pts], turn[slot[pts]])
                d[far[pts]] += np.einsum("pij,pj->pi", r, off_far[pts])
            array[k, rows] = d if weight is None else d * weight[:, None]
    return out


# --- a source's shapes onto a target mesh, part by part ---------------------------------


NOISE_FLOOR = 0.002  # of a shape's largest motion: less is scan noise, and stays still
# Shapes meant on top of another (Apple's mouthClose closes the lips of an open jaw): folds are
# looked for, and undone, with that one applied too.
ON_TOP_OF = {"mouthClose": "jawOpen"}


class Unfolder:
    """Undoes folded triangles, shape by shape, on one mesh (``verts`` (N, 3), ``tris`` (T, 3));
    what depends on the mesh only is computed once.

    Calling it with a shape's ``disp`` (N, 3): where a triangle of ``verts + under + disp`` faces
    against its rest normal, the displacement round it is smoothed (a few Jacobi sweeps toward the
    mean of the neighbours, over a region that grows by a ring every few rounds) until nothing is
    folded or ``rounds`` run out.  A scanned expression folds a few triangles where skin presses on
    skin (the lips' contact line, the lid crease); meshes render them as dark specks.  Returns
    ``(disp (N, 3), folded triangles left)``; ``under`` (N, 3) a shape this one sits on.
    ``contact`` (N,) bool where skin presses on skin in the scans themselves (lips, lids): folds
    there get the first half of the rounds only (more smoothing would take the shape's motion
    with it)."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, contact: np.ndarray | None = None):
        self.verts = np.asarray(verts, np.float64)
        self.tris = t = np.asarray(tris, np.int64)
        n = len(self.verts)
        e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        adjacency = sp.coo_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                                  shape=(n, n)).tocsr()
        adjacency.data[:] = 1.0
        self.adjacency = adjacency
        self.incidence = incidence_matrix(t, n)  # vertex -> its triangles
        x = self.verts
        e1, e2 = x[t[:, 1]] - x[t[:, 0]], x[t[:, 2]] - x[t[:, 0]]
        self.rest_normals = np.cross(e1, e2)
        # A triangle whose corners each move less than ``safe`` cannot fold: with corner
        # differences |D| <= 2 m, n0 . n >= |n0| (|n0| - 2 m (|e1| + |e2|) - 4 m^2) > 0.
        ln = np.linalg.norm(self.rest_normals, axis=1)
        s_ = np.linalg.norm(e1, axis=1) + np.linalg.norm(e2, axis=1)
        self.safe = 0.999 * (-2 * s_ + np.sqrt(4 * s_ ** 2 + 16 * ln)) / 8  # root of 4m^2 + 2m s - |n0|
        self.contact = None if contact is None else np.asarray(contact, bool)

    def __call__(self, disp: np.ndarray, under: np.ndarray | None = None, rounds: int = 24):
        tris, adjacency, incidence = self.tris, self.adjacency, self.incidence
        disp = np.asarray(disp)
        total = disp if under is None else disp + np.asarray(under, disp.dtype)
        size = np.sqrt(total[:, 0] ** 2 + total[:, 1] ** 2 + total[:, 2] ** 2)
        # only triangles that move enough to fold are looked at (the back of a big head stays
        # still); columns, not axis=1 reductions (slow on a length-3 axis)
        corner = size[tris]
        maybe = np.flatnonzero(np.maximum(np.maximum(corner[:, 0], corner[:, 1]), corner[:, 2]) >= self.safe)
        if not len(maybe):
            return np.array(disp, np.float64), 0
        base = self.verts if under is None else self.verts + np.asarray(under, np.float64)
        tm = tris[maybe]
        x = base[tm] + disp[tm].astype(np.float64)
        now = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
        folded = maybe[np.einsum("ij,ij->i", self.rest_normals[maybe], now) < 0]
        d = np.array(disp, np.float64)
        if not len(folded):
            return d, 0
        # the triangles round a moving corner (those a smoothing can touch)
        moving = (d[:, 0] != 0) | (d[:, 1] != 0) | (d[:, 2] != 0)
        if under is not None:
            moving |= (under[:, 0] != 0) | (under[:, 1] != 0) | (under[:, 2] != 0)
        corner = moving[tris]
        sel = corner[:, 0] | corner[:, 1] | corner[:, 2]
        bad = folded  # sorted ids of the folded triangles: each round costs what the folds' region costs
        contact = self.contact
        for r in range(rounds):
            undo = bad
            if contact is not None and r >= rounds // 2:
                undo = bad[~contact[tris[bad]].any(axis=1)]
            if not len(undo):
                break
            region = np.unique(tris[undo].ravel())
            for _ in range(1 + r // 4):  # grow by rings
                region = np.union1d(region, _row_indices(adjacency, region))
            rows = adjacency[region]
            deg = np.asarray(rows.sum(axis=1)).ravel()
            ids, rows, deg = region[deg > 0], rows[deg > 0], deg[deg > 0]
            for _ in range(4):
                d[ids] = 0.5 * d[ids] + 0.5 * (rows @ d) / deg[:, None]
            # only the triangles round what was smoothed can have changed
            touched = np.unique(_row_indices(incidence, ids))
            touched = touched[sel[touched]]
            tt = tris[touched]
            x = base[tt] + d[tt]
            now = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
            still = touched[np.einsum("ij,ij->i", self.rest_normals[touched], now) < 0]
            bad = np.union1d(np.setdiff1d(bad, touched, assume_unique=True), still)
        return d, int(len(bad))


def _row_indices(m: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """The column indices of ``rows`` of a csr matrix, concatenated (``m[rows].indices`` without
    building the matrix: scipy's row slicing costs more than the rows on small sets)."""
    starts = m.indptr[rows]
    counts = m.indptr[rows + 1] - starts
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return m.indices[np.repeat(starts, counts) + offsets]


def incidence_matrix(tris: np.ndarray, n: int) -> sp.csr_matrix:
    """(n, T) csr: vertex -> the triangles of ``tris`` round it."""
    tris = np.asarray(tris, np.int64)
    return sp.csr_matrix((np.ones(tris.size), (tris.ravel(), np.repeat(np.arange(len(tris)), 3))),
                         shape=(n, len(tris)))


@dataclass
class MeshShapes:
    """Shapes on a target mesh: ``active`` (M,) the vertices that move, ``shapes`` {name: (M, 3)
    float32 displacements in mesh units}, ``notes`` (what was left out and why), ``left_out``
    the parts the mesh lacks, ``has_tongue``, ``folds`` {name: folded triangles left}."""

    active: np.ndarray
    shapes: dict
    notes: list = field(default_factory=list)
    left_out: list = field(default_factory=list)
    has_tongue: bool = True
    folds: dict = field(default_factory=dict)  # name -> folded triangles left (none, mostly)


def _rigid(a: np.ndarray, b: np.ndarray):
    """The rigid motion ``b ~ a @ r.T + t`` (Kabsch)."""
    ma, mb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((b - mb).T @ (a - ma))
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    r = u @ np.diag([1.0, 1.0, d]) @ vt
    return r, mb - ma @ r.T


def transfer_to_mesh(verts: np.ndarray, fit, deltas: np.ndarray, names, target_tris: np.ndarray | None = None,
                     report=None) -> MeshShapes:
    """Carry a fitted source's shapes onto the target mesh (``fit``: :class:`correspond.Fit`).

    ``deltas`` (K, V, 3) the source's shapes in the target's space, ``names`` their K names.
    The skin's shapes go through :func:`poisson_transfer` onto the registered source (scaled by
    ``fit.falloff``, ``fit.fixed`` still); then each target part takes the motion of its kind
    of source part: skin from skin (lips and lids never matched across), the mouth's inside and
    the loose parts (lashes, eye films) by closest point; each eyeball turns about its own
    centre by the source eyeball's rotation; the lower teeth follow the source's lower teeth
    rigidly, the upper teeth theirs (still, on a face).  With the target's ``target_tris``, folded
    triangles are undone (:class:`Unfolder`).  Returns :class:`MeshShapes`."""
    from . import correspond as C
    from . import parts as P
    from .shape_library import smoothstep

    verts = np.asarray(verts, np.float64)
    names = list(names)
    n, scale = len(verts), fit.scale
    tris = np.asarray(fit.tris, np.int64)
    skin_t = fit.groups[P.SKIN]
    notes, left_out = [], []
    if report:
        report(0.0, "transferring the shapes to the registered surface")
    skin_v = np.unique(tris[skin_t])
    moved = np.array(deltas, np.float32, copy=True)
    src = np.asarray(deltas[:, skin_v], np.float64) * fit.falloff[skin_v][None, :, None]
    local = -np.ones(len(fit.rest), np.int64)
    local[skin_v] = np.arange(len(skin_v))
    reg = fit.registered
    out = np.zeros((len(names), n, 3), np.float32)
    detail = 0.005 * scale
    with beside() as submit:
        # the skin's Poisson solve on the second core; meanwhile what does not need its result
        skin_motion = submit(poisson_transfer, fit.rest[skin_v], src, fit.registered[skin_v], local[tris[skin_t]],
                             fit.fixed[skin_v])
        open_edges = C.open_edge_flags(tris, len(reg))
        rotations = SurfaceRotations(reg, tris)

        def closest(ids, tri_ids, labels=None, reach=(0.15, 0.3)):
            """Target vertices ``ids``' closest points on the source's triangles ``tri_ids``, and
            how much of the motion there they keep (all within ``reach[0]`` IOD, none beyond
            ``reach[1]``)."""
            if not len(ids) or tri_ids is None or not len(tri_ids):
                return None
            if labels is not None:
                h = C.LabelledSurface(reg, tris, tri_ids, fit.labels, open_edges).query(verts[ids], labels)
            else:
                h = C.SurfaceIndex(reg, tris, tri_ids, open_edges).query(verts[ids])
            return ids, h, smoothstep(reach[1] * scale, reach[0] * scale, h.distance)

        def closest_whole(ids, tri_ids, reach):
            """As ``closest``, each connected part of the target from one connected part of the
            source's: the one most of its vertices lie nearest (a lash strip from the lashes, an
            eye film from the film, though they touch)."""
            job = closest(ids, tri_ids, reach=reach)
            if job is None:
                return None
            _, h, _ = job
            tri_ids = np.asarray(tri_ids, np.int64)
            source_part = P.components(tris[tri_ids], len(reg))[tris[tri_ids, 0]]  # per source triangle
            part_of = -np.ones(len(tris), np.int64)
            part_of[tri_ids] = source_part
            hit_part = part_of[h.tri]
            target_part = fit.parts.labels[ids]
            for c in np.unique(target_part):
                sel = np.flatnonzero((target_part == c) & (hit_part >= 0))
                if not len(sel):
                    continue
                best = np.bincount(hit_part[sel]).argmax()
                redo = sel[hit_part[sel] != best]
                if len(redo):
                    h.put(C.SurfaceIndex(reg, tris, tri_ids[source_part == best], open_edges).query(verts[ids[redo]]),
                          redo)
            return ids, h, smoothstep(reach[1] * scale, reach[0] * scale, h.distance)

        skin_ids = fit.found(P.SKIN)
        # skin from skin (lips and lids never matched across), the mouth's inside (gums, tongue) and
        # the loose parts (lashes, eye films) from the source's own
        carried = [closest(skin_ids, skin_t, labels=fit.labels_target[skin_ids]),
                   closest(fit.found(P.MOUTH), fit.groups.get(P.MOUTH), reach=(0.3, 0.6)),
                   closest_whole(fit.found(P.LOOSE), fit.groups.get(P.LOOSE), reach=(0.1, 0.2))]
        # eyeballs: each turns about its own centre as the source's turns
        for side, part in (("L", P.EYE_L), ("R", P.EYE_R)):
            ids, src_t = fit.found(part), fit.groups.get(part)
            if side not in fit.eye_centres or src_t is None or not len(src_t):
                continue
            sv = np.unique(tris[src_t])
            rel = verts[ids] - np.asarray(fit.eye_centres[side], np.float64)
            for k in range(len(names)):
                d = deltas[k, sv]
                if np.abs(d).max() <= 1e-9 * scale:
                    continue
                rot, _ = _rigid(fit.rest[sv], fit.rest[sv] + d)
                out[k, ids] = (rel @ rot.T - rel).astype(np.float32)
        missing = [s for s in ("left", "right") if s[0].upper() not in fit.eye_centres]
        if missing:
            left_out.append("eyeballs" if len(missing) == 2 else f"the {missing[0]} eyeball")
            notes.append("no separate eyeballs found: eyeLook* move only the lids" if len(missing) == 2 else
                         f"no {missing[0]} eyeball found: its eyeLook* move only the lids")
        # teeth: each row follows its source row rigidly
        for part in (P.TEETH_UP, P.TEETH_LO):
            ids, src_t = fit.found(part), fit.groups.get(part)
            if not len(ids) or src_t is None or not len(src_t):
                continue
            sv = np.unique(tris[src_t])
            for k in range(len(names)):
                d = deltas[k, sv]
                if np.abs(d).max() <= 1e-9 * scale:
                    continue
                rot, t = _rigid(fit.rest[sv], fit.rest[sv] + d)
                out[k, ids] = (verts[ids] @ rot.T + t - verts[ids]).astype(np.float32)
        if not len(fit.found(P.TEETH_UP)) and not len(fit.found(P.TEETH_LO)):
            left_out.append("teeth")
            notes.append("no teeth found: the mouth opens without them")
        unfolder = None
        if target_tris is not None and len(target_tris):
            unfolder = Unfolder(verts, np.asarray(target_tris, np.int64),
                                contact=np.asarray(fit.labels_target) > 0)  # the lips' and lids' sides
        if report:
            report(0.5, "carrying the shapes onto the mesh")
        moved[:, skin_v] = skin_motion.result()
        # shape by shape from here on: half of the shapes on each core (a shape meant on top of
        # another in the same half, after it)
        pairs = [(names.index(ON_TOP_OF[m]), k) for k, m in enumerate(names) if ON_TOP_OF.get(m) in names]
        half = len(names) // 2
        while any(min(a, b) < half <= max(a, b) for a, b in pairs):
            half += 1
        halves = (slice(0, half), slice(half, len(names)))

        def carry_shapes(shapes: slice):
            for job in carried:
                if job is not None:
                    ids, h, keep = job
                    carry(verts[ids], reg, moved[shapes], tris, h.tri, h.bary, h.point, detail, rotations,
                          into=(out[shapes], ids, keep))

        other = submit(carry_shapes, halves[1])
        carry_shapes(halves[0])
        other.result()
        del carried
    # the tongue: tongueOut only where something moves like one
    has_tongue = True
    if "tongueOut" in names:
        k = names.index("tongueOut")
        if not n or np.linalg.norm(out[k], axis=1).max() < 0.15 * scale:
            has_tongue = False
            out[k] = 0.0
            left_out.append("tongue")
            notes.append("no tongue found: tongueOut was skipped")
    # no folded triangles (on the target's own triangles)
    folds = {}
    if unfolder is not None:
        def unfold(shapes: slice):
            for k in range(len(names))[shapes]:
                name = names[k]
                under = out[names.index(ON_TOP_OF[name])] if ON_TOP_OF.get(name) in names else None
                fixed, left = unfolder(out[k], under)
                out[k] = fixed.astype(np.float32)
                if left:
                    folds[name] = left

        with beside() as submit:
            other = submit(unfold, halves[1])
            unfold(halves[0])
            other.result()
    # below a noise floor (scan noise, the solve's tails far from the motion) nothing moves:
    # a smooth shrink to exactly zero under 0.2 % of each shape's largest motion
    moves = np.zeros(n, bool)
    for k in range(len(names)):
        o = out[k]
        size = np.sqrt(o[:, 0] ** 2 + o[:, 1] ** 2 + o[:, 2] ** 2)  # columns: axis=1 is slow on 3
        top = float(size.max()) if n else 0.0
        if top > 0:
            o *= smoothstep(NOISE_FLOOR * top, 2 * NOISE_FLOOR * top, size)[:, None].astype(np.float32)
        moves |= (o[:, 0] != 0) | (o[:, 1] != 0) | (o[:, 2] != 0)
    if report:
        report(1.0, "shapes ready")
    active = np.flatnonzero(moves)
    shapes = {name: out[k, active] for k, name in enumerate(names) if name != "tongueOut" or has_tongue}
    return MeshShapes(active=active, shapes=shapes, notes=notes, left_out=left_out, has_tongue=has_tongue,
                      folds=folds)
