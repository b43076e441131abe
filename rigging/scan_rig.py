"""Scan-based ARKit shapes on any face mesh: template fit, dense correspondence, deformation
transfer (pure numpy/scipy; the face model is :mod:`facemodel`).

Inputs: the user's mesh ``verts`` (N, 3) in its own space and units, ``tris`` (T, 3), and its
478 bound landmarks (478, 3) in the same space.  Everything below happens in the mesh's
space; sizes are in IOD (the distance between the eye centres).

1. **Template fit** (:func:`fit_template`).  The face model's identity, expression and pose
   (a similarity, model -> mesh) from the landmarks (:func:`facemodel.fit_identity`); then
   the identity, expression and pose again from the surface itself: the template's face
   points pulled to their closest points on the user's skin, a few rounds of linear least
   squares (identity prior, expression bounded and sparse).  That residual - how far the
   best *human* head of the model stays from the mesh - is what says whether the mesh is a
   realistic face (:func:`choose_source`).  Then a landmark-guided non-rigid registration
   of the template's skin onto the user's skin (:func:`correspond.register`, optimal-step
   non-rigid ICP, lips and lids never matched across), which leaves the template within a
   fraction of a millimetre of a scanned head.
2. **Transfer** (:func:`transfer_shapes`).  The model's 52 shapes for that identity
   (eyeballs turned for ``eyeLook*``, FaceForge's ``tongueOut``) are applied to the
   registered template by deformation transfer (:func:`deformation_transfer.poisson_transfer`:
   one factorisation, every shape; the back of the head and the neck - the procedural
   library's face mask - are Dirichlet boundaries and stay still).  Every user vertex then
   takes the motion of its closest point on the registered template, part by part: skin on
   skin (lips and lids kept apart), mouth parts on the template's gums and tongue, eyelashes
   and eye films on the template's, or on the skin.  Detail the template does not have turns
   with the surface (:func:`deformation_transfer.carry`).  Rigid parts move rigidly: each
   eyeball turns about its own centre for the gaze shapes, the lower teeth follow the
   template's lower teeth (a rigid fit per shape), the upper teeth stay.

The transfer's cost does not grow with the template (the Poisson system is the template's,
about 12,000 free vertices, whatever the mesh); on the user's mesh it is closest points and
interpolation, linear in its vertex count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from ..core import blas
from ..core.jobs import sub_report
from ..core.parallel import beside
from ..facemodel import fit_identity, load_model
from ..facemodel.fit import REGIONS, box_qp
from ..facemodel.model import GAZE_SHAPES, PARTS, FaceModel, Pose
from . import correspond as C
from . import deformation_transfer as DT
from . import parts as P
from . import regions as R
from . import shape_library as X
from .transfer import similarity

# The template's surfaces (vertex ranges of the face model).
SKIN_END = PARTS["eye_socket_R"][1]  # face, head and neck, mouth and eye sockets: one connected surface
FACE_END = PARTS["face"][1]
LOOSE_PARTS = ("lacrimal_L", "lacrimal_R", "eye_blend_L", "eye_blend_R", "eye_occlusion_L", "eye_occlusion_R",
               "eyelashes_L", "eyelashes_R")
# The template's parts by kind (rigging.parts' names): skin includes the mouth and eye sockets,
# "loose" the lashes and eye films.
TEMPLATE_GROUPS = {
    P.SKIN: ("face", "head_neck", "mouth_socket", "eye_socket_L", "eye_socket_R"),
    P.EYE_L: ("sclera_L", "iris_L"), P.EYE_R: ("sclera_R", "iris_R"),
    P.TEETH_UP: ("teeth_upper",), P.TEETH_LO: ("teeth_lower",), P.MOUTH: ("gums_tongue",),
    P.LOOSE: LOOSE_PARTS,
}

# How close a face must come to the best human head of the model to get the scan-based
# shapes in the automatic choice: the median distance of the template's face inside its outline
# to the mesh's surface after the model fit (IOD), and the share of it that finds the mesh.
AUTO_MAX_RESIDUAL = 0.06
# How much the landmarks count beside the surface, once the surface is there: in the model's
# fit to the surface (per landmark, against 0.25 per surface point) and in the registration
# (times its schedule).  Detected landmarks are biased by a few percent of the IOD on renders
# (brows most), where a scanned surface is exact; they keep the lips' and eyes' corners.
LANDMARKS_SURFACE = 0.1
LANDMARKS_NICP = 0.03
AUTO_MIN_COVERAGE = 0.5
# Fewer vertices than this (a landmark mask such as MediaPipe's own 468-point face) cannot carry
# a scan's shapes: the template's face alone has 12,000; the automatic choice is procedural.
AUTO_MIN_VERTICES = 1000


# --- 1. template fit ------------------------------------------------------------------


def _template_triangles(model: FaceModel, lo: int, hi: int) -> np.ndarray:
    t = model.triangles
    return np.flatnonzero(np.all((t >= lo) & (t < hi), axis=1))


def _triangles_of(model: FaceModel, names) -> np.ndarray:
    keep = np.zeros(model.n_vertices, bool)
    for n in names:
        keep[model.part(n)] = True
    return np.flatnonzero(keep[model.triangles].all(axis=1))


def _region_of_vertices(model_landmarks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Each point's region (index into list(REGIONS)): that of its nearest face landmark."""
    names = list(REGIONS)
    owner = np.full(478, len(names) - 1)
    for i, n in enumerate(names):
        owner[REGIONS[n]] = i
    _, near = cKDTree(model_landmarks[:468]).query(points)
    return owner[near]


