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

The spread is how far single heads' detections lie from the consensus, on the average
head, in IOD (distance between the eye centres, ``rigging.regions.face_frame``).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

REGIONS = ("brows", "eyes", "irises", "nose", "lips", "oval", "cheeks")


def region_of_landmarks() -> dict[str, np.ndarray]:
    """Landmark ids per region (the rest of the face is ``cheeks``)."""
    from faceforge.rigging import regions as R

    lips = set(R.UPPER_LIP_OUTER + R.UPPER_LIP_INNER + R.LOWER_LIP_OUTER + R.LOWER_LIP_INNER)
    eyes = set(R.EYE_LEFT_UPPER + R.EYE_LEFT_LOWER + R.EYE_RIGHT_UPPER + R.EYE_RIGHT_LOWER)
    brows = set(R.BROW_LEFT + R.BROW_RIGHT)
    irises = set(R.IRIS_LEFT + R.IRIS_RIGHT)
    oval = set(R.FACE_OVAL)
    nose = {1, 2, 4, 5, 6, 19, 94, 97, 98, 168, 195, 197, 326, 327, 45, 275, 220, 440, 115, 344, 129, 358, 102,
            331, 48, 278, 64, 294, 240, 460, 75, 305, 79, 309, 166, 392, 218, 438, 237, 457, 44, 274, 1}
    used = lips | eyes | brows | irises | oval | nose
    return {"brows": np.array(sorted(brows)), "eyes": np.array(sorted(eyes)), "irises": np.array(sorted(irises)),
            "nose": np.array(sorted(nose)), "lips": np.array(sorted(lips)), "oval": np.array(sorted(oval)),
            "cheeks": np.array(sorted(set(range(468)) - used))}


def detect_heads(model, identities: int, seed: int):
    """Positions (H, 478, 3) of each head's detected landmarks carried to the average head (model
    frame), and the part (H, 478) each landed on."""
    import bpy

    from faceforge.api import binding, facemodel as api_fm, landmarks, scene
    from faceforge.facemodel.model import PART_NAMES, PARTS

    rng = np.random.default_rng(seed)
    bounds = np.array([PARTS[n][0] for n in PART_NAMES])
    neutral = model.neutral.astype(np.float64)
    pos, part = [], []
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
        pos.append(np.einsum("lk,lkd->ld", b.bary, neutral[b.verts]))
        part.append(np.searchsorted(bounds, b.verts.max(axis=1), side="right") - 1)
        print(f"  head {h}: score {res['score']:.2f}, view {res['view']}, {time.perf_counter() - t0:.1f} s",
              flush=True)
    scene.clear_scene()
    return np.array(pos), np.array(part)


def consensus(model, pos: np.ndarray, part: np.ndarray):
    """(landmark_tri (478,), landmark_bary (478, 3), consensus points (478, 3)) from the heads' points."""
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
    for allowed, ids in groups.items():
        sp = closest_points(model.neutral.astype(np.float64), tris, sym[ids], k=24,
                            tri_mask=np.isin(tri_part, allowed))
        tri_out[ids], bary_out[ids] = sp.tri, sp.bary
    return tri_out, bary_out, sym


def correspondence(model_path: str, identities: int = 48, seed: int = 17):
    """Landmark arrays for the model file and a summary (see the module docstring)."""
    import bpy  # noqa: F401  (bpy module; registers FaceForge)

    import launch

    ff = launch.load_package()
    if not getattr(ff, "_registered_for_script", False):
        ff.register()
        ff._registered_for_script = True
    from faceforge.facemodel.model import _load_cached
    from faceforge.inference.ibug68 import ibug68_from_mediapipe
    from faceforge.rigging import regions as R

    model = _load_cached(os.path.abspath(model_path), os.stat(model_path).st_mtime)
    t0 = time.perf_counter()
    print(f"landmark correspondence: detecting on {identities} random heads", flush=True)
    pos, part = detect_heads(model, identities, seed)
    tri, bary, sym = consensus(model, pos, part)
    on_surface = np.einsum("lk,lkd->ld", bary, model.neutral[model.triangles[tri]].astype(np.float64))
    iod = R.face_frame(on_surface).scale
    dist = np.linalg.norm(pos - on_surface[None], axis=2) / iod  # (H, 478)
    spread = np.median(dist, axis=0)
    regions = region_of_landmarks()
    per_region = {r: {"median": round(float(np.median(dist[:, ids])), 4),
                      "p90": round(float(np.percentile(dist[:, ids], 90)), 4)} for r, ids in regions.items()}
    gt = model.neutral[model.ibug68].astype(np.float64)
    err68 = np.linalg.norm(ibug68_from_mediapipe(on_surface) - gt, axis=1) / np.linalg.norm(gt[36] - gt[45])
    info = {"heads": int(len(pos)), "heads_tried": identities, "seed": seed, "iod_m": round(float(iod), 5),
            "spread_iod": per_region, "projection_max_iod": round(float(np.linalg.norm(sym - on_surface, axis=1).max()
                                                                        / iod), 4),
            "ibug68_vs_ict_ground_truth": {"mean": round(float(err68.mean()), 4),
                                           "jaw": round(float(err68[:17].mean()), 4),
                                           "brows": round(float(err68[17:27].mean()), 4),
                                           "all_but_jaw": round(float(err68[17:].mean()), 4)},
            "seconds": round(time.perf_counter() - t0, 1)}
    print(f"landmarks from {len(pos)} heads in {info['seconds']} s; spread (IOD, median / p90): "
          + ", ".join(f"{r} {v['median']:.3f}/{v['p90']:.3f}" for r, v in per_region.items())
          + f"; iBUG-68 vs ICT's vertices: mean {err68.mean():.3f} IOD(outer corners)", flush=True)
    arrays = {"landmark_tri": tri.astype(np.int32), "landmark_bary": bary.astype(np.float32),
              "landmark_spread": spread.astype(np.float32)}
    return arrays, info


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "facemodel_ict.npz")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    correspondence(path, identities=n)
