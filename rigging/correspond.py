"""Dense correspondence between two face surfaces: closest points, lip and lid labels, and a
landmark-guided non-rigid registration (optimal-step non-rigid ICP).  Pure numpy/scipy.

Shapes: ``verts`` (N, 3) float64 in one space (any units; sizes below are in IOD, the
distance between the eye centres, so they scale with the face), ``tris`` (T, 3) int.

* :class:`SurfaceIndex` - closest points on a triangle mesh (or a subset of its triangles):
  the nearest vertices from a k-d tree, then the exact closest point on the triangles
  round them.  Built once, queried many times.
* :func:`feature_labels` - which vertices belong to the upper or lower lip and to the
  upper or lower lid of each eye (graph-geodesic distance to the landmark contours, so a
  closed mouth still splits at the mouth line).  Correspondences never cross a label: the
  upper lip of one face only ever matches the upper lip of the other.
* :class:`LabelledSurface` - a :class:`SurfaceIndex` per label, queried with labels.
* :func:`register` - moves a source surface onto a target surface: per-vertex
  displacements, a data term to the target's closest points (rejected when too far, facing
  away or on the target's open border), a landmark term and a stiffness term (bending of
  the displacement field) whose weight falls over a schedule (Amberg, Romdhani & Vetter
  2007, "Optimal step nonrigid ICP algorithms for surface registration", with
  displacements in place of affine transforms: the source comes in already fitted by the
  face model, so what is left is small and smooth).  Each step is one sparse solve
  (SuperLU) with three right-hand sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

from . import parts as P
from . import regions as R
from .deform import edge_graph
from .binding import vertex_normals
from .transfer import closest_points_on_triangles

# Label ids of :func:`feature_labels` (0: no feature).
NO_LABEL, LIP_UPPER, LIP_LOWER, LID_L_UPPER, LID_L_LOWER, LID_R_UPPER, LID_R_LOWER = range(7)
LABEL_NAMES = ("none", "upper lip", "lower lip", "left upper lid", "left lower lid", "right upper lid",
               "right lower lid")


# --- closest points ------------------------------------------------------------------


@dataclass
class Hits:
    """Closest points of P queries: ``point`` (P, 3), ``tri`` (P,) index into the full triangle
    array (-1: none), ``bary`` (P, 3), ``distance`` (P,) (inf: none), ``normal`` (P, 3) unit
    normal of the triangle hit, ``border`` (P,) bool: the point lies on an open edge or corner."""

    point: np.ndarray
    tri: np.ndarray
    bary: np.ndarray
    distance: np.ndarray
    normal: np.ndarray
    border: np.ndarray

    @staticmethod
    def empty(n: int) -> "Hits":
        return Hits(np.zeros((n, 3)), -np.ones(n, np.int64), np.zeros((n, 3)), np.full(n, np.inf),
                    np.zeros((n, 3)), np.zeros(n, bool))

    def put(self, part: "Hits", where: np.ndarray) -> None:
        """Rows ``where`` (bool mask or indices) from ``part``, the hits of just those points."""
        for name in ("point", "tri", "bary", "distance", "normal", "border"):
            getattr(self, name)[where] = getattr(part, name)

    def take(self, other: "Hits", where: np.ndarray) -> None:
        for name in ("point", "tri", "bary", "distance", "normal", "border"):
            getattr(self, name)[where] = getattr(other, name)[where]


def triangle_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(T, 3) unit normals (zero for degenerate triangles)."""
    n = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