def _residual_by_region(dist: np.ndarray, region: np.ndarray, scale: float) -> dict:
    out = {}
    for i, name in enumerate(REGIONS):
        sel = region == i
        out[name] = float(np.median(dist[sel]) / scale) if sel.any() else float("nan")
    out["all"] = float(np.median(dist) / scale) if len(dist) else float("inf")
    return out


def _refine_model(model: FaceModel, target: C.LabelledSurface, lm: np.ndarray, lm_weight: np.ndarray,
                  identity: np.ndarray, expression: np.ndarray, pose: Pose, labels: np.ndarray,
                  sample: np.ndarray, scale: float, rounds: int = 3, report=None):
    """Identity, expression and pose from the surface: the template's ``sample`` vertices pulled
    to their closest points on ``target`` (plus the landmarks), linear least squares per round."""
    k = model.n_identity
    lv, lb = model.landmark_vertices[:468], model.landmark_bary[:468]
    ib = model.identity_basis[:, sample].astype(np.float64)  # (K, S, 3)
    eb = model.expression_basis[:, sample].astype(np.float64)  # (52, S, 3)
    n0 = model.neutral[sample].astype(np.float64)
    lm_id = np.einsum("lk,jlkd->jld", lb, model.identity_basis[:, lv].astype(np.float64))
    lm_ex = np.einsum("lk,jlkd->jld", lb, model.expression_basis[:, lv].astype(np.float64))
    lm_0 = np.einsum("lk,lkd->ld", lb, model.neutral[lv].astype(np.float64))
    basis = np.concatenate([ib, eb], axis=0).reshape(k + 52, -1).T  # (3S, K + 52)
    lm_basis = np.concatenate([lm_id, lm_ex], axis=0).reshape(k + 52, -1).T  # (3L, K + 52)
    noise = 0.002  # m, the face model's landmark noise
    dense_w = 0.25  # neighbouring surface points are not independent
    lo = np.r_[np.full(k, -np.inf), np.zeros(52)]
    hi = np.r_[np.full(k, np.inf), np.ones(52)]
    hi[k + np.array(GAZE_SHAPES)] = 0.0  # the rest pose looks ahead
    x = np.r_[identity, expression]
    ok = np.zeros(len(sample), bool)
    hits = None
    for r in range(rounds):
        pts = n0 + (basis @ x).reshape(-1, 3)
        hits = target.query(pose.apply(pts), labels[sample])
        posed_normals = C.vertex_normals(pose.apply(model.evaluate(x[:k], x[k:])), model.triangles)[sample]
        reach = (0.3, 0.15, 0.1)[min(r, 2)] * scale
        ok = (hits.distance < reach) & ~hits.border & (np.einsum("ij,ij->i", posed_normals, hits.normal) > 0.5)
        if ok.sum() < 50:
            break
        # the pose, from every point: the model's points -> their targets
        model_pts = np.vstack([pts[ok], lm_0 + (lm_basis @ x).reshape(-1, 3)])
        dst = np.vstack([hits.point[ok], lm])
        wts = np.r_[np.full(ok.sum(), dense_w), lm_weight]
        s, rot, t = similarity(model_pts, dst, wts)
        pose = Pose(s, rot, t)
        # identity + expression in the model frame
        y_dense = pose.inverse(hits.point[ok]) - n0[ok]
        y_lm = pose.inverse(lm) - lm_0
        a_d = basis.reshape(len(sample), 3, -1)[ok].reshape(-1, k + 52)
        a_l = lm_basis
        wd = np.repeat(np.full(ok.sum(), dense_w), 3) / noise ** 2
        wl = np.repeat(lm_weight, 3) / noise ** 2
        h = (a_d * wd[:, None]).T @ a_d + (a_l * wl[:, None]).T @ a_l
        g = (a_d * wd[:, None]).T @ y_dense.ravel() + (a_l * wl[:, None]).T @ y_lm.ravel()
        h[np.arange(k), np.arange(k)] += 1.0  # unit Gaussian prior on the identity
        h[np.arange(k, k + 52), np.arange(k, k + 52)] += 0.5  # a small ridge on the expression
        g[k:] -= 4.0  # sparsity: expression weights only where the surface asks for them
        x = box_qp(h, g, x, lo, hi)
        if report:
            report((r + 1) / rounds, "fitting the face model to the surface")
    pts = n0 + (basis @ x).reshape(-1, 3)
    hits = target.query(pose.apply(pts), labels[sample])
    return x[:k], x[k:], pose, hits


