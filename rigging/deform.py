"""Carry the expression library onto a dense mesh: per-vertex attributes, then the shapes.

The library (:mod:`rigging.shape_library`) is a set of smooth deformation
fields in the face-local frame.  To evaluate them on a mesh, every vertex
needs the attributes that say what moves independently:

* **lip side** (upper 0 / lower 1): graph-geodesic distance from the upper-lip
  landmarks versus the lower-lip landmarks.  The mouth opening is a hole in
  the surface, so the lower lip is always geodesically nearer the lower-lip
  landmarks; a jaw-open therefore opens the mouth instead of stretching a
  membrane across it.  The same for the **upper/lower eyelid** of each eye.
* **parts** (connected components): the skin (the components holding the
  landmarks); **eyeballs** (sphere-like parts at the eyes, with the open tear
  and occlusion films on them: rotate rigidly for ``eyeLook*``, nothing else;
  the closed ones give the centre the lids turn about); **interior** parts in
  the mouth (teeth, gums, tongue: follow only the jaw - small ones rigidly,
  e.g. each tooth); other loose parts (eyelashes) move and turn with the skin
  under their roots.
* the face mask of the library keeps the back of the head, the neck and the
  scalp exactly still; only vertices inside it are evaluated at all.

Everything is vectorised; distances use ``scipy.sparse.csgraph.dijkstra``
limited to the face, so a 250k-vertex head costs seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ..core.arkit import ARKIT_NAMES
from ..core.jobs import sub_report
from . import shape_library as X
from . import regions as R
from .binding import vertex_normals
from .parts import boundary_vertices, edges, fit_sphere
from .transfer import nearest_rotation


@dataclass
class Rigging:
    """What :func:`prepare` found on a mesh (local frame, parts, attributes)."""

    frame: R.FaceFrame
    anchors: X.Anchors
    points: X.Points  # attributes of the active vertices
    active: np.ndarray  # (M,) vertex indices that may move
    parts: dict = field(default_factory=dict)  # name -> vertex indices (eyeballs, interior, loose)
    has_tongue: bool = False
    notes: list = field(default_factory=list)
    # loose parts (eyelashes) move and turn with their roots: active positions that
    # copy the motion of 8 other active positions (-1: of nothing, they stay)
    follow: tuple = (np.zeros(0, np.int64), np.zeros((0, 8), np.int64))


def edge_graph(verts: np.ndarray, tris: np.ndarray, scale: float = 1.0) -> sp.csr_matrix:
    """Symmetric (N, N) graph of the mesh's edges weighted by their lengths / ``scale``."""
    e = edges(tris, len(verts))
    w = np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1) / scale + 1e-9
    n = len(verts)
    g = sp.coo_matrix((np.concatenate([w, w]), (np.concatenate([e[:, 0], e[:, 1]]),
                                                 np.concatenate([e[:, 1], e[:, 0]]))), shape=(n, n))
    return g.tocsr()


def _geodesic_side(graph, seeds_a, seeds_b, limit, width, fallback):
    """0 near seeds_a, 1 near seeds_b, smooth over ``width`` around the equidistant line."""
    da = dijkstra(graph, indices=np.unique(seeds_a), min_only=True, limit=limit)
    db = dijkstra(graph, indices=np.unique(seeds_b), min_only=True, limit=limit)
    with np.errstate(invalid="ignore"):
        side = X.smoothstep(-width, width, np.nan_to_num(da - db, nan=0.0, posinf=1e9, neginf=-1e9))
    side = np.where(np.isfinite(da) & np.isfinite(db), side,
                    np.where(np.isfinite(da) & ~np.isfinite(db), 0.0,
                             np.where(np.isfinite(db) & ~np.isfinite(da), 1.0, fallback)))
    return side