def open_edge_flags(tris: np.ndarray, n: int) -> np.ndarray:
    """(T, 3) bool: is the edge opposite corner i of each triangle open (used by one triangle)?"""
    t = np.asarray(tris, np.int64)
    a, b = t[:, [1, 2, 0]], t[:, [2, 0, 1]]  # the edge opposite corner i
    key = (np.minimum(a, b) * n + np.maximum(a, b)).ravel()
    # how often each key occurs: one sort, run lengths (np.unique's inverse is a second sort)
    order = np.argsort(key)
    sk = key[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    counts = np.diff(np.r_[starts, len(sk)])
    per = np.empty(len(key), np.int64)
    per[order] = np.repeat(counts, counts)
    return (per == 1).reshape(-1, 3)


class SurfaceIndex:
    """Closest points on the triangles ``tris[tri_ids]`` of a mesh (all triangles by default)."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, tri_ids: np.ndarray | None = None,
                 open_edges: np.ndarray | None = None):
        self.verts = np.asarray(verts, np.float64)
        tris = np.asarray(tris, np.int64)
        self.tri_ids = np.arange(len(tris)) if tri_ids is None else np.asarray(tri_ids, np.int64)
        self.tris = tris[self.tri_ids]
        self.normals = triangle_normals(self.verts, self.tris)
        oe = open_edge_flags(tris, len(self.verts)) if open_edges is None else open_edges
        self.open = oe[self.tri_ids]
        mask = np.zeros(len(self.verts), bool)
        mask[self.tris.ravel()] = True
        used = np.flatnonzero(mask)  # np.unique without the sort
        self.used = used
        # built for a few queries of a fixed surface: an unbalanced tree builds twice as fast
        self.tree = cKDTree(self.verts[used]) if len(used) else None
        # vertex (position in ``used``) -> its triangles (positions in self.tris), CSR (a counting
        # sort: each vertex's triangles in increasing order)
        local = np.zeros(len(self.verts), np.int64)
        local[used] = np.arange(len(used))
        pos = local[self.tris].ravel()
        ring = sp.csr_matrix((np.ones(len(pos), np.int8), (pos, np.repeat(np.arange(len(self.tris)), 3))),
                             shape=(len(used), len(self.tris)))
        self.ring_tris = ring.indices.astype(np.int64)
        self.ring_start = ring.indptr.astype(np.int64)

    def __len__(self) -> int:
        return len(self.tris)

    def query(self, points: np.ndarray, k: int = 2, chunk: int = 20_000) -> Hits:
        """Closest points of ``points`` (P, 3) on the surface (``Hits``): the exact closest point
        on the triangles round the ``k`` nearest vertices."""
        points = np.asarray(points, np.float64)
        out = Hits.empty(len(points))
        if self.tree is None or not len(points):
            return out
        k = int(min(k, len(self.used)))
        for s in range(0, len(points), chunk):
            p = points[s:s + chunk]
            _, nv = self.tree.query(p, k=k)
            nv = np.asarray(nv).reshape(-1)
            owner = np.repeat(np.arange(len(p)), k)
            counts = self.ring_start[nv + 1] - self.ring_start[nv]
            # every (point, triangle) pair round the nearest vertices
            pair_owner = np.repeat(owner, counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            pair_tri = self.ring_tris[np.repeat(self.ring_start[nv], counts) + offsets]
            tt = self.tris[pair_tri]
            q, b = closest_points_on_triangles(p[pair_owner], self.verts[tt[:, 0]], self.verts[tt[:, 1]],
                                               self.verts[tt[:, 2]])
            d = np.linalg.norm(q - p[pair_owner], axis=1)
            # the nearest pair of each point (pairs come grouped by point, every point has some)
            per_point = np.bincount(pair_owner, minlength=len(p))
            starts = np.concatenate([[0], np.cumsum(per_point)[:-1]])
            has = per_point > 0
            dmin = np.full(len(p), np.inf)
            dmin[has] = np.minimum.reduceat(d, starts[has])
            idx = np.flatnonzero(d <= dmin[pair_owner])
            own = pair_owner[idx]
            first = idx[np.concatenate([[True], own[1:] != own[:-1]])] if len(idx) else idx
            who = pair_owner[first]
            sl = np.arange(s, s + len(p))[who]
            best = pair_tri[first]
            out.point[sl], out.bary[sl], out.distance[sl] = q[first], b[first], d[first]
            out.tri[sl] = self.tri_ids[best]
            out.normal[sl] = self.normals[best]
            # on an open edge: the barycentric weight of the corner opposite it is ~0
            out.border[sl] = ((b[first] < 1e-6) & self.open[best]).any(axis=1)
        return out


# --- lip and lid labels --------------------------------------------------------------


# (upper seeds, lower seeds, reach in IOD, labels): the reach is how far from its contour a
# vertex still counts as that feature's (the lips' covers the mouth's inside and the chin's top).
# The lips are seeded on their outer contours (the vermilion borders), which stay apart where a
# closed mouth puts both inner contours on one line.
_FEATURES = (
    (R.UPPER_LIP_OUTER[2:-2], R.LOWER_LIP_OUTER[2:-2], 0.45, (LIP_UPPER, LIP_LOWER)),
    (R.EYE_LEFT_UPPER[2:-2], R.EYE_LEFT_LOWER[2:-2], 0.22, (LID_L_UPPER, LID_L_LOWER)),
    (R.EYE_RIGHT_UPPER[2:-2], R.EYE_RIGHT_LOWER[2:-2], 0.22, (LID_R_UPPER, LID_R_LOWER)),
)
# Where each feature's two sides meet (upper, lower margin landmarks).  A mesh whose triangles
# bridge the margins (a face mask built on the landmarks, its mouth closed over) is cut there,
# and its vertices on the margins take their own side.
_MARGINS = (
    (R.UPPER_LIP_INNER[1:-1], R.LOWER_LIP_INNER[1:-1]),
    (R.EYE_LEFT_UPPER[1:-1], R.EYE_LEFT_LOWER[1:-1]),
    (R.EYE_RIGHT_UPPER[1:-1], R.EYE_RIGHT_LOWER[1:-1]),
)


def _margin_vertices(tree: cKDTree, landmarks: np.ndarray, scale: float):
    """Per feature, (upper, lower) vertex ids on its margins: the vertices at the margin
    landmarks (within 0.01 IOD), where the two sides have distinct vertices (a sealed seam,
    one vertex for both, keeps its geodesic label)."""
    out = []
    for upper, lower in _MARGINS:
        du, su = tree.query(landmarks[list(upper)])
        dl, sl = tree.query(landmarks[list(lower)])
        su, sl = su[du < 0.01 * scale], sl[dl < 0.01 * scale]
        out.append((np.setdiff1d(su, sl), np.setdiff1d(sl, su)))
    return out


def _cut(g: sp.csr_matrix, margins) -> sp.csr_matrix:
    """``g`` without the edges that join an upper margin vertex to a lower one."""
    g = g.tocoo()
    cut = np.zeros(len(g.row), bool)
    for su, sl in margins:
        cut |= (np.isin(g.row, su) & np.isin(g.col, sl)) | (np.isin(g.row, sl) & np.isin(g.col, su))
    if not cut.any():
        return g.tocsr()
    return sp.csr_matrix((g.data[~cut], (g.row[~cut], g.col[~cut])), shape=g.shape)


def feature_labels(verts: np.ndarray, tris: np.ndarray, landmarks: np.ndarray, vertex_mask: np.ndarray,
                   scale: float, graph: sp.csr_matrix | None = None) -> np.ndarray:
    """(N,) int8 label per vertex (:data:`LIP_UPPER` ...; 0 elsewhere) on the surface ``vertex_mask``.

    A vertex within a feature's reach of its contour landmarks takes the side whose
    landmarks are nearer along the surface.  ``landmarks`` (>= 468, 3) on that surface,
    ``scale`` the IOD in mesh units."""
    n = len(verts)
    labels = np.zeros(n, np.int8)
    sub = np.flatnonzero(vertex_mask)
    if not len(sub):
        return labels
    g = graph if graph is not None else edge_graph(verts, tris)
    g = g[sub][:, sub]
    tree = cKDTree(verts[sub])
    margins = _margin_vertices(tree, landmarks, scale)
    g = _cut(g, margins)
    for (upper, lower, reach, (lab_u, lab_l)), (mu, ml) in zip(_FEATURES, margins):
        _, su = tree.query(landmarks[list(upper)])
        _, sl = tree.query(landmarks[list(lower)])
        limit = reach * scale
        du = dijkstra(g, indices=np.unique(su), min_only=True, limit=limit)
        dl = dijkstra(g, indices=np.unique(sl), min_only=True, limit=limit)
        near = np.isfinite(du) | np.isfinite(dl)
        lab = np.where(np.nan_to_num(du, posinf=np.inf) <= np.nan_to_num(dl, posinf=np.inf), lab_u, lab_l)
        lab[mu], lab[ml] = lab_u, lab_l
        near[mu] = near[ml] = True
        free = labels[sub] == 0
        labels[sub[near & free]] = lab[near & free]
    return labels


class LabelledSurface:
    """A :class:`SurfaceIndex` per label of a surface: a query point labelled ``l`` finds its
    closest point among the triangles labelled ``l`` or unlabelled; an unlabelled one among all."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, tri_ids: np.ndarray, vertex_labels: np.ndarray,
                 open_edges: np.ndarray | None = None):
        tris = np.asarray(tris, np.int64)
        tri_ids = np.asarray(tri_ids, np.int64)
        oe = open_edge_flags(tris, len(verts)) if open_edges is None else open_edges
        tl = vertex_labels[tris[tri_ids]]
        # a triangle's label: that of its labelled corners when they agree, else "mixed" (-1)
        lab = tl.max(axis=1).astype(np.int64)
        mixed = ((tl > 0) & (tl != lab[:, None])).any(axis=1)
        lab = np.where(mixed, -1, lab)
        self.all = SurfaceIndex(verts, tris, tri_ids, oe)
        self.by_label = {}
        for value in np.unique(lab):
            if value < 0:
                continue
            self.by_label[int(value)] = SurfaceIndex(verts, tris, tri_ids[lab == value], oe)

    def query(self, points: np.ndarray, labels: np.ndarray | None = None, k: int = 2) -> Hits:
        if labels is None or not len(self.by_label):
            return self.all.query(points, k)
        labels = np.asarray(labels)
        out = Hits.empty(len(points))
        plain = labels == 0
        if plain.any():
            out.put(self.all.query(points[plain], k), plain)
        for value in np.unique(labels[~plain]):
            sel = labels == value
            best = Hits.empty(int(sel.sum()))
            for part in (self.by_label.get(int(value)), self.by_label.get(0)):
                if part is None:
                    continue
                h = part.query(points[sel], k)
                best.take(h, h.distance < best.distance)
            out.put(best, sel)
        return out


