"""MediaPipe's 478 landmarks as points on the face model's surface (build time; bpy + MediaPipe).

Called by ``scripts/convert_ict_facekit.py --landmarks`` (or run alone on a model file
to print the figures: ``.venv/bin/python scripts/facemodel_landmarks.py [model.npz]``).

1. Builds ``identities`` random heads (identity ~ N(0, 1) per mode, clipped at +-2.5;
   neutral expression) as Blender objects (``api.facemodel.build_face_object``).
2. Runs FaceForge's own landmark detection on each (``api.landmarks.detect_landmarks``:
   render, MediaPipe Face Mesh, bind to the surface; asymmetric, so each head is read as seen).
3. Carries each bound point to the shared topology: its triangle and barycentric
   weights evaluated on the average head (the heads share the model's vertex order).
4. Aggregates per landmark: the coordinate-wise median over the heads; then, as the
   average head is mirror-symmetric (to 0.3 mm), averages each landmark with its
   mirrored twin (``rigging.regions.MIRROR``).
5. Projects each point back onto the surface: face points onto the parts where most
   of their detections landed (skin, mouth socket...), iris points onto their eyeball.
6. Refines the points so that they project where MediaPipe puts them in images (what the
   fitting compares): every head is also rendered turned (yaw +-15 deg, pitch +-10 deg),
   MediaPipe reads it, and each landmark moves by the displacement that best explains its
   2D detections over all views (robust least squares through each camera's projection
   Jacobian), then back onto its part of the surface; three rounds.  This removes what the
   binding's rules leave (points seen through the eye opening put on the lid's rim, the
   outline's grazing rays) and MediaPipe's own habits on these renders.

The spread is how far single detections lie from the correspondence, in the image,
in IOD (distance between the eye centres); median and 90th percentile per region.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

def render_view_of(obj, face_points: np.ndarray, yaw_deg: float, pitch_deg: float, resolution: int = 512):
    """Render a head object turned by yaw/pitch from the front, framed on ``face_points`` (its
    landmarks, object space): (rgb, camera, object matrix (4, 4))."""
    import bpy

    from faceforge.api.render import render_view
    from faceforge.inference.views import face_sphere

    obj.rotation_euler = (np.radians(pitch_deg), 0.0, np.radians(yaw_deg))
    bpy.context.view_layer.update()
    mw = np.array(obj.matrix_world)
    lm = face_points @ mw[:3, :3].T + mw[:3, 3]
    centre, radius = face_sphere(lm[:468])
    img, cam = render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius, resolution=resolution)
    return img, cam, mw


def detect_heads(model, identities: int, seed: int, views: int = 3):
    """Positions (H, 478, 3) of each head's detected landmarks carried to the average head (model
    frame), the part (H, 478) each landed on, and 2D detections of each head in ``views`` renders
    (frontal + turned): a list of (identity, camera, object matrix, pixels (478, 2))."""
    import bpy

    from faceforge.api import binding, facemodel as api_fm, landmarks, scene
    from faceforge.facemodel.model import PART_NAMES, PARTS, to_blender
    from faceforge.inference.face_mesh import FaceMeshDetector

    rng = np.random.default_rng(seed)
    bounds = np.array([PARTS[n][0] for n in PART_NAMES])
    neutral = model.neutral.astype(np.float64)
    pos, part, seen = [], [], []
    det = FaceMeshDetector(video=False, max_faces=1, min_confidence=0.3)
    for h in range(identities):
        ident = model.random_identity(rng)
        scene.clear_scene()
        obj = api_fm.build_face_object(ident, name=f"head{h:03d}", landmarks=False, model=model)
        bpy.context.view_layer.objects.active = obj
        t0 = time.perf_counter()
        try:
            res = landmarks.detect_landmarks(obj, symmetric=False)
        except Exception as exc:  # a head MediaPipe does not read is left out, and said so
            print(f"  head {h}: no landmarks ({exc})", flush=True)
            continue
        b = binding.read_binding(obj)
        head_blender = to_blender(model.evaluate(ident)).astype(np.float64)
        pos.append(np.einsum("lk,lkd->ld", b.bary, neutral[b.verts]))
        part.append(np.searchsorted(bounds, b.verts.max(axis=1), side="right") - 1)
        for v in range(views):
            yaw, pitch = (0.0, 0.0) if v == 0 else (rng.uniform(-15, 15), rng.uniform(-10, 10))
            img, cam, mw = render_view_of(obj, b.positions(head_blender), yaw, pitch)
            face = det.detect(img, with_score=False)
            if face is not None:
                seen.append((ident, cam, mw, face.points[:, :2].astype(np.float64)))
        print(f"  head {h}: score {res['score']:.2f}, view {res['view']}, {time.perf_counter() - t0:.1f} s",
              flush=True)
    det.close()
    scene.clear_scene()
    return np.array(pos), np.array(part), seen


def consensus(model, pos: np.ndarray, part: np.ndarray):
    """(landmark_tri (478,), landmark_bary (478, 3), consensus points (478, 3), allowed triangles per
    landmark (478, T) bool) from the heads' points."""
    from faceforge.facemodel.model import PART_NAMES
    from faceforge.rigging import regions as R
    from faceforge.rigging.transfer import closest_points

    med = np.median(pos, axis=0)
    mirrored = med[R.MIRROR] * np.array([-1.0, 1.0, 1.0])
    sym = (med + mirrored) / 2
    tris = model.triangles
    tri_part = model.polygon_part[model.triangle_polygon]
    tri_out = np.empty(478, np.int64)
    bary_out = np.empty((478, 3))
    eyeball = {"L": {PART_NAMES.index("sclera_L"), PART_NAMES.index("iris_L")},
               "R": {PART_NAMES.index("sclera_R"), PART_NAMES.index("iris_R")}}
    groups: dict[tuple, list[int]] = {}
    for i in range(478):
        if i in R.IRIS_LEFT:
            allowed = tuple(sorted(eyeball["L"]))
        elif i in R.IRIS_RIGHT:
            allowed = tuple(sorted(eyeball["R"]))
        else:
            counts = np.bincount(part[:, i], minlength=len(PART_NAMES))
            allowed = (int(np.argmax(counts)),)
        groups.setdefault(allowed, []).append(i)
    masks = {}
    for allowed, ids in groups.items():
        masks[allowed] = (np.isin(tri_part, allowed), ids)
        sp = closest_points(model.neutral.astype(np.float64), tris, sym[ids], k=24, tri_mask=masks[allowed][0])
        tri_out[ids], bary_out[ids] = sp.tri, sp.bary
    return tri_out, bary_out, sym, list(masks.values())