def _fit_landmarks(model: FaceModel | None, lm: np.ndarray, weights: np.ndarray | None):
    """``(model, its fit to the landmarks)``; the model is loaded here when not given (the first
    rig of a session loads it beside the mesh's own preparation)."""
    model = model or load_model()
    return model, fit_identity(model, lm, weights=weights, iterations=4)


def fit_template(verts: np.ndarray, tris: np.ndarray, landmarks: np.ndarray, model: FaceModel | None = None,
                 weights: np.ndarray | None = None, register: bool = True, report=None) -> C.Fit:
    """Fit the face model to the mesh (see the module docstring, step 1)."""
    verts = np.asarray(verts, np.float64)
    tris = np.asarray(tris, np.int64)
    lm = np.asarray(landmarks, np.float64)[:478]
    if len(lm) < 478:  # no irises: missing points for the fit
        lm = np.vstack([lm, np.full((478 - len(lm), 3), np.nan)])
        weights = None if weights is None else np.r_[weights, np.zeros(478 - len(weights))]
    frame = R.face_frame(lm)
    scale = frame.scale
    if report:
        report(0.0, "fitting the face model to the landmarks; finding the parts of the mesh")
    with beside() as submit:
        landmark_fit = submit(_fit_landmarks, model, lm, weights)
        # meanwhile the mesh: parts, skin, lips and lids
        parts = C.mesh_parts(verts, tris, lm, scale)
        skin = parts.mask(P.SKIN)
        skin_tris = np.flatnonzero(skin[tris].all(axis=1))
        graph = C.edge_graph(verts, tris)
        user_labels = C.feature_labels(verts, tris, lm, skin, scale, graph)
        target = C.LabelledSurface(verts, tris, skin_tris, user_labels)
        model, fit = landmark_fit.result()
    identity = fit.identity
    expression = fit.expression[0].copy()
    expression[list(GAZE_SHAPES)] = 0.0
    pose = fit.poses[0]
    residual = {"landmarks": {k: float(v[0]) for k, v in fit.residual.items()}}

    # the template: its skin, labelled the same way
    t_tris = model.triangles
    rest = pose.apply(model.evaluate(identity, expression)).astype(np.float64)
    t_skin = np.zeros(model.n_vertices, bool)
    t_skin[:SKIN_END] = True
    labels = C.feature_labels(rest, t_tris, model.landmarks(rest), t_skin, scale)

    # identity, expression and pose from the surface
    sample = np.arange(0, FACE_END, 3)
    lm_weight = np.ones(468)
    lm_weight[list(R.FACE_OVAL)] = 0.2  # the outline is the silhouette's, not a point on the face
    identity, expression, pose, hits = _refine_model(model, target, lm[:468], LANDMARKS_SURFACE * lm_weight,
                                                     identity, expression,
                                                     pose, labels, sample, scale, report=sub_report(report, 0.2, 0.4))
    rest = pose.apply(model.evaluate(identity, expression)).astype(np.float64)
    normals = C.vertex_normals(rest, t_tris)[sample]
    found = (hits.distance < 0.15 * scale) & ~hits.border & (np.einsum("ij,ij->i", normals, hits.normal) > 0.5)
    region = _region_of_vertices(model.landmarks(rest), rest[sample])
    # inside the face outline: a face mask or a front-only scan has no ears, neck or scalp
    inside = region != list(REGIONS).index("oval")
    coverage = float(found[inside].mean())
    dist = np.where(found, hits.distance, 0.15 * scale)
    residual["model"] = _residual_by_region(dist, region, scale)
    residual["model"]["inside"] = float(np.median(dist[inside]) / scale)
    labels = C.feature_labels(rest, t_tris, model.landmarks(rest), t_skin, scale)

    registered = rest.copy()
    if register:
        if report:
            report(0.45, "registering the template to the surface")
        skin_t = _template_triangles(model, 0, SKIN_END)
        dw = np.zeros(SKIN_END)
        dw[:FACE_END] = 1.0
        dw[PARTS["head_neck"][0]:PARTS["head_neck"][1]] = 0.5
        lv = model.landmark_vertices[:468]
        on_skin = (lv < SKIN_END).all(axis=1)
        reg = C.register(rest[:SKIN_END], t_tris[skin_t], target, scale, data_weight=dw,
                         src_labels=labels[:SKIN_END], lm_verts=lv[on_skin], lm_bary=model.landmark_bary[:468][on_skin],
                         lm_target=lm[:468][on_skin], lm_weight=LANDMARKS_NICP * lm_weight[on_skin],
                         report=sub_report(report, 0.45, 1.0))
        registered[:SKIN_END] = reg.verts  # the other parts stay where the model put them
        h = reg.hits
        idx = np.arange(FACE_END)
        ok = reg.used[idx] & np.isfinite(h.distance[idx])
        region_all = _region_of_vertices(model.landmarks(registered), registered[idx])
        residual["registered"] = _residual_by_region(np.where(ok, h.distance[idx], 0.15 * scale), region_all, scale)
    groups = {k: _triangles_of(model, v) for k, v in TEMPLATE_GROUPS.items()}
    kind = C.match_parts(verts, skin, parts, registered, t_tris, groups, scale)
    pivots = pose.apply(model.eye_pivots(model.evaluate(identity)))
    eyes = C.eye_centres(verts, kind, {"L": pivots[0], "R": pivots[1]}, scale)
    falloff = template_mask(model, rest)
    return C.Fit(rest=rest, registered=registered, tris=t_tris, groups=groups, labels=labels,
                 fixed=(falloff <= 0.0) & (np.arange(len(rest)) < SKIN_END), falloff=falloff, scale=scale, kind=kind,
                 labels_target=user_labels, eye_centres=eyes, parts=parts, residual=residual, coverage=coverage,
                 identity=identity, expression=expression, pose=pose)