def eye_hole_margins(q: np.ndarray, tris: np.ndarray, skin: np.ndarray, centre: np.ndarray, columns: int = 9):
    """Upper and lower lid margins of an eye opening that is a hole in the skin.

    The lid margins of a mesh with open eyes are boundary edges of the skin
    around the eye.  Returns (upper_vertex_ids, lower_vertex_ids), one per
    column across the opening, or None when the eye is not a hole (a closed
    surface, e.g. a face built from a photo).  ``q``: local coordinates (IOD).
    """
    bverts = np.flatnonzero(boundary_vertices(tris, len(q)))
    if not len(bverts):
        return None
    rel = q[bverts] - centre
    near = bverts[(np.abs(rel[:, 0]) < 0.38) & (np.abs(rel[:, 1]) < 0.22) & (np.abs(rel[:, 2]) < 0.3)
                  & skin[bverts]]
    if len(near) < 8:
        return None
    x = q[near, 0]
    edges = np.linspace(x.min(), x.max(), columns + 1)
    upper, lower = [], []
    for k in range(columns):
        sel = near[(x >= edges[k]) & (x <= edges[k + 1])]
        if len(sel) < 2:
            continue
        upper.append(sel[np.argmax(q[sel, 1])])
        lower.append(sel[np.argmin(q[sel, 1])])
    if len(upper) < 3 or np.median(q[upper, 1] - q[lower, 1]) < 0.02:
        return None
    return np.array(upper), np.array(lower)


# tongueOut: how far from its tip the tongue moves (graph-geodesic, IOD units: about
# the front half of a tongue), and how far in front of the lower incisors the tip ends
TONGUE_REACH = 0.6
TONGUE_OUT_BEYOND = 0.3


def find_tongue(q: np.ndarray, tris: np.ndarray, graph, comp: np.ndarray, big_interior: np.ndarray,
                teeth: np.ndarray, mouth_c: np.ndarray):
    """The tongue of a head with a mouth inside: (weights (N,) 0..1, TonguePath) or None.

    ``q`` (N, 3) local coordinates (IOD units; x right, y up, z forward), ``graph``
    the mesh's edge graph in them, ``comp`` (N,) connected component per vertex,
    ``big_interior`` / ``teeth`` (N,) bool: the big mouth parts (gums, tongue,
    palate - often one part) and the small ones (each tooth), ``mouth_c`` (3,)
    where the lips meet.

    * **The tip** is the frontmost point of a big mouth part near the mid-plane,
      behind the lower front teeth, at the height of their crowns, whose surface
      faces forward: the gum behind the teeth faces back, the gum in front of
      their roots lies lower, the floor of the mouth faces up.  Without lower
      teeth there is no reference to find it by, and no tongue.
    * **The weights** fall off smoothly with geodesic distance from the tip over
      its part (``TONGUE_REACH``).  The gums are reached from the tip only round
      the underside of the tongue and the floor of the mouth, so they stay still
      even where the tip touches the teeth.
    * **The motion** (:class:`expressions.TonguePath`) carries the tip forward to
      ``TONGUE_OUT_BEYOND`` in front of the lower incisors; what passes over them
      is lifted until the tongue's front half clears their edge, so the tongue
      comes out over the lower teeth (the jaw, as in Apple's captures, is opened
      by ``jawOpen``).
    """
    # lower teeth: whole teeth (parts) whose centre is below where the lips meet
    centre_y = np.bincount(comp, weights=q[:, 1]) / np.maximum(np.bincount(comp), 1)
    lower = teeth & (centre_y[comp] < mouth_c[1])
    front_teeth = lower & (np.abs(q[:, 0] - mouth_c[0]) < 0.15)  # the lower incisors
    if front_teeth.sum() < 8:
        return None
    ft = q[front_teeth]
    normals = vertex_normals(q, tris[big_interior[tris[:, 0]]])  # of the mouth parts only
    cand = np.flatnonzero(big_interior & (np.abs(q[:, 0] - mouth_c[0]) < 0.08) & (q[:, 2] < ft[:, 2].mean())
                          & (q[:, 1] > np.median(ft[:, 1])) & (q[:, 1] < mouth_c[1]) & (normals[:, 2] > 0.5))
    if not len(cand):
        return None
    tip = int(cand[np.argmax(q[cand, 2])])
    sub = np.flatnonzero(big_interior & (comp == comp[tip]))
    where = np.searchsorted(sub, tip)
    dist = dijkstra(graph[sub][:, sub], indices=where, limit=TONGUE_REACH)
    near = np.isfinite(dist)
    if near.sum() < 30 or np.ptp(q[sub[near], 0]) < 0.25:  # a strip of gum, not a tongue
        return None
    w = np.zeros(len(q))
    w[sub[near]] = X.smoothstep(TONGUE_REACH, 0.0, dist[near])
    front = ft[:, 2].max()
    forward = front + TONGUE_OUT_BEYOND - q[tip, 2]
    # the lift: enough that the tongue's front half (w >= 0.5), where it ends in front
    # of the incisors, lies above their edge
    out = (w >= 0.5) & (q[:, 2] + w * forward > front)
    rise = max(0.0, ft[:, 1].max() + 0.02 - q[out, 1].min()) if out.any() else 0.0
    return w, X.TonguePath(forward=forward, lift=rise, teeth_front=front)


