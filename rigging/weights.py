"""Automatic skin weights for the face armature (pure numpy/scipy).

Method (bounded harmonic weights):

1. Rigid parts are fixed: eyeball shells -> their eye bone, upper teeth ->
   head, lower teeth -> jaw (weight exactly 1).
2. On the skin (and the inner-mouth parts) a few anatomical regions are fixed,
   in the face frame: the upper lip, nose, brows and back of the skull ->
   ``head``; the lower lip, chin and the jaw line's lower border -> ``jaw``;
   the base of the neck -> ``neck``; the tongue (inside the lower dental
   arch) -> the tongue chain.  The upper/lower lip split follows the line
   where the lips meet, so the jaw stops exactly at the upper lip.
3. Every other vertex gets a smooth interpolation of those values over the
   mesh graph (edge weights 1/length; one sparse LU factorisation, one
   solve per bone).  Default ``smooth="biharmonic"`` (bi-Laplacian, lumped
   metric): C1-smooth fall-off with no crease where the anchored regions
   end; the rare small overshoots are clipped and each row renormalised.
   ``smooth="harmonic"`` is the bounded alternative (in [0, 1] by the
   maximum principle, but with a kink at the anchors).  Both sum to 1 at
   every vertex (constants solve both systems), so the jaw falls off
   through the cheeks and the head blends into the neck.
4. Loose parts (eyelashes, lacrimal fluid, eye occlusion...) copy the weights
   of the nearest skin vertex: they follow the skin they sit on.

Everything is decided from geometry that mirrors with the face (|x| in the
face frame), so mirrored input gives mirrored weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

from . import armature as arm
from . import parts as P

_NOOP = lambda *a, **k: None  # noqa: E731


@dataclass
class SkinWeights:
    bones: list  # deforming bone names, one column each
    weights: np.ndarray  # (N, B) float64, rows sum to 1
    fixed: np.ndarray  # (N,) bool: vertices whose weights were fixed (not interpolated)

    def column(self, name: str) -> np.ndarray:
        return self.weights[:, self.bones.index(name)]


def laplacian(verts: np.ndarray, tris: np.ndarray, mask: np.ndarray | None = None) -> sp.csr_matrix:
    """Graph Laplacian L = D - W with edge weights 1/length (scale-invariant shape)."""
    n = len(verts)
    e = P.edges(tris, n)
    if mask is not None:
        e = e[mask[e[:, 0]] & mask[e[:, 1]]]
    length = np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1)
    w = 1.0 / np.maximum(length, 1e-12 * max(float(length.max(initial=1.0)), 1e-30))
    w = w / w.mean() if len(w) else w
    i = np.r_[e[:, 0], e[:, 1]]
    j = np.r_[e[:, 1], e[:, 0]]
    ww = np.r_[w, w]
    W = sp.coo_matrix((ww, (i, j)), shape=(n, n)).tocsr()
    d = np.asarray(W.sum(axis=1)).ravel()
    return (sp.diags(d) - W).tocsr()


SMOOTH = ("harmonic", "biharmonic")
THROAT_BELOW_CHIN = 0.35  # x inter-ocular distance: skin this far below the chin is throat
NECK_ANCHOR = 0.45  # the lower part of the neck (this fraction of neck-bottom..chin) is all neck


def compute_weights(verts: np.ndarray, tris: np.ndarray, skeleton: "arm.Skeleton", parts: "P.Parts",
                    guide: "arm.FaceGuide", report=_NOOP, smooth: str = "biharmonic") -> SkinWeights:
    """Skin weights (N, B) for the deforming bones of ``skeleton``.

    ``verts`` (N, 3) world space (the same space the guide and skeleton were
    built in), ``tris`` (T, 3).  ``report(fraction, message)`` for progress.
    """
    verts = np.asarray(verts, dtype=np.float64)
    n = len(verts)
    fr = skeleton.frame
    s = fr.size
    p = fr.to_local(verts)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    ax = np.abs(x)
    bones = [b.name for b in skeleton.bones if b.deform]
    col = {b: i for i, b in enumerate(bones)}
    has_tongue = arm.TONGUE[0] in col
    report(0.02, "classifying regions")

    xs, zs = skeleton.mouth_line
    corners = fr.to_local(guide.mouth_corners)
    half = float(np.abs(corners[:, 0]).max())
    corner_z = float(corners[:, 2].mean())
    zline = np.interp(np.clip(x, xs[0], xs[-1]), xs, zs)
    chin = fr.to_local(guide.chin)
    nose_tip = fr.to_local(guide.nose_tip)
    hinge_y, hinge_z = float(skeleton.hinge[:, 1].mean()), float(skeleton.hinge[:, 2].mean())
    lips_y = float(fr.to_local(np.concatenate([guide.lip_upper_inner, guide.lip_lower_inner]))[:, 1].min())
    front = y < hinge_y - 0.3 * (hinge_y - lips_y)

    skin = parts.mask(P.SKIN)
    mouth = parts.mask(P.MOUTH)
    soft = skin | mouth
    value = np.full(n, -1, dtype=np.int64)  # fixed bone column per vertex, -1 = free

    # Rigid parts.
    value[parts.mask(P.EYE_L)] = col[arm.EYE_L]
    value[parts.mask(P.EYE_R)] = col[arm.EYE_R]
    value[parts.mask(P.TEETH_UP)] = col[arm.HEAD]
    value[parts.mask(P.TEETH_LO)] = col[arm.JAW]

    # Skin regions.
    in_mouth_x = ax < 0.85 * half
    upper_lip = skin & in_mouth_x & (z >= zline) & front
    head_zone = skin & ((z > nose_tip[2]) | ((y > hinge_y + 0.1 * s) & (z > hinge_z - 0.2 * s)))
    jaw_front = skin & in_mouth_x & (z < zline) & (z > chin[2] - 0.1 * s) & front
    jaw_border = np.zeros(n, dtype=bool)
    lower_jaw = fr.to_local(guide.jaw_line)
    lower_jaw = lower_jaw[lower_jaw[:, 2] < corner_z - 0.1 * s]
    if len(lower_jaw) and skin.any():
        sk_idx = np.flatnonzero(skin)
        tree = cKDTree(p[sk_idx])
        for hits in tree.query_ball_point(lower_jaw, r=0.12 * s):
            jaw_border[sk_idx[hits]] = True
    value[skin & (head_zone | upper_lip)] = col[arm.HEAD]
    value[jaw_front | (jaw_border & ~upper_lip & ~head_zone)] = col[arm.JAW]
    lo_z = z[skin].min() if skin.any() else 0.0
    if lo_z < chin[2] - 0.3 * s:  # the mesh has a neck
        value[skin & (z < lo_z + NECK_ANCHOR * (chin[2] - lo_z))] = col[arm.NECK]
        # The throat (below the chin, in front of the jaw hinge) does not open with the jaw: the
        # jaw's influence fades over the skin under the chin (no folding into the neck).
        throat = skin & (z < chin[2] - THROAT_BELOW_CHIN * s) & (y < hinge_y) & ~jaw_border
        value[throat] = col[arm.NECK]

    # Inside the mouth (gums, tongue): above the lips' line -> head, below -> jaw / tongue.
    if mouth.any():
        value[mouth & (z > zline + 0.05 * s)] = col[arm.HEAD]
        value[mouth & (z < zline - 0.05 * s)] = col[arm.JAW]

    tongue_w = None
    if has_tongue:
        chain = [skeleton.bone(b) for b in arm.TONGUE]
        a0, a1 = chain[0].head, chain[-1].tail
        axis = a1 - a0
        t = ((p - a0) @ axis) / max(axis @ axis, 1e-12)
        teeth_lo = parts.mask(P.TEETH_LO)
        arch = float(ax[teeth_lo].max()) if teeth_lo.any() else half
        tongue = mouth & (z < zline - 0.05 * s) & (ax < 0.6 * arch) & (t > -0.1) & (t < 1.1)
        # Hat functions along the chain, centred on each tongue bone.
        centres = np.array([((b.head + b.tail) / 2 - a0) @ axis / (axis @ axis) for b in chain])
        tt = np.clip(t[tongue], centres[0], centres[-1])
        tongue_w = np.zeros((int(tongue.sum()), len(chain)))
        for k in range(len(chain)):
            left = centres[k - 1] if k > 0 else None
            right = centres[k + 1] if k + 1 < len(chain) else None
            w = np.ones_like(tt)
            if left is not None:
                w = np.where(tt < centres[k], (tt - left) / (centres[k] - left), w)
            if right is not None:
                w = np.where(tt > centres[k], (right - tt) / (right - centres[k]), w)
            tongue_w[:, k] = np.clip(w, 0, 1)
        value[tongue] = -2  # fixed, multi-bone
        tongue_idx = np.flatnonzero(tongue)

    fixed = value != -1
    W = np.zeros((n, len(bones)))
    one = value >= 0
    W[np.flatnonzero(one), value[one]] = 1.0
    if tongue_w is not None:
        W[tongue_idx[:, None], [col[b] for b in arm.TONGUE]] = tongue_w

    # Harmonic interpolation on the soft parts, per connected component that has fixed vertices.
    report(0.1, "building the mesh Laplacian")
    comp_has_fixed = np.zeros(int(parts.labels.max()) + 1, dtype=bool)
    comp_has_fixed[np.unique(parts.labels[soft & fixed])] = True
    system = soft & comp_has_fixed[parts.labels]
    free = system & ~fixed
    if free.any():
        L = laplacian(verts, tris, mask=system)
        if smooth == "biharmonic":
            # Bi-Laplacian with a lumped (degree) metric: C1-smooth fall-off, no crease at the anchors.
            d = L.diagonal()
            d = np.where(d > 0, d, 1.0)
            L = (L.T @ sp.diags(1.0 / d) @ L).tocsr()
        fi = np.flatnonzero(free)
        ci = np.flatnonzero(system & fixed)
        Lff = L[fi][:, fi].tocsc()
        Lfc = L[fi][:, ci]
        # A tiny diagonal keeps free vertices without edges (zero rows) solvable; they are refilled below.
        scale = float(np.abs(Lff.diagonal()).mean()) if Lff.nnz else 1.0
        Lff = (Lff + sp.identity(len(fi), format="csc") * (1e-10 * scale)).tocsc()
        report(0.25, f"solving smooth weights ({len(fi)} vertices, {smooth})")
        rhs = -(Lfc @ W[ci])
        lu = splu(Lff, permc_spec="COLAMD")
        report(0.8, "solved; normalising")
        W[fi] = lu.solve(np.asfortranarray(rhs))
        isolated = fi[np.asarray(abs(L[fi]).sum(axis=1)).ravel() <= 2e-10 * scale]
        W[isolated] = 0.0  # no neighbours: treated like a loose vertex below

    # Loose parts and unconstrained soft components copy the nearest weighted skin vertex.
    done = (system | (fixed & ~soft))
    rest = ~done
    src = np.flatnonzero(system if system.any() else done)
    if rest.any() and len(src):
        report(0.9, "binding loose parts to the skin under them")
        _, nn = cKDTree(verts[src]).query(verts[rest])
        W[rest] = W[src[nn]]
    W = np.clip(W, 0.0, None)
    W[W < 1e-6] = 0.0
    total = W.sum(1, keepdims=True)
    empty = total[:, 0] <= 0
    if empty.any():
        W[empty] = 0.0
        W[empty, col[arm.HEAD]] = 1.0
        total[empty] = 1.0
    W /= total
    report(1.0, "weights done")
    return SkinWeights(bones=bones, weights=W, fixed=fixed)


@dataclass
class RigPlan:
    """Everything pure about a face rig: parts, bones, weights."""
    guide: "arm.FaceGuide"
    skeleton: "arm.Skeleton"
    parts: "P.Parts"
    weights: SkinWeights


def plan_rig(verts: np.ndarray, tris: np.ndarray, landmarks: np.ndarray, report=_NOOP,
             guide: "arm.FaceGuide | None" = None, smooth: str = "biharmonic") -> RigPlan:
    """Classify parts, place bones and compute weights for one combined mesh.

    ``verts`` (N, 3) world space, ``tris`` (T, 3), ``landmarks`` (L, 3) world
    space (478/468 MediaPipe or 68 iBUG), or a ready ``guide``.
    """
    guide = guide or arm.guide_from_landmarks(landmarks)
    frame = arm.head_frame(guide)
    report(0.0, "finding the mesh parts")
    parts = P.classify(verts, tris, frame, guide)
    skin = parts.mask(P.SKIN)
    extent = None
    if skin.any():
        loc = frame.to_local(np.asarray(verts)[skin])
        extent = np.stack([loc.min(0), loc.max(0)])
    mouth = parts.mask(P.MOUTH)
    tongue_pts = None
    if mouth.any():
        loc = frame.to_local(np.asarray(verts)[mouth])
        xs, zs = arm.mouth_line(frame, guide)
        below = loc[:, 2] < np.interp(np.clip(loc[:, 0], xs[0], xs[-1]), xs, zs) - 0.05 * frame.size
        if below.sum() >= 8:
            tongue_pts = np.asarray(verts)[mouth][below]
    if not ("L" in parts.eyeballs and "R" in parts.eyeballs) and skin.any():
        frame = arm.centre_on_mesh(frame, np.asarray(verts)[skin])
    sk = arm.place_bones(guide, skin_local_extent=extent, eyeballs=parts.eyeballs, tongue_points=tongue_pts,
                         frame=frame)
    w = compute_weights(verts, tris, sk, parts, guide,
                        report=lambda f, m="": report(0.1 + 0.9 * f, m), smooth=smooth)
    return RigPlan(guide=guide, skeleton=sk, parts=parts, weights=w)