def choose_source(fit: C.Fit) -> tuple[str, str]:
    """``("scan" | "procedural", why)`` from how well the face model fits the mesh."""
    res = float(fit.residual["model"].get("inside", fit.residual["model"]["all"]))
    if fit.coverage < AUTO_MIN_COVERAGE:
        return "procedural", (f"the face model finds only {fit.coverage:.1%} of its face on this mesh "
                              f"(scan-based needs {AUTO_MIN_COVERAGE:.0%})")
    if res > AUTO_MAX_RESIDUAL:
        return "procedural", (f"the face model stays {res:.3f} IOD from this face (scan-based up to "
                              f"{AUTO_MAX_RESIDUAL}): a stylised face")
    return "scan", f"the face model fits this face within {res:.3f} IOD"


# --- 2. transfer ----------------------------------------------------------------------


def template_mask(model: FaceModel, rest: np.ndarray) -> np.ndarray:
    """(V,) the procedural library's face mask on the template: 1 on the face, 0 at the back of
    the head, the neck and the scalp (on the skin; other parts 1)."""
    frame = R.face_frame(model.landmarks(rest))
    q = frame.to_local(rest)
    z = np.zeros(len(q))
    soft = np.zeros(len(q))
    soft[:SKIN_END] = 1.0
    pts = X.Points(q=q, lip=z, lid_l=z, lid_r=z, soft=soft, eye_l=z, eye_r=z, tongue=z)
    return X.face_mask(pts)


