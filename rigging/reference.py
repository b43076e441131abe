"""Shape keys carried from a reference head onto another mesh: the reference fitted onto the
target as the face model is for the scan-based shapes (``rigging.scan_rig``: landmarks, then its
skin registered onto the target's), then the same deformation transfer, part by part.

Shapes: points (N, 3) float64 in the target's units; triangles (T, 3) int.
"""

from __future__ import annotations

import numpy as np

from ..core.jobs import sub_report
from . import correspond as C
from . import parts as P
from . import regions as R
from .deformation_transfer import transfer_to_mesh
from .transfer import apply_similarity, similarity, smooth_warp


def fit_reference(src_verts: np.ndarray, src_tris: np.ndarray, src_landmarks: np.ndarray, dst_verts: np.ndarray,
                  dst_tris: np.ndarray, dst_landmarks: np.ndarray, moving: np.ndarray, report=None):
    """A reference head fitted onto a target mesh (:class:`correspond.Fit`), the same way the face
    model is (``rigging.scan_rig``): a similarity and a thin-plate warp from the landmarks, then
    the reference's skin registered onto the target's (non-rigid ICP, lips and lids kept apart);
    both meshes' parts found and matched.  ``moving`` (Ns,) how far each reference vertex moves
    in its shapes (its still skin - the back of the head - is the transfer's fixed boundary)."""
    src_verts, dst_verts = np.asarray(src_verts, float), np.asarray(dst_verts, float)
    src_tris, dst_tris = np.asarray(src_tris, np.int64), np.asarray(dst_tris, np.int64)
    src_lm, dst_lm = np.asarray(src_landmarks, float), np.asarray(dst_landmarks, float)
    scale = R.face_frame(dst_lm).scale
    s, rm, t = similarity(src_lm[:468], dst_lm[:468])
    rest = apply_similarity(src_verts, s, rm, t)
    ctrl = apply_similarity(src_lm[:468], s, rm, t)
    warped = smooth_warp(ctrl, dst_lm[:468], rest, smoothing=1e-4, scale=scale)
    if report:
        report(0.15, "finding the parts of both heads")
    src_parts = C.mesh_parts(rest, src_tris, apply_similarity(src_lm, s, rm, t), scale)
    dst_parts = C.mesh_parts(dst_verts, dst_tris, dst_lm, scale)
    src_kind = np.array(src_parts.kinds, dtype=object)[src_parts.labels]
    groups = {k: np.flatnonzero((src_kind[src_tris] == k).all(axis=1)) for k in C.KINDS}
    src_skin = src_kind == P.SKIN
    dst_skin = dst_parts.mask(P.SKIN)
    src_labels = C.feature_labels(warped, src_tris, dst_lm, src_skin, scale)
    dst_labels = C.feature_labels(dst_verts, dst_tris, dst_lm, dst_skin, scale)
    target = C.LabelledSurface(dst_verts, dst_tris, np.flatnonzero(dst_skin[dst_tris].all(axis=1)), dst_labels)
    # the reference's skin, on its own, registered onto the target's
    skin_v = np.unique(src_tris[groups[P.SKIN]])
    local = -np.ones(len(src_verts), np.int64)
    local[skin_v] = np.arange(len(skin_v))
    on_ref = C.SurfaceIndex(warped, src_tris, groups[P.SKIN]).query(dst_lm[:468])
    if report:
        report(0.3, "registering the reference to this face")
    reg = C.register(warped[skin_v], local[src_tris[groups[P.SKIN]]], target, scale, data_weight=np.ones(len(skin_v)),
                     src_labels=src_labels[skin_v], lm_verts=local[src_tris[on_ref.tri]], lm_bary=on_ref.bary,
                     lm_target=dst_lm[:468], lm_weight=np.full(468, 0.1),
                     report=sub_report(report, 0.3, 0.9))
    registered = warped.copy()
    registered[skin_v] = reg.verts
    kind = C.match_parts(dst_verts, dst_skin, dst_parts, registered, src_tris, groups, scale)
    guesses = {side: apply_similarity(np.asarray(c)[None], s, rm, t)[0] for side, (c, _) in src_parts.eyeballs.items()}
    eyes = C.eye_centres(dst_verts, kind, guesses, scale)
    # still skin: what no shape of the reference moves (at least one vertex per part of it)
    moving = np.asarray(moving, float) * s
    fixed = src_skin & (moving <= 1e-3 * max(moving.max(), 1e-300))
    for c in np.unique(src_parts.labels[src_skin]):
        ids = np.flatnonzero((src_parts.labels == c) & src_skin)
        if not fixed[ids].any():
            fixed[ids[np.argmin(moving[ids])]] = True
    used = reg.used & np.isfinite(reg.hits.distance)
    res = float(np.median(reg.hits.distance[used]) / scale) if used.any() else float("inf")
    return C.Fit(rest=rest, registered=registered, tris=src_tris, groups=groups, labels=src_labels, fixed=fixed,
                 falloff=np.ones(len(rest)), scale=scale, kind=kind, labels_target=dst_labels, eye_centres=eyes,
                 parts=dst_parts, residual={"registered": {"all": res}}, coverage=float(used.mean()),
                 pose=(s, rm, t))


def transfer_from_reference(src_verts: np.ndarray, src_tris: np.ndarray, src_landmarks: np.ndarray,
                            src_disps: np.ndarray, dst_verts: np.ndarray, dst_tris: np.ndarray,
                            dst_landmarks: np.ndarray, names, report=None):
    """Carry a reference head's shape keys onto another mesh (``rigging.deformation_transfer``
    on the reference fitted by :func:`fit_reference`): ``src_disps`` (K, Ns, 3) its keys as
    displacements, ``names`` their K names.  Returns ``deformation_transfer.MeshShapes``
    (displacements in the target's units)."""
    disps = np.asarray(src_disps, float)
    fit = fit_reference(src_verts, src_tris, src_landmarks, dst_verts, dst_tris, dst_landmarks,
                        np.linalg.norm(disps, axis=2).max(axis=0) if len(disps) else np.zeros(len(src_verts)),
                        report=sub_report(report, 0.0, 0.6))
    s, rm, _ = fit.pose
    deltas = s * disps @ rm.T
    return transfer_to_mesh(dst_verts, fit, deltas, names, target_tris=dst_tris,
                            report=sub_report(report, 0.6, 1.0))