# --- non-rigid registration ------------------------------------------------------------


def uniform_laplacian(tris: np.ndarray, n: int) -> sp.csr_matrix:
    """(n, n) ``I - D^-1 A`` over the mesh's edges (rows of isolated vertices are zero)."""
    e = P.edges(tris, n)
    a = sp.coo_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
    a = a.tocsr()
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1), 0.0)
    return (sp.diags((deg > 0).astype(float)) - sp.diags(inv) @ a).tocsr()


@dataclass
class Schedule:
    """Stiffness schedule of :func:`register` (weights relative to one data point of weight 1).

    ``stiffness``: bending weights, high to low (each run ``inner`` times with fresh closest
    points); ``landmarks``: the landmark weight at each stiffness; ``reach``: how far (IOD) a
    closest point may be at each stiffness (farther ones are ignored; the source comes in
    fitted by the face model, so only small corrections are looked for); ``max_angle``: most
    degrees between the normals of a source vertex and its closest point; ``stay``: a weak
    pull toward the start, so parts without data (the mouth's inside) do not drift."""

    stiffness: tuple = (300.0, 30.0, 3.0)
    landmarks: tuple = (30.0, 4.0, 1.0)
    reach: tuple = (0.12, 0.06, 0.04)
    inner: int = 1
    max_angle: float = 60.0
    stay: float = 0.01  # a weak pull of every vertex toward where it started