def transfer_shapes(verts: np.ndarray, fit: C.Fit, model: FaceModel | None = None, names=ARKIT_NAMES,
                    tris: np.ndarray | None = None, report=None) -> DT.MeshShapes:
    """The model's shapes for the fitted identity (eyeballs turned for ``eyeLook*``, FaceForge's
    ``tongueOut``) on the mesh (see the module docstring, step 2); with the mesh's ``tris``, no
    triangle folds."""
    model = model or load_model()
    deltas = model.shape_deltas(fit.identity, names=list(names)).astype(np.float64) * fit.pose.scale
    deltas = deltas @ fit.pose.rotation.T
    return DT.transfer_to_mesh(verts, fit, deltas, names, target_tris=tris, report=report)


def generate(verts, tris, landmarks, names=ARKIT_NAMES, model=None, weights=None, report=None,
             fit: C.Fit | None = None) -> DT.MeshShapes:
    """Fit and transfer: the scan-based shapes on a mesh (``fit`` reuses a :func:`fit_template`)."""
    model = model or load_model()
    if fit is None:
        fit = fit_template(verts, tris, landmarks, model=model, weights=weights, report=sub_report(report, 0.0, 0.6))
    return transfer_shapes(verts, fit, model=model, names=names, tris=tris, report=sub_report(report, 0.6, 1.0))


# --- 3. what a transfer cannot promise -------------------------------------------------

# FaceForge's own shapes on top of the scan-based ones: ``tongueOut`` (ICT has none) and the
# blinks' lids.  A transferred blink follows the scan's lids, which on another mesh stop short of
# the lower lid (measured through MediaPipe on the ICT head: 50 % / 41 % closed; folds at the lid
# margins); the procedural blink brings the margins exactly together about the eyeball (75 % /
# 69 % closed) on any mesh, but moves only the lids.  So a blink is the procedural one on the lids,
# the lashes and the eye films, and the scan's on the skin round them (the lid above the crease,
# the lower lid, the brow's edge): MediaPipe sees the ICT head's eyes 81 % / 72 % closed, and the
# cosine to ICT's own blinks is 0.78-0.86 on re-meshed heads (procedural alone: 0.72-0.8).
OWN = ("tongueOut", "eyeBlinkLeft", "eyeBlinkRight")
LIDS = ("eyeBlinkLeft", "eyeBlinkRight")
# The blend: the procedural blink's share, from its motion on the skin as a fraction of its
# largest - none below the first, all above the second (smoothstep between).
LIDS_BLEND = (0.02, 0.3)


def own_procedural(verts, tris, landmarks, names=ARKIT_NAMES, report=None):
    """The procedural library's (:func:`deform.generate`) shapes of :data:`OWN` among ``names``:
    ``(rig, {name: (M, 3)})``, or None when ``names`` has none of them."""
    from . import deform

    names = [n for n in OWN if n in names]
    return deform.generate(verts, tris, landmarks, names=names, report=report) if names else None


def own_shapes(out: DT.MeshShapes, procedural, verts: np.ndarray, tris: np.ndarray | None, skin: np.ndarray,
               ) -> DT.MeshShapes:
    """``out`` with :data:`OWN` replaced by ``procedural`` (:func:`own_procedural`'s), the blinks
    (:data:`LIDS`) blended with the scan's (:data:`LIDS_BLEND`; ``skin`` (N,) bool the mesh's skin)
    and, with the mesh's ``tris``, unfolded."""
    if procedural is None:
        return out
    rig, proc = procedural
    proc = {n: d for n, d in proc.items() if n in out.shapes}  # tongueOut only where the mesh has a tongue
    if not proc:
        return out
    active = np.union1d(out.active, rig.active)
    at = np.searchsorted(active, out.active), np.searchsorted(active, rig.active)
    on_skin = np.asarray(skin, bool)[active]
    unfolder = None
    shapes, folds = {}, dict(out.folds)
    for name, d in out.shapes.items():
        full = np.zeros((len(active), 3), np.float32)
        if name not in proc:
            full[at[0]] = d
            shapes[name] = full
            continue
        full[at[1]] = proc[name]
        if name in LIDS:
            scan = np.zeros_like(full)
            scan[at[0]] = d
            size = np.linalg.norm(full, axis=1) * on_skin
            top = float(size.max()) if len(size) else 0.0
            # off the skin (lashes, eye films) all procedural: they ride the lids that close
            share = np.where(on_skin, X.smoothstep(LIDS_BLEND[0] * top, LIDS_BLEND[1] * top, size), 1.0)[:, None]
            full = (share * full + (1.0 - share) * scan).astype(np.float32)
            if tris is not None and len(tris):
                if unfolder is None:
                    unfolder = DT.Unfolder(verts, tris)
                moved = np.zeros((len(verts), 3), np.float32)
                moved[active] = full
                moved, left = unfolder(moved)
                full = moved[active].astype(np.float32)
                folds.pop(name, None)
                if left:
                    folds[name] = left
        shapes[name] = full
    return DT.MeshShapes(active=active, shapes=shapes, notes=out.notes, left_out=out.left_out,
                         has_tongue=out.has_tongue and rig.has_tongue, folds=folds)