def prepare(verts: np.ndarray, tris: np.ndarray, landmarks: np.ndarray, report=None) -> Rigging:
    """Attributes of every vertex that the face shapes may move.

    ``verts`` (N, 3) neutral mesh, ``tris`` (T, 3), ``landmarks`` (478, 3)
    positions on that mesh (same space).
    """
    verts = np.asarray(verts, np.float64)
    tris = np.asarray(tris, np.int64)
    n = len(verts)
    frame = R.face_frame(landmarks)
    lm = frame.to_local(landmarks)
    q = frame.to_local(verts)
    notes = []

    # --- parts --------------------------------------------------------------
    graph = edge_graph(q, tris)
    ncomp, comp = connected_components(graph, directed=False)
    tree = cKDTree(q)
    _, lm_vert = tree.query(lm[:468])
    counts = np.bincount(comp[lm_vert], minlength=ncomp)
    skin_comps = np.flatnonzero(counts >= max(10, 0.1 * counts.max()))
    skin = np.isin(comp, skin_comps)
    if report:
        report(0.1, "finding the parts of the head")

    eye_l, eye_r = R.eye_centres(lm)
    ball = {"l": None, "r": None}
    ball_r = {"l": 0.0, "r": 0.0}
    eyeball = {"l": np.zeros(n, bool), "r": np.zeros(n, bool)}
    interior = np.zeros(n, bool)
    small = np.zeros(n, bool)
    mouth_c = (lm[R.UPPER_LIP_MID_INNER] + lm[R.LOWER_LIP_MID_INNER]) / 2
    mouth_half = np.linalg.norm(lm[R.LIP_CORNER_LEFT] - lm[R.LIP_CORNER_RIGHT]) / 2
    open_edge = boundary_vertices(tris, n)
    order = np.argsort(comp, kind="stable")
    bounds = np.searchsorted(comp[order], np.arange(ncomp + 1))
    for c in range(ncomp):
        if c in skin_comps:
            continue
        idx = order[bounds[c]:bounds[c + 1]]
        p = q[idx]
        cen = p.mean(0)
        ext = float(np.ptp(p, axis=0).max())
        for side, ec in (("l", eye_l), ("r", eye_r)):
            if np.linalg.norm(cen - ec) < 0.4 and len(idx) >= 20:
                sc, sr, res = fit_sphere(p)
                if 0.08 < sr < 0.35 and res < 0.12 * sr and np.linalg.norm(sc - ec) < 0.4 and ext > sr:
                    # the eyeball, and thin shells on it (tear lines, occlusion films):
                    # they turn with the eye; the eyeball's centre is that of the closed ones
                    eyeball[side][idx] = True
                    rim = p[open_edge[idx]]
                    closed = not len(rim) or (rim[:, 2] - sc[2]).max() < 0.2 * sr  # or open at the back
                    if closed and sr > ball_r[side]:
                        ball[side], ball_r[side] = sc, sr
                break
        else:
            rel = cen - mouth_c
            if abs(rel[0]) < mouth_half * 2.0 and -0.75 < rel[1] < 0.45 and rel[2] < 0.0:
                interior[idx] = True
            if ext < 0.7:
                small[idx] = np.True_
    eyes = eyeball["l"] | eyeball["r"]
    small &= ~eyes
    if not eyes.any():
        notes.append("no separate eyeballs found: eyeLook* shapes only move the lids")

    anchors = X.Anchors.from_landmarks(lm, ball_l=ball["l"], ball_r=ball["r"])
    # Eyes that are holes in the skin: the lid margins come from the mesh itself
    # (more exact than landmarks on an untextured render).
    margins = {}
    for side, centre in (("l", eye_l), ("r", eye_r)):
        found = eye_hole_margins(q, tris, skin, centre)
        if found is not None:
            margins[side] = found
            setattr(anchors, f"lids_{side}", X.LidColumns.from_margins(
                q[found[0]], q[found[1]], getattr(anchors, f"ball_{side}"), centre, pad=0.04))
    if report:
        report(0.2, "separating the lips and the eyelids")

    # --- which vertices may move at all --------------------------------------
    probe = X.Points(q=q, lip=np.zeros(n), lid_l=np.zeros(n), lid_r=np.zeros(n),
                     soft=(~(interior | eyes)).astype(float), eye_l=np.zeros(n), eye_r=np.zeros(n),
                     tongue=np.zeros(n))
    active_mask = X.face_mask(probe) > 0
    active_mask &= np.linalg.norm(q - [0, -0.5, 0], axis=1) < 3.0

    # --- lips and lids on the skin (geodesic separation) ----------------------
    def seeds(ids):
        return lm_vert[[i for i in ids if i < 468]]

    # Seeds on the outer lip contours (the vermilion borders): they are well apart even
    # where a closed mouth puts the inner contours of both lips at the same spot.
    upper = list(R.UPPER_LIP_OUTER[2:-2])
    lower = list(R.LOWER_LIP_OUTER[2:-2])
    sub = np.flatnonzero(skin & active_mask)
    g_sub = graph[sub][:, sub]
    pos = -np.ones(n, np.int64)
    pos[sub] = np.arange(len(sub))

    def side_on_skin(a_ids, b_ids, limit, width, fallback):
        sa, sb = pos[seeds(a_ids)], pos[seeds(b_ids)]
        sa, sb = sa[sa >= 0], sb[sb >= 0]
        out = np.array(fallback, dtype=float, copy=True)
        if len(sa) and len(sb):
            out[sub] = _geodesic_side(g_sub, sa, sb, limit, width, fallback[sub])
        return out

    y_rel_mouth = q[:, 1] - mouth_c[1]
    lip = side_on_skin(upper, lower, 1.6, 0.35, X.smoothstep(0.05, -0.05, y_rel_mouth))
    if report:
        report(0.35, "separating the eyelids")
    lids = []
    for side, centre, up_ids, lo_ids in (("l", eye_l, R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER),
                                         ("r", eye_r, R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)):
        fb = X.smoothstep(0.03, -0.03, q[:, 1] - centre[1])
        if side in margins:  # seed the geodesic split with the mesh's own lid margins
            up_v, lo_v = margins[side]
            sa, sb = pos[up_v[1:-1]], pos[lo_v[1:-1]]
            sa, sb = sa[sa >= 0], sb[sb >= 0]
            out = np.array(fb, dtype=float, copy=True)
            if len(sa) and len(sb):
                out[sub] = _geodesic_side(g_sub, sa, sb, 0.7, 0.06, fb[sub])
            lids.append(out)
        else:
            lids.append(side_on_skin(up_ids[2:-2], lo_ids[2:-2], 0.7, 0.06, fb))
    lid_l, lid_r = lids

    # --- interior parts: lip side by height (small ones rigidly, per part) ------
    soft = np.ones(n)
    soft[interior | eyes] = 0.0
    occl = mouth_c[1] + 0.02
    lip_geo = X.smoothstep(0.06, -0.06, q[:, 1] - occl)
    lip = np.where(interior, lip_geo, lip)
    tongue = np.zeros(n)
    # --- loose parts follow the skin they sit on ------------------------------
    loose = ~skin & ~interior & ~eyes
    skin_idx = np.flatnonzero(skin)
    if loose.any():
        st = cKDTree(q[skin_idx])
        li = np.flatnonzero(loose)
        d, nn = st.query(q[li], k=4)
        w = 1.0 / np.maximum(d, 1e-6)
        w /= w.sum(1, keepdims=True)
        for arr in (lip, lid_l, lid_r):
            arr[li] = (arr[skin_idx[nn]] * w).sum(1)
    # small parts in the mouth move as a whole (each tooth keeps its shape); loose
    # parts on the skin (eyelashes, the lacrimal caruncle) follow the skin each of
    # their vertices sits on, so upper lashes ride the upper lid and lower the lower
    for c in range(ncomp):
        idx = order[bounds[c]:bounds[c + 1]]
        if len(idx) and small[idx[0]] and interior[idx[0]]:
            for arr in (lid_l, lid_r):
                arr[idx] = arr[idx].mean()
            lip[idx] = X.smoothstep(0.06, -0.06, q[idx, 1].mean() - occl)
    # --- the tongue: geodesic fall-off from its tip, on the gums-and-tongue part
    found = find_tongue(q, tris, graph, comp, interior & ~small, interior & small, mouth_c)
    if found is not None:
        tongue, anchors.tongue = found
    has_tongue = found is not None
    if not has_tongue:
        notes.append("no tongue found: tongueOut was skipped")

    active_mask |= eyes | interior
    active = np.flatnonzero(active_mask)
    follow = _loose_roots(q, loose, skin_idx, comp, active)
    pts = X.Points(q=q, lip=lip, lid_l=lid_l, lid_r=lid_r, soft=soft, eye_l=eyeball["l"].astype(float),
                   eye_r=eyeball["r"].astype(float), tongue=tongue).subset(active)
    parts = {"eyeball_left": np.flatnonzero(eyeball["l"]), "eyeball_right": np.flatnonzero(eyeball["r"]),
             "interior": np.flatnonzero(interior), "loose": np.flatnonzero(loose), "skin": skin_idx}
    if report:
        report(0.45, "parts and attributes ready")
    return Rigging(frame=frame, anchors=anchors, points=pts, active=active, parts=parts,
                   has_tongue=has_tongue, notes=notes, follow=follow)