@dataclass
class Registration:
    """Result of :func:`register`: ``verts`` (N, 3) the moved source, ``hits`` its data vertices'
    closest points on the target at the end, ``used`` (N,) bool the data vertices that found a
    valid one, ``steps`` how many solves ran."""

    verts: np.ndarray
    hits: Hits | None = None
    used: np.ndarray | None = None
    steps: int = 0
    info: dict = field(default_factory=dict)


def register(src_verts: np.ndarray, src_tris: np.ndarray, target: LabelledSurface, scale: float, *,
             data_weight: np.ndarray, src_labels: np.ndarray | None = None,
             lm_verts: np.ndarray | None = None, lm_bary: np.ndarray | None = None,
             lm_target: np.ndarray | None = None, lm_weight: np.ndarray | None = None,
             schedule: Schedule | None = None, report=None) -> Registration:
    """Non-rigid ICP of a source surface onto ``target`` (see the module docstring).

    ``src_verts`` (N, 3) already roughly on the target (same space), ``src_tris`` (T, 3) the
    source's triangles (only they tie vertices together), ``scale`` the IOD in mesh units,
    ``data_weight`` (N,) >= 0 how much each source vertex is pulled to its closest target
    point (0: it only follows its neighbours), ``src_labels`` (N,) feature labels (see
    :func:`feature_labels`).  Landmarks: ``lm_verts`` (L, 3) source vertex ids and
    ``lm_bary`` (L, 3) weights of each landmark on the source, ``lm_target`` (L, 3) where it
    is on the target, ``lm_weight`` (L,).  Returns a :class:`Registration`.
    """
    st = schedule or Schedule()
    x0 = np.asarray(src_verts, np.float64)
    n = len(x0)
    tris = np.asarray(src_tris, np.int64)
    lap = uniform_laplacian(tris, n)
    bend = (lap.T @ lap).tocsc()
    data_weight = np.asarray(data_weight, np.float64)
    data_ids = np.flatnonzero(data_weight > 0)
    labels = None if src_labels is None else np.asarray(src_labels)[data_ids]
    if lm_verts is not None and len(lm_verts):
        lw = np.ones(len(lm_verts)) if lm_weight is None else np.asarray(lm_weight, np.float64)
        rows = np.repeat(np.arange(len(lm_verts)), 3)
        b = sp.csr_matrix((np.asarray(lm_bary, np.float64).ravel(), (rows, np.asarray(lm_verts).ravel())),
                          shape=(len(lm_verts), n))
        blm = (b.T @ sp.diags(lw) @ b).tocsc()
        rhs_lm = b.T @ (lw[:, None] * (np.asarray(lm_target, np.float64) - b @ x0))
    else:
        blm, rhs_lm = None, np.zeros((n, 3))
    disp = np.zeros((n, 3))
    cos_max = np.cos(np.radians(st.max_angle))
    hits, used, steps = None, np.zeros(n, bool), 0
    total = len(st.stiffness) * st.inner
    for level, (alpha, beta, reach) in enumerate(zip(st.stiffness, st.landmarks, st.reach)):
        for _ in range(st.inner):
            x = x0 + disp
            normals = vertex_normals(x, tris)[data_ids]
            hits = target.query(x[data_ids], labels)
            ok = (hits.distance < reach * scale) & ~hits.border & \
                 (np.einsum("ij,ij->i", normals, hits.normal) > cos_max)
            w = np.zeros(n)
            w[data_ids[ok]] = data_weight[data_ids[ok]]
            # point to plane: each vertex is pulled along the target's normal only, so the
            # surfaces slide over each other where the stiffness wants
            target_pts = x.copy()
            xo, hn = x[data_ids[ok]], hits.normal[ok]
            target_pts[data_ids[ok]] = xo - hn * np.einsum("ij,ij->i", xo - hits.point[ok], hn)[:, None]
            a = sp.diags(w + st.stay) + alpha * bend
            rhs = w[:, None] * (target_pts - x0)
            if blm is not None:
                a = a + beta * blm
                rhs = rhs + beta * rhs_lm
            a = (a + sp.identity(n) * 1e-8).tocsc()
            lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
            disp = np.stack([lu.solve(rhs[:, c]) for c in range(3)], axis=1)
            steps += 1
            used = np.zeros(n, bool)
            used[data_ids[ok]] = True
            if report:
                report(steps / total, f"registering the surface (stiffness {alpha:g})")
    x = x0 + disp
    final = target.query(x[data_ids], labels)
    return Registration(verts=x, hits=final, used=used, steps=steps)