def _project_jacobian(cam, p: np.ndarray):
    """Pixels (N, 2) of world points and d(pixel)/d(world) (N, 2, 3) for a PinholeCamera."""
    r = cam.cam_to_world[:3, :3]
    pc = (p - cam.cam_to_world[:3, 3]) @ r
    d = -pc[:, 2]
    f = cam.focal_px
    px = np.stack([cam.width / 2.0 + f * pc[:, 0] / d, cam.height / 2.0 - f * pc[:, 1] / d], axis=1)
    z = np.zeros(len(p))
    jc = f * np.stack([np.stack([1 / d, z, pc[:, 0] / d ** 2], -1), np.stack([z, -1 / d, -pc[:, 1] / d ** 2], -1)],
                      axis=1)  # d(px)/d(camera coords)
    return px, jc @ r.T


def refine(model, tri: np.ndarray, bary: np.ndarray, seen, masks, rounds: int = 3):
    """Move each landmark so that it projects where MediaPipe saw it in every view (see step 6).
    Returns (tri, bary, per-view 2D residuals (V, 478) in IOD)."""
    from faceforge.facemodel.model import BLENDER_FROM_MODEL
    from faceforge.rigging.transfer import closest_points

    neutral = model.neutral.astype(np.float64)
    heads = {}
    for ident, _, _, _ in seen:
        heads.setdefault(id(ident), model.evaluate(ident).astype(np.float64))
    for rnd in range(rounds + 1):
        lv = model.triangles[tri]
        # each point moves in its triangle's plane (on the average head): 2 unknowns per landmark
        corner = neutral[lv]
        nrm = np.cross(corner[:, 1] - corner[:, 0], corner[:, 2] - corner[:, 0])
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        t1 = np.cross(nrm, np.where(np.abs(nrm[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
        t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
        tangent = np.stack([t1, np.cross(nrm, t1)], axis=2)  # (478, 3, 2)
        a = np.zeros((478, 2, 2))
        b = np.zeros((478, 2))
        resid = []
        for ident, cam, mw, px in seen:
            x = np.einsum("lk,lkd->ld", bary, heads[id(ident)][lv]) @ BLENDER_FROM_MODEL.T
            xw = x @ mw[:3, :3].T + mw[:3, 3]
            pr, jac = _project_jacobian(cam, xw)
            jac = jac @ (mw[:3, :3] @ BLENDER_FROM_MODEL) @ tangent  # d(px)/d(tangent step) (478, 2, 2)
            r = px - pr
            iod = np.linalg.norm(pr[[263, 362]].mean(0) - pr[[33, 133]].mean(0))
            e = np.linalg.norm(r, axis=1) / iod
            resid.append(e)
            wgt = np.where(e < 0.05, 1.0, 0.05 / np.maximum(e, 1e-9))  # Huber at 5 % of the IOD
            a += np.einsum("l,lki,lkj->lij", wgt, jac, jac)
            b += np.einsum("l,lki,lk->li", wgt, jac, r)
        if rnd == rounds:
            break
        a += np.eye(2)[None] * 1e-2 * np.trace(a, axis1=1, axis2=2)[:, None, None]
        step = np.linalg.solve(a, b[:, :, None])[:, :, 0]
        moved = np.einsum("lk,lkd->ld", bary, neutral[lv]) + np.einsum("ldk,lk->ld", tangent, step)
        for mask, ids in masks:
            sp = closest_points(neutral, model.triangles, moved[ids], k=24, tri_mask=mask)
            tri[ids], bary[ids] = sp.tri, sp.bary
        print(f"  refine round {rnd + 1}: 2D residual median {np.median(np.array(resid)):.4f}, "
              f"mean {np.mean(np.array(resid)):.4f} IOD", flush=True)
    print(f"  refined: 2D residual median {np.median(np.array(resid)):.4f}, mean {np.mean(np.array(resid)):.4f} IOD",
          flush=True)
    return tri, bary, np.array(resid)


def detector_response(model, heads: int = 6, seed: int = 29, amounts=(0.5, 1.0)):
    """How MediaPipe's landmarks move for each ARKit shape (step 7): (478, 3, 52) metres per unit
    weight in the model frame, and a summary.

    Each head (random identity) is rendered from the front, neutral and with each shape at
    ``amounts``, under one fixed camera; MediaPipe's 2D displacements are turned into model-frame
    x / y through each landmark's depth, and the slope through the origin over the amounts is
    taken per head, then the median over heads.  The depth (z) is the surface's
    (``FaceModel.landmark_basis``): MediaPipe's own depth is not used."""
    import bpy

    from faceforge.api import facemodel as api_fm, scene
    from faceforge.api.render import render_view
    from faceforge.core.arkit import ARKIT_NAMES
    from faceforge.facemodel.model import to_blender
    from faceforge.inference.face_mesh import FaceMeshDetector
    from faceforge.inference.views import face_sphere

    rng = np.random.default_rng(seed)
    det = FaceMeshDetector(video=False, max_faces=1, min_confidence=0.3)
    slopes = np.full((heads, 478, 2, 52), np.nan)
    t0 = time.perf_counter()
    for h in range(heads):
        ident = model.random_identity(rng)
        scene.clear_scene()
        obj = api_fm.build_face_object(ident, name=f"resp{h:02d}", landmarks=False, model=model)
        lm = to_blender(model.landmarks(model.evaluate(ident)))
        centre, radius = face_sphere(lm[:468])
        img, cam = render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius, resolution=512)
        base = det.detect(img, with_score=False)
        if base is None:
            continue
        _, depth = cam.project(lm)
        to_m = depth / cam.focal_px  # metres per pixel at each landmark
        for j, name in enumerate(ARKIT_NAMES):
            if name == "tongueOut":
                continue
            num, den = np.zeros((478, 2)), 0.0
            for a in amounts:
                w = np.zeros(52)
                w[j] = a
                api_fm.set_face_vertices(obj, ident, w, model=model)
                img, _ = render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius, resolution=512)
                face = det.detect(img, with_score=False)
                if face is None:
                    continue
                d = (face.points[:, :2] - base.points[:, :2]) * to_m[:, None]
                num += a * np.c_[d[:, 0], -d[:, 1]]  # image x -> model x, image y (down) -> model -y
                den += a * a
            if den > 0:
                slopes[h, :, :, j] = num / den
        api_fm.set_face_vertices(obj, ident, None, model=model)
        print(f"  response head {h}: {time.perf_counter() - t0:.0f} s", flush=True)
    det.close()
    scene.clear_scene()
    _, _, e_surface = model.landmark_basis(None)
    resp = e_surface.copy()
    resp[:, :2, :] = np.nan_to_num(np.nanmedian(slopes, axis=0))
    resp[:, :2, ARKIT_NAMES.index("tongueOut")] = 0.0
    # how strongly MediaPipe follows each shape: its motion projected on the surface's (x, y)
    ex = e_surface[:, :2, :].reshape(-1, 52)
    gain = (resp[:, :2, :].reshape(-1, 52) * ex).sum(0) / np.maximum((ex * ex).sum(0), 1e-18)
    info = {"heads": heads, "amounts": list(amounts), "seconds": round(time.perf_counter() - t0, 1),
            "gain": {n: round(float(g), 2) for n, g in zip(ARKIT_NAMES, gain) if n != "tongueOut"}}
    print("MediaPipe follows each shape with gain (1 = as the surface moves): "
          + ", ".join(f"{n} {g:.2f}" for n, g in info["gain"].items()), flush=True)
    return resp.astype(np.float32), info


def correspondence(model_path: str, identities: int = 48, seed: int = 17):
    """Landmark arrays for the model file and a summary (see the module docstring)."""
    import bpy  # noqa: F401  (bpy module; registers FaceForge)

    import launch

    ff = launch.load_package()
    if not getattr(ff, "_registered_for_script", False):
        ff.register()
        ff._registered_for_script = True
    from faceforge.facemodel.fit import landmark_regions
    from faceforge.facemodel.model import _load_cached
    from faceforge.inference.ibug68 import ibug68_from_mediapipe
    from faceforge.rigging import regions as R

    model = _load_cached(os.path.abspath(model_path), os.stat(model_path).st_mtime)
    t0 = time.perf_counter()
    print(f"landmark correspondence: detecting on {identities} random heads", flush=True)
    pos, part, seen = detect_heads(model, identities, seed)
    tri, bary, sym, masks = consensus(model, pos, part)
    tri, bary, resid = refine(model, tri, bary, seen, masks)
    on_surface = np.einsum("lk,lkd->ld", bary, model.neutral[model.triangles[tri]].astype(np.float64))
    iod = R.face_frame(on_surface).scale
    spread = np.median(resid, axis=0)
    regions = landmark_regions()
    per_region = {r: {"median": round(float(np.median(resid[:, ids])), 4),
                      "p90": round(float(np.percentile(resid[:, ids], 90)), 4)} for r, ids in regions.items()}
    gt = model.neutral[model.ibug68].astype(np.float64)
    err68 = np.linalg.norm(ibug68_from_mediapipe(on_surface) - gt, axis=1) / np.linalg.norm(gt[36] - gt[45])
    info = {"heads": int(len(pos)), "heads_tried": identities, "views": len(seen), "seed": seed,
            "iod_m": round(float(iod), 5),
            "spread_iod_2d": per_region,
            "moved_from_consensus_iod": round(float(np.median(np.linalg.norm(sym - on_surface, axis=1)) / iod), 4),
            "ibug68_vs_ict_ground_truth": {"mean": round(float(err68.mean()), 4),
                                           "jaw": round(float(err68[:17].mean()), 4),
                                           "brows": round(float(err68[17:27].mean()), 4),
                                           "all_but_jaw": round(float(err68[17:].mean()), 4)},
            "seconds": round(time.perf_counter() - t0, 1)}
    print(f"landmarks from {len(pos)} heads, {len(seen)} views in {info['seconds']} s; 2D spread (IOD, median / p90): "
          + ", ".join(f"{r} {v['median']:.3f}/{v['p90']:.3f}" for r, v in per_region.items())
          + f"; iBUG-68 vs ICT's vertices: mean {err68.mean():.3f} IOD(outer corners)", flush=True)
    arrays = {"landmark_tri": tri.astype(np.int32), "landmark_bary": bary.astype(np.float32),
              "landmark_spread": spread.astype(np.float32)}
    return arrays, info


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "facemodel_ict.npz")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    correspondence(path, identities=n)