def _loose_roots(q, loose, skin_idx, comp, active):
    """Each vertex of a loose part (an eyelash strip) follows the skin vertex under the
    part's root nearest to it (averaged over its 8 nearest root vertices, so a
    strip stays smooth): the quarter of the part closest to the skin is its root.
    Returns (active positions that follow (F,), active positions whose mean
    displacement they copy (F, 8), -1 where the root's skin does not move)."""
    li = np.flatnonzero(loose & np.isin(np.arange(len(q)), active))
    if not len(li) or not len(skin_idx):
        return np.zeros(0, np.int64), np.zeros((0, 8), np.int64)
    dist, nn = cKDTree(q[skin_idx]).query(q[li])
    k = 8
    anchor = np.empty((len(li), k), np.int64)
    for c in np.unique(comp[li]):
        sel = np.flatnonzero(comp[li] == c)
        root = sel[dist[sel] <= np.percentile(dist[sel], 25)]
        _, r = cKDTree(q[li[root]]).query(q[li[sel]], k=min(k, len(root)))
        r = np.asarray(r).reshape(len(sel), -1)
        anchor[sel] = skin_idx[nn[root[r[:, np.arange(k) % r.shape[1]]]]]
    pos = np.searchsorted(active, anchor)
    pos = np.where((pos < len(active)) & (active[np.minimum(pos, len(active) - 1)] == anchor), pos, -1)
    return np.searchsorted(active, li), pos


