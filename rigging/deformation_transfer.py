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


def _frames(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(T, 3, 3) columns: two edges and the normal scaled by 1/sqrt(|e1 x e2|) (Sumner's v4 - v1)."""
    a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    e1, e2 = b - a, c - a
    n = np.cross(e1, e2)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    n = n / np.sqrt(np.maximum(ln, 1e-300))
    return np.stack([e1, e2, n], axis=2)


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
    j_dst = _tangent_maps(dst_rest, tris)  # (T, 3, 3): row c = gradient of coordinate c
    rhs = np.empty((len(free), 3 * len(src_disp)))
    inv, ok = rest_frames_inverse(src_rest, tris)
    ga_free = ga.tocsr()[free]
    step = 8
    for k0 in range(0, len(src_disp), step):  # a few shapes at once: the shapes' copies side by side
        block = np.asarray(src_disp[k0:k0 + step], np.float64)
        kb = len(block)
        moved = (src_rest[None] + block).reshape(-1, 3)
        copies = (tris[None] + (np.arange(kb) * n)[:, None, None]).reshape(-1, 3)
        f = _frames(moved, copies).reshape(kb, len(tris), 3, 3) @ inv
        f[:, ~ok] = np.eye(3)
        target = (f - np.eye(3)) @ j_dst  # (k, T, 3 coords, 3 axes)
        # G^T A vec: rows t*3 + axis, columns shape * 3 + coordinate
        rhs[:, 3 * k0:3 * (k0 + kb)] = ga_free @ np.transpose(target, (1, 3, 0, 2)).reshape(len(tris) * 3, kb * 3)
        if report:
            report(0.5 * (k0 + kb) / len(src_disp), "deformation gradients")
    for c in range(rhs.shape[1]):  # column by column: SuperLU's solve is several times slower on blocks
        k, axis = divmod(c, 3)
        out[k, free, axis] = lu.solve(rhs[:, c])
        if report and c % 24 == 23:
            report(0.5 + 0.5 * (c + 1) / rhs.shape[1], "solving")
    return out


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

    def at(self, disp: np.ndarray, vertices: np.ndarray) -> np.ndarray:
        """(len(vertices), 3, 3) rotations of the surface moved by ``disp`` (N, 3)."""
        return self.prepare(vertices)(disp)

    def prepare(self, vertices: np.ndarray):
        """A function ``disp -> (len(vertices), 3, 3)`` rotations at ``vertices``, for many ``disp``."""
        vertices = np.asarray(vertices, np.int64)
        rows = self.average[vertices]
        used = np.unique(rows.indices)
        rows = rows[:, used].tocsr()
        tris = self.tris[used]
        inv = (self.inv[0][used], self.inv[1][used])
        empty = np.asarray(rows.sum(axis=1)).ravel() <= 0

        def rotations(disp: np.ndarray) -> np.ndarray:
            disp = np.asarray(disp)
            if disp.ndim == 2:
                return rotations(disp[None])[0]
            k, n = len(disp), len(self.rest)
            if not len(vertices):
                return np.zeros((k, 0, 3, 3))
            # every shape at once: the shapes' copies of the surface side by side
            moved = (self.rest[None] + disp).reshape(k * n, 3)
            copies = (tris[None] + (np.arange(k) * n)[:, None, None]).reshape(-1, 3)
            f = (_frames(moved, copies).reshape(k, len(used), 3, 3) @ inv[0])
            f[:, ~inv[1]] = np.eye(3)
            mean = rows @ np.transpose(f, (1, 0, 2, 3)).reshape(len(used), k * 9)
            mean = np.transpose(mean.reshape(-1, k, 3, 3), (1, 0, 2, 3))
            mean[:, empty] = np.eye(3)
            return polar_rotation(mean)

        return rotations


def carry(points: np.ndarray, surface_rest: np.ndarray, surface_disp: np.ndarray, tris: np.ndarray,
          hit_tri: np.ndarray, hit_bary: np.ndarray, hit_point: np.ndarray, detail_from: float,
          rotations: SurfaceRotations | None = None) -> np.ndarray:
    """Displacements (K, P, 3) float32 of ``points`` (P, 3) that lie on or near a surface moved
    by ``surface_disp`` (K, N, 3) (rest ``surface_rest`` (N, 3), triangles ``tris``): each takes
    the surface's displacement at its closest point (``hit_tri`` (P,) indices into ``tris``,
    ``hit_bary`` (P, 3), ``hit_point`` (P, 3)) plus its offset from that point turned by the
    surface's local rotation there, for offsets longer than ``detail_from`` (mesh units).
    ``rotations``: a :class:`SurfaceRotations` of the surface, when one is at hand."""
    tri_v = np.asarray(tris, np.int64)[hit_tri]  # (P, 3)
    offset = np.asarray(points, np.float64) - hit_point
    far = np.flatnonzero(np.linalg.norm(offset, axis=1) > detail_from)
    need = np.unique(tri_v[far]) if len(far) else np.zeros(0, np.int64)
    if len(far) and rotations is None:
        rotations = SurfaceRotations(surface_rest, tris)
    n_shapes, n_surf = len(surface_disp), len(surface_rest)
    out = np.empty((n_shapes, len(points), 3), np.float32)
    # the surface's displacement at the closest points: one sparse interpolation for a few shapes at once
    p = len(points)
    interp = sp.csr_matrix((np.asarray(hit_bary, np.float64).ravel(), (np.repeat(np.arange(p), 3), tri_v.ravel())),
                           shape=(p, n_surf))
    step = max(1, min(n_shapes, 4_000_000 // max(p, 1)))  # ~100 MB of float64 at a time
    for s in range(0, n_shapes, step):
        block = np.asarray(surface_disp[s:s + step], np.float64)  # (k, N, 3)
        moved = interp @ np.transpose(block, (1, 0, 2)).reshape(n_surf, -1)
        out[s:s + step] = np.transpose(moved.reshape(p, len(block), 3), (1, 0, 2))
    if len(far):
        at_need = rotations.prepare(need)
        slot = np.searchsorted(need, tri_v[far])  # (F, 3) rows of ``need``
        live = [k for k, d in enumerate(surface_disp) if np.abs(d[need]).max() > 0]
        bary_far, off_far = hit_bary[far], offset[far]
        for s in range(0, len(live), 16):  # a few shapes at a time: bounded memory
            ks = live[s:s + 16]
            rot = at_need(np.asarray(surface_disp)[ks])  # (k, len(need), 3, 3)
            for j, k in enumerate(ks):
                r = np.einsum("pk,pkij->pij", bary_far, rot[j][slot])
                out[k, far] += (np.einsum("pij,pj->pi", r, off_far) - off_far).astype(np.float32)
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
    moved[:, skin_v] = poisson_transfer(fit.rest[skin_v], src, fit.registered[skin_v], local[tris[skin_t]],
                                        fit.fixed[skin_v], report=sub_report(report, 0.0, 0.5))
    reg = fit.registered
    open_edges = C.open_edge_flags(tris, len(reg))
    rotations = SurfaceRotations(reg, tris)
    out = np.zeros((len(names), n, 3), np.float32)
    detail = 0.005 * scale

    def onto(ids, tri_ids, labels=None, reach=(0.15, 0.3)):
        """Carry the source's motion onto target vertices ``ids`` from its triangles ``tri_ids``."""
        if not len(ids) or tri_ids is None or not len(tri_ids):
            return
        if labels is not None:
            h = C.LabelledSurface(reg, tris, tri_ids, fit.labels, open_edges).query(verts[ids], labels)
        else:
            h = C.SurfaceIndex(reg, tris, tri_ids, open_edges).query(verts[ids])
        d = carry(verts[ids], reg, moved, tris, h.tri, h.bary, h.point, detail, rotations)
        keep = smoothstep(reach[1] * scale, reach[0] * scale, h.distance)
        out[:, ids] = d * keep[None, :, None].astype(np.float32)

    if report:
        report(0.5, "carrying the shapes onto the mesh")
    skin_ids = fit.found(P.SKIN)
    onto(skin_ids, skin_t, labels=fit.labels_target[skin_ids])
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
    # the mouth's inside (gums, tongue) and loose parts (lashes, eye films) on the source's own
    onto(fit.found(P.MOUTH), fit.groups.get(P.MOUTH), reach=(0.3, 0.6))
    onto(fit.found(P.LOOSE), fit.groups.get(P.LOOSE), reach=(0.1, 0.2))
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
    if target_tris is not None and len(target_tris):
        t_tris = np.asarray(target_tris, np.int64)
        unfolder = Unfolder(verts, t_tris, contact=np.asarray(fit.labels_target) > 0)  # the lips' and lids' sides
        for k, name in enumerate(names):
            under = out[names.index(ON_TOP_OF[name])] if ON_TOP_OF.get(name) in names else None
            fixed, left = unfolder(out[k], under)
            out[k] = fixed.astype(np.float32)
            if left:
                folds[name] = left
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
