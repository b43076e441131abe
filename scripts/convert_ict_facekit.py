"""Convert ICT-FaceKit's Face Model Light into FaceForge's one-file face model (build time).

Reads ``../shared/data/mesh/ict_facekit/`` (ICT-FaceKit ``FaceXModel``, MIT; see
``models/ICT-FaceKit-LICENSE.txt``) and writes ``models/facemodel_ict.npz``, which
``facemodel.load_model()`` reads.  Nothing here runs in the product.

What goes in (units metres: ICT's centimetres / 100; ICT's axes: x = subject's left,
y = up, z = forward):

* ``neutral`` (V, 3) float32; ``identity`` (100, V, 3) float16 deltas (identity_i - neutral;
  ICT's modes are already scaled by their standard deviation);
* the 53 expression shapes as sparse float16 deltas under ICT's names (a vertex is
  kept where it moves more than ``SPARSE_M``), plus ``tongueOut``: FaceForge's own
  tongue motion (``rigging.deform.find_tongue`` + ``rigging.expressions.tongue_out``)
  baked on the neutral head;
* polygons (quads kept) with per-loop UV indices, a fan triangulation, each
  polygon's part, the eyeballs' centres (sphere fit to the back of each sclera),
  ICT's iBUG-68 vertices;
* MediaPipe's 478 landmarks as (triangle, barycentric) - from
  ``scripts/facemodel_landmarks.py`` (renders random heads in Blender and detects
  them).  That step needs bpy + MediaPipe and takes minutes, so by default the
  landmarks of the existing model file are kept; ``--landmarks`` recomputes them.

Then every shape is read back through ``facemodel.load_model`` and compared with its
OBJ; the worst vertex error (mm) is printed and stored in the file's ``info``.

Usage::

    .venv/bin/python scripts/convert_ict_facekit.py                 # geometry; keep the landmarks
    .venv/bin/python scripts/convert_ict_facekit.py --landmarks     # + landmark correspondence (~5 min)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(os.path.dirname(ROOT), "shared", "data", "mesh", "ict_facekit")
LICENCE_SRC = os.path.join(os.path.dirname(ROOT), "shared", "data", "licenses", "ICT-FaceKit-MIT.txt")
OUT = os.path.join(ROOT, "models", "facemodel_ict.npz")
LICENCE_OUT = os.path.join(ROOT, "models", "ICT-FaceKit-LICENSE.txt")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

CM = 0.01  # ICT's unit, in metres
SPARSE_M = 1e-5  # a shape keeps the vertices it moves more than this (0.01 mm)
N_IDENTITY = 100

def credits_text() -> str:
    return ("\n" + "-" * 90 + "\n"
            "FaceForge ships a converted copy of the ICT Face Model Light (models/facemodel_ict.npz, made by\n"
            "scripts/convert_ict_facekit.py from ICT-FaceKit's FaceXModel: the neutral head, its expression\n"
            "shapes and its 100 identity modes, with their topology and UVs), under the licence above.\n\n"
            "Source: ICT-FaceKit, https://github.com/ICT-VGL/ICT-FaceKit\n"
            "Copyright (c) 2020 USC Institute for Creative Technologies.\n"
            "Contributors credited by ICT-FaceKit: K. Bladin, O. Ingraham, Y. Zhao, P. Prasad, X. Ren,\n"
            "B. Kishore, M. Ramos (USC Institute for Creative Technologies, Vision and Graphics Lab).\n"
            "Light-stage scans; see ICT-FaceKit's README for the papers to cite.\n\n"
            "FaceForge's changes: units converted to metres; deltas stored as float16 (expression shapes sparse);\n"
            "a tongueOut shape, MediaPipe landmark correspondences and MediaPipe's measured response added\n"
            "by FaceForge.\n")


# --- reading ICT's OBJs ----------------------------------------------------------------

def read_vertices(path: str) -> np.ndarray:
    """The ``v`` lines of a (gzipped) OBJ, (V, 3) float64, ICT units."""
    with gzip.open(path, "rt") as fh:
        lines = [ln[2:] for ln in fh.read().split("\n") if ln.startswith("v ")]
    return np.array(" ".join(lines).split(), dtype=np.float64).reshape(-1, 3)


def read_topology(path: str):
    """Polygons of the neutral OBJ: sizes (P,), vertex ids (sum,), vt ids (sum,), vt (U, 2)."""
    sizes, verts, uvs, vt = [], [], [], []
    with gzip.open(path, "rt") as fh:
        for ln in fh:
            if ln.startswith("vt "):
                vt.append(ln.split()[1:3])
            elif ln.startswith("f "):
                corners = [c.split("/") for c in ln.split()[1:]]
                sizes.append(len(corners))
                verts.extend(int(c[0]) - 1 for c in corners)
                uvs.extend(int(c[1]) - 1 for c in corners)
    return (np.array(sizes, np.uint8), np.array(verts, np.int32), np.array(uvs, np.int32),
            np.array(vt, np.float32))


def fan_triangles(sizes: np.ndarray, verts: np.ndarray):
    """Triangles (T, 3) and their polygon (T,): polygon (a, b, c, d) -> (a, b, c), (a, c, d)."""
    starts = np.concatenate([[0], np.cumsum(sizes.astype(np.int64))[:-1]])
    tris, polys = [], []
    for k in range(1, int(sizes.max()) - 1):
        has = np.flatnonzero(sizes > k + 1)
        s = starts[has]
        tris.append(np.stack([verts[s], verts[s + k], verts[s + k + 1]], axis=1))
        polys.append(has)
    tri_poly = np.concatenate(polys)
    order = np.argsort(tri_poly, kind="stable")
    return np.concatenate(tris)[order].astype(np.int32), tri_poly[order].astype(np.int32)


def eye_centre(points: np.ndarray) -> np.ndarray:
    """Centre of an eyeball from its sclera: a sphere fit to the half behind the cornea."""
    from faceforge.rigging.parts import fit_sphere

    c, r, _ = fit_sphere(points)
    back = points[points[:, 2] < c[2]]
    c, r, _ = fit_sphere(back)
    return c


# --- the tongue ------------------------------------------------------------------------

def bake_tongue(neutral: np.ndarray, tris: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """FaceForge's ``tongueOut`` on the neutral head (V, 3), metres (rigging.deform's tongue)."""
    from faceforge.rigging import deform

    rig, shapes = deform.generate(neutral, tris, landmarks, names=("tongueOut",))
    if not rig.has_tongue or "tongueOut" not in shapes:
        raise SystemExit("convert: no tongue found on the ICT head")
    d = np.zeros_like(neutral)
    d[rig.active] = shapes["tongueOut"]
    return d


# --- writing -------------------------------------------------------------------------

def sparse(deltas: dict[str, np.ndarray]):
    names, offsets, index, values = [], [0], [], []
    for name, d in deltas.items():
        keep = np.flatnonzero(np.linalg.norm(d, axis=1) > SPARSE_M)
        names.append(name)
        index.append(keep.astype(np.uint16))
        values.append(d[keep].astype(np.float16))
        offsets.append(offsets[-1] + len(keep))
    return (np.array(names), np.array(offsets, np.int64), np.concatenate(index), np.concatenate(values))


def conversion_errors(path: str, shapes_cm: dict[str, np.ndarray], neutral_cm: np.ndarray,
                      identities_cm: list[np.ndarray]) -> dict:
    """Worst vertex error (mm) of every stored shape against its OBJ."""
    from faceforge.facemodel.model import _load_cached

    m = _load_cached(os.path.abspath(path), os.stat(path).st_mtime)
    worst = {"neutral": float(np.abs(m.neutral - neutral_cm * CM).max() * 1000)}
    expr = {n: float(np.linalg.norm(m.neutral + m.shape(n) - v * CM, axis=1).max() * 1000)
            for n, v in shapes_cm.items()}
    ident = [float(np.linalg.norm(m.neutral + m.identity_basis[i] - v * CM, axis=1).max() * 1000)
             for i, v in enumerate(identities_cm)]
    worst["expression_max_mm"] = max(expr.values())
    worst["expression_worst"] = max(expr, key=expr.get)
    worst["identity_max_mm"] = max(ident)
    worst["identity_worst"] = int(np.argmax(ident))
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=SRC)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--landmarks", action="store_true",
                    help="recompute the landmark correspondence (Blender + MediaPipe, minutes)")
    ap.add_argument("--response", action="store_true",
                    help="recompute only MediaPipe's response to each shape (Blender + MediaPipe, minutes)")
    ap.add_argument("--identities", type=int, default=48, help="random heads for the landmark correspondence")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--geometry-only", action="store_true",
                    help="(development) write the model without landmarks and tongueOut")
    args = ap.parse_args(argv)
    import launch

    launch.load_package()
    t0 = time.perf_counter()
    meta = json.load(open(os.path.join(args.src, "vertex_indices.json")))
    neutral_path = os.path.join(args.src, "generic_neutral_mesh.obj.gz")
    neutral_cm = read_vertices(neutral_path)
    sizes, pverts, puv, vt = read_topology(neutral_path)
    names = sorted(n[:-7] for n in os.listdir(args.src)
                   if n.endswith(".obj.gz") and not n.startswith(("identity", "generic")))
    shapes_cm = {n: read_vertices(os.path.join(args.src, n + ".obj.gz")) for n in names}
    identities_cm = [read_vertices(os.path.join(args.src, f"identity{i:03d}.obj.gz")) for i in range(N_IDENTITY)]
    print(f"read {len(shapes_cm)} expressions, {len(identities_cm)} identities, {len(neutral_cm)} vertices, "
          f"{len(sizes)} polygons in {time.perf_counter() - t0:.1f} s", flush=True)

    from faceforge.facemodel.model import FILE_VERSION, PART_NAMES, PARTS

    neutral = neutral_cm * CM
    tris, tri_poly = fan_triangles(sizes, pverts)
    starts = np.concatenate([[0], np.cumsum(sizes.astype(np.int64))[:-1]])
    last = np.maximum.reduceat(pverts, starts)
    bounds = np.array([PARTS[n][0] for n in PART_NAMES])
    poly_part = (np.searchsorted(bounds, last, side="right") - 1).astype(np.uint8)
    eyes = np.stack([eye_centre(neutral[slice(*PARTS[f"sclera_{s}"])]) for s in "LR"])
    deltas = {n: (v - neutral_cm) * CM for n, v in shapes_cm.items()}
    identity = np.stack([(v - neutral_cm) * CM for v in identities_cm]).astype(np.float16)

    geometry = dict(version=np.int32(FILE_VERSION), neutral=neutral.astype(np.float32), identity=identity,
                    poly_sizes=sizes, poly_verts=pverts, poly_uv=puv, uv=vt, poly_part=poly_part,
                    triangles=tris, tri_poly=tri_poly, eye_centres=eyes.astype(np.float32),
                    ibug68=np.array(meta["idx_to_landmark_verts"], np.int32))
    info = {"source": "ICT-FaceKit FaceXModel (ICT Face Model Light), MIT, https://github.com/ICT-VGL/ICT-FaceKit",
            "units": "m", "frame": "x = subject's left, y = up, z = forward (ICT's axes)",
            "sparse_threshold_m": SPARSE_M, "vertices": int(len(neutral)), "polygons": int(len(sizes)),
            "identity_modes": N_IDENTITY}

    if args.geometry_only:
        sh = sparse(deltas)
        np.savez_compressed(args.out, **geometry, shape_names=sh[0], shape_offsets=sh[1], shape_index=sh[2],
                            shape_delta=sh[3], info_json=json.dumps(info))
        print(f"wrote {args.out} (geometry only)")
        return 0
    # landmarks: recompute, or keep the existing file's
    import facemodel_landmarks

    old = dict(np.load(args.out)) if os.path.isfile(args.out) else {}
    old_info = json.loads(str(old["info_json"])) if "info_json" in old else {}
    sh = sparse(deltas)
    tmp = args.out + ".tmp.npz"
    draft = dict(**geometry, shape_names=sh[0], shape_offsets=sh[1], shape_index=sh[2], shape_delta=sh[3])
    lm = {}
    if args.landmarks or "landmark_tri" not in old:
        np.savez_compressed(tmp, **draft, info_json=json.dumps(info))
        lm, info["landmarks"] = facemodel_landmarks.correspondence(tmp, identities=args.identities, seed=args.seed)
    else:
        lm = {k: old[k] for k in ("landmark_tri", "landmark_bary", "landmark_spread")}
        info["landmarks"] = old_info.get("landmarks", {})
        print("kept the landmark correspondence of the existing model file (--landmarks recomputes it)")
    if args.landmarks or args.response or "landmark_response" not in old:
        np.savez_compressed(tmp, **draft, **lm, info_json=json.dumps(info))
        from faceforge.facemodel.model import _load_cached

        draft_model = _load_cached(os.path.abspath(tmp), os.stat(tmp).st_mtime)
        resp, info["detector_response"] = facemodel_landmarks.detector_response(draft_model)
        lm["landmark_response"] = resp
    else:
        lm["landmark_response"] = old["landmark_response"]
        info["detector_response"] = old_info.get("detector_response", {})
        print("kept MediaPipe's response of the existing model file (--response recomputes it)")
    if os.path.isfile(tmp):
        os.remove(tmp)

    # tongueOut, on the landmarks
    tri_v = tris[lm["landmark_tri"]]
    lm_pos = np.einsum("lk,lkd->ld", lm["landmark_bary"].astype(np.float64), neutral[tri_v])
    deltas["tongueOut"] = bake_tongue(neutral, tris, lm_pos)
    moved = np.linalg.norm(deltas["tongueOut"], axis=1)
    info["tongueOut"] = {"vertices": int((moved > SPARSE_M).sum()), "max_mm": float(moved.max() * 1000)}
    print(f"tongueOut: {info['tongueOut']['vertices']} vertices, tip moves {info['tongueOut']['max_mm']:.1f} mm")

    sh = sparse(deltas)
    payload = dict(**geometry, **lm, shape_names=sh[0], shape_offsets=sh[1], shape_index=sh[2], shape_delta=sh[3])
    np.savez_compressed(args.out, **payload, info_json=json.dumps(info))
    errors = conversion_errors(args.out, shapes_cm, neutral_cm, identities_cm)
    info["conversion_error"] = errors
    info["file_mb"] = round(os.path.getsize(args.out) / 1e6, 2)
    np.savez_compressed(args.out, **payload, info_json=json.dumps(info))
    with open(LICENCE_OUT, "w") as fh:
        fh.write(open(LICENCE_SRC).read().rstrip("\n") + "\n" + credits_text())
    print(f"wrote {args.out}: {os.path.getsize(args.out) / 1e6:.2f} MB; {len(sh[0])} shapes "
          f"({len(sh[2])} sparse vertex deltas); conversion error: neutral {errors['neutral']:.4f} mm, "
          f"expressions max {errors['expression_max_mm']:.4f} mm ({errors['expression_worst']}), "
          f"identities max {errors['identity_max_mm']:.4f} mm (mode {errors['identity_worst']}); "
          f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