def shape_displacements(rig: Rigging, names=ARKIT_NAMES, report=None) -> dict[str, np.ndarray]:
    """``{name: (M, 3) float32}`` mesh-space displacements of the active vertices (``rig.active``)."""
    out = {}
    names = [n for n in names if n != "tongueOut" or rig.has_tongue]
    fv, fa = rig.follow
    if len(fv):
        # Followers turn with their roots as well as moving with them (upper lashes
        # swing down with a closing lid): the field's rotation at each root comes
        # from its Jacobian, by finite steps of ``h`` along the local axes.
        roots, slot = np.unique(fa, return_inverse=True)
        slot = slot.reshape(fa.shape)
        moving = roots >= 0
        h = 0.01
        probe = rig.points.subset(np.tile(roots[moving], 3))
        probe.q = probe.q + np.repeat(np.eye(3) * h, moving.sum(), axis=0)
        root_q = np.where((fa >= 0)[:, :, None], rig.points.q[np.maximum(fa, 0)], rig.points.q[fv][:, None])
        arm = rig.points.q[fv] - root_q.mean(axis=1)
    for k, name in enumerate(names):
        d = X.evaluate(name, rig.points, rig.anchors)
        if len(fv):
            jac = np.tile(np.eye(3), (len(roots), 1, 1))
            steps = X.evaluate(name, probe, rig.anchors).reshape(3, -1, 3)
            jac[moving] += np.transpose(steps - d[roots[moving]], (1, 2, 0)) / h
            rot = nearest_rotation(jac[slot].mean(axis=1))
            d_root = np.where((fa >= 0)[:, :, None], d[np.maximum(fa, 0)], 0.0).mean(axis=1)
            d[fv] = d_root + np.einsum("fij,fj->fi", rot, arm) - arm
        out[name] = rig.frame.vec_to_world(d).astype(np.float32)
        if report:
            report((k + 1) / len(names), f"shape {name}")
    return out


def generate(verts, tris, landmarks, names=ARKIT_NAMES, report=None):
    """Prepare and evaluate: returns ``(rig, {name: (M, 3)})`` (see :func:`shape_displacements`)."""
    rig = prepare(verts, tris, landmarks, report=sub_report(report, 0.0, 0.4))
    return rig, shape_displacements(rig, names, report=sub_report(report, 0.4, 1.0))