# --- one face fitted onto another: the result both transfers share ---------------------

# What a part of a mesh is (rigging.parts' kinds), and NONE for a part far from every part of
# the source (a hat, a prop): it stays still.
NONE = "none"
KINDS = (P.SKIN, P.EYE_L, P.EYE_R, P.TEETH_UP, P.TEETH_LO, P.MOUTH, P.LOOSE)
EYES = (P.EYE_L, P.EYE_R)
MATCH_REACH = 0.3  # IOD: how far a part may lie from the source's parts to be matched to them


@dataclass
class Fit:
    """A source face (the face model, or a reference head) fitted onto a target mesh, in the
    target's space.

    Source: ``rest`` (V, 3) posed on the target, ``registered`` (V, 3) its skin registered onto
    the target's skin (other parts as ``rest``), ``tris`` (T, 3), ``groups`` {kind: triangle
    ids} its parts by kind (:data:`KINDS`), ``labels`` (V,) its lip/lid labels, ``fixed`` (V,)
    bool skin that stays still (the back of the head, the neck), ``falloff`` (V,) 0..1 how
    much of each vertex's motion is kept (1 on the face, 0 where ``fixed``).

    Target: ``scale`` its IOD (mesh units), ``kind`` (N,) what each vertex's part is
    (:data:`KINDS` or :data:`NONE`), ``labels_target`` (N,) its lip/lid labels, ``eye_centres``
    {"L"/"R": (3,)} its eyeball centres, ``parts`` its connected parts.

    ``residual`` {stage: {region: median distance / IOD}}, ``coverage`` the share of the
    source's face that found the target, ``notes``; the face model's ``identity``,
    ``expression`` and ``pose`` (model -> mesh) where the source is the model."""

    rest: np.ndarray
    registered: np.ndarray
    tris: np.ndarray
    groups: dict
    labels: np.ndarray
    fixed: np.ndarray
    falloff: np.ndarray
    scale: float
    kind: np.ndarray
    labels_target: np.ndarray
    eye_centres: dict
    parts: "P.Parts"
    residual: dict = field(default_factory=dict)
    coverage: float = 1.0
    notes: list = field(default_factory=list)
    identity: np.ndarray | None = None
    expression: np.ndarray | None = None
    pose: object | None = None

    def found(self, kind: str) -> np.ndarray:
        """Vertex ids of the target's parts of ``kind``."""
        return np.flatnonzero(self.kind == kind)