# --- the rig stage's one entry: scan-based or procedural --------------------------------

SOURCES = ("auto", "scan", "procedural")
SOURCE_LABELS = {"scan": "scan-based", "procedural": "procedural"}


@dataclass
class Shapes:
    """What the rig stage writes: ``active`` (M,) moving vertices, ``shapes`` {ARKit name: (M, 3)
    float32 displacements}, ``source`` ("scan" | "procedural") and ``reason`` (why that one),
    ``notes``, ``left_out`` (parts the mesh lacks), ``residual`` {stage: {region: IOD}} of the
    face model's fit (None when it did not run), ``coverage``, ``has_tongue``."""

    active: np.ndarray
    shapes: dict
    source: str
    reason: str
    notes: list = field(default_factory=list)
    left_out: list = field(default_factory=list)
    residual: dict | None = None
    coverage: float | None = None
    has_tongue: bool = True


def make_shapes(verts, tris, landmarks, source: str = "auto", weights=None, names=ARKIT_NAMES, model=None,
                report=None) -> Shapes:
    """The 52 ARKit shapes of a face mesh from its landmarks (mesh space, (478, 3)).

    ``source``: ``scan`` (the face model fitted and transferred), ``procedural`` (FaceForge's
    own library, :func:`deform.generate`: stylised and cartoon faces), or ``auto``: scan-based
    where the face model fits the mesh (:func:`choose_source`), else procedural - and why."""
    if source not in SOURCES:
        raise FaceForgeError(f"Unknown shape source '{source}': use one of {', '.join(SOURCES)}")
    with blas.single_threaded():  # many small LAPACK calls; the second core runs our own work (beside)
        return _make_shapes(verts, tris, landmarks, source, weights, names, model, report)


def _make_shapes(verts, tris, landmarks, source, weights, names, model, report) -> Shapes:
    from . import deform

    fit, why = None, "chosen"
    if source in ("auto", "scan"):
        try:
            fit = fit_template(verts, tris, landmarks, model=model, weights=weights, report=sub_report(report, 0.0, 0.55))
        except (ValueError, np.linalg.LinAlgError, FaceForgeError) as exc:
            if source == "scan":
                raise FaceForgeError(f"The face model could not be fitted to this mesh ({exc})") from exc
            fit, why = None, f"the face model could not be fitted to this mesh ({exc})"
        if fit is not None:
            chosen, why = choose_source(fit) if source == "auto" else ("scan", "chosen")
            if source == "auto" and chosen == "scan" and len(verts) < AUTO_MIN_VERTICES:
                chosen, why = "procedural", (f"the mesh has {len(verts):,} vertices: too coarse to carry a "
                                             f"scan's shapes (scan-based from {AUTO_MIN_VERTICES:,})")
        else:
            chosen = "procedural"
    else:
        chosen = "procedural"
    if chosen == "scan":
        with beside() as submit:
            procedural = submit(own_procedural, verts, tris, landmarks, names)  # beside the transfer
            out = transfer_shapes(verts, fit, model=model, names=names, tris=tris, report=sub_report(report, 0.55, 1.0))
            out = own_shapes(out, procedural.result(), verts, tris, fit.kind == P.SKIN)
        return Shapes(active=out.active, shapes=out.shapes, source="scan", reason=why, notes=out.notes,
                      left_out=out.left_out, residual=fit.residual, coverage=fit.coverage,
                      has_tongue=out.has_tongue)
    rig, shapes = deform.generate(verts, tris, landmarks, names=names,
                                  report=sub_report(report, 0.55 if fit is not None else 0.0, 1.0))
    return Shapes(active=rig.active, shapes=shapes, source="procedural", reason=why, notes=list(rig.notes),
                  residual=None if fit is None else fit.residual, coverage=None if fit is None else fit.coverage,
                  has_tongue=rig.has_tongue)