def mesh_parts(verts: np.ndarray, tris: np.ndarray, landmarks: np.ndarray, scale: float) -> "P.Parts":
    """A face mesh's connected parts classified (:func:`parts.classify`): skin, eyeballs, teeth,
    mouth, loose.  A face-sized part holding many landmarks is skin whatever its share of the
    mesh (a face split from its scalp).  Parts are not welded: eye films and lashes often touch
    the lids at shared positions."""
    from . import armature as arm

    guide = arm.guide_from_mediapipe(landmarks)
    frame = arm.head_frame(guide)
    labels = P.components(tris, len(verts))
    parts = P.classify(verts, tris, frame, guide, labels=labels)
    _, near = cKDTree(verts).query(landmarks[:468])
    counts = np.bincount(labels[near], minlength=len(parts.kinds))
    for c in np.flatnonzero(counts >= 20):
        if parts.kinds[c] == P.LOOSE and np.ptp(verts[labels == c], axis=0).max() > 1.5 * scale:
            parts.kinds[c] = P.SKIN
    return parts


def match_parts(verts: np.ndarray, skin: np.ndarray, parts: "P.Parts", registered: np.ndarray,
                tris: np.ndarray, groups: dict, scale: float) -> np.ndarray:
    """What each part of a target mesh is: ``skin`` (N,) bool stays skin; every other connected
    part takes the kind of the source part (``groups`` {kind: triangle ids} of the source
    surface ``registered`` / ``tris``) most of its vertices lie nearest, or :data:`NONE` when it
    lies farther than :data:`MATCH_REACH` from all of them; an eyeball's kind only where
    ``parts`` found an eyeball (else it is loose).  Returns (N,) object array."""
    kind = np.full(len(verts), NONE, dtype=object)
    kind[skin] = P.SKIN
    other = np.flatnonzero(~skin)
    names = [k for k in KINDS if k in groups and len(groups[k])]
    if not len(other) or not names:
        return kind
    group_of = -np.ones(len(tris), np.int64)
    for j, k in enumerate(names):
        group_of[groups[k]] = j
    hits = SurfaceIndex(registered, tris, np.flatnonzero(group_of >= 0)).query(verts[other])
    g = group_of[hits.tri]
    comp = parts.labels[other]
    order = np.argsort(comp, kind="stable")
    starts = np.flatnonzero(np.r_[True, comp[order][1:] != comp[order][:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(order)]):
        ids = order[a:b]
        j = int(np.bincount(g[ids], minlength=len(names)).argmax())
        near = np.median(hits.distance[ids]) < MATCH_REACH * scale
        found = names[j]
        if found in EYES and parts.kinds[comp[ids[0]]] not in EYES:
            # beside the source's eyeball but no eyeball itself (an eye film, a tear line): it
            # must not turn with the gaze
            found = P.LOOSE
        kind[other[ids]] = found if near else NONE
    return kind


def eye_centres(verts: np.ndarray, kind: np.ndarray, guesses: dict, scale: float) -> dict:
    """{"L"/"R": (3,)} the target's eyeball centres: a sphere fit of each eye's parts where it
    is good and near ``guesses`` (the source's centres), else the guess; eyes without parts are
    left out."""
    out = {}
    for side, part in (("L", P.EYE_L), ("R", P.EYE_R)):
        ids = np.flatnonzero(kind == part)
        if len(ids) < 20:
            continue
        centre, radius, res = P.fit_sphere(verts[ids])
        guess = guesses.get(side)
        good = res < 0.1 * radius and (guess is None or np.linalg.norm(centre - guess) < 0.1 * scale)
        out[side] = centre if good or guess is None else np.asarray(guess, np.float64)
    return out
