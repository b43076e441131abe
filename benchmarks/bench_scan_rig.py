"""Scan-based rig (issue 18): time and peak memory for landmarks + the 52 keys on the ICT head
and on a ~422k-vertex head (the ICT head subdivided twice), and the re-meshed-head cosine table
(heads of the face model at other identities, decimated and their vertex order shuffled,
against the model's own shapes carried onto their vertices).

Peak memory: ``numpy peak`` is tracemalloc's peak over the pure step (fit + transfer, every
array it allocates); ``RSS`` the process's high-water mark (bpy, the mesh, the renders)."""

import os
import sys
import time
import tracemalloc

import numpy as np

from common import ROOT, ict_head, load, peak_rss_mb

sys.path.insert(0, os.path.join(ROOT, "tests"))


def rig_head(levels: int, again: int = 0):
    """Landmarks + keys on the ICT head (subdivided ``levels`` times): the first head of the
    process (cold: the renderer starts, the ONNX sessions and the face model load), then
    ``again`` more heads in the same session (warm: what rigging the next head costs)."""
    from faceforge.api import landmarks, mesh, shape_keys
    from faceforge.api.binding import landmark_positions, read_binding
    from faceforge.rigging import scan_rig

    for run in range(1 + again):
        obj = ict_head(levels)
        n = len(obj.data.vertices)
        rss0 = peak_rss_mb()
        load0 = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        landmarks.detect_landmarks(obj)
        t_lm, c_lm = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        result = shape_keys.generate_shape_keys(obj)
        t_keys, c_keys = time.perf_counter() - t0, time.process_time() - c0
        print(f"ICT head, {n:,} vertices, {'first head (cold)' if run == 0 else 'next head (warm)'}: landmarks "
              f"{t_lm:.2f} s + {len(result['generated'])} keys ({result['source']}) {t_keys:.2f} s = "
              f"{t_lm + t_keys:.2f} s wall (CPU {c_lm:.2f} + {c_keys:.2f} = {c_lm + c_keys:.2f} s; "
              f"load {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); "
              f"RSS peak {peak_rss_mb():.0f} MB (before {rss0:.0f} MB)", flush=True)
    # the pure step alone, with its memory
    arr = mesh.mesh_arrays(obj)
    lm = landmark_positions(obj)
    weights = read_binding(obj).confidence
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    made = scan_rig.make_shapes(arr.verts, arr.tris, lm, weights=weights)
    t_pure, c_pure = time.perf_counter() - t0, time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  of which fit + transfer (pure): {t_pure:.2f} s (CPU {c_pure:.2f} s, under tracemalloc), numpy peak {peak / 2**20:.0f} MB; "
          f"moving vertices {len(made.active):,}; residual (IOD) model {made.residual['model']['all']:.4f}, "
          f"registered {made.residual['registered']['all']:.4f}", flush=True)


def remeshed_table():
    import rig_fixtures as RF

    from faceforge.api import landmarks, mesh, scene, shape_keys
    from faceforge.core.arkit import ARKIT_NAMES

    names = [n for n in ARKIT_NAMES if n != "tongueOut"]
    print("re-meshed heads (face model identities, decimated, shuffled) against the model's own shapes:")
    print(f"  {'seed':>4} {'ratio':>5} {'vertices':>8} {'mean':>6} {'lowest':>6}  lowest shapes")
    for seed, ratio in ((1, 0.35), (2, 0.35), (3, 0.35), (4, 0.35), (4, 0.2), (5, 0.1)):
        scene.clear_scene()
        obj, truth = RF.remeshed_head(seed, ratio)
        landmarks.detect_landmarks(obj)
        result = shape_keys.generate_shape_keys(obj)
        base = mesh.shape_key_coords(obj, "Basis")
        disp = {n: mesh.shape_key_coords(obj, n) - base for n in result["generated"]}
        cos = RF.cosines(disp, truth, names)
        v = np.array([cos[n] for n in names])
        low = ", ".join(f"{n} {c:.2f}" for c, n in sorted((c, n) for n, c in cos.items())[:3])
        print(f"  {seed:>4} {ratio:>5} {len(base):>8,} {v.mean():6.3f} {v.min():6.3f}  {low}", flush=True)


def main():
    ff = load()
    which = sys.argv[1:] or ["ict", "big", "table"]
    if "ict" in which:
        rig_head(0, again=2)
    if "big" in which:
        rig_head(2)
    if "table" in which:
        remeshed_table()
    print(f"process peak RSS {peak_rss_mb():.0f} MB")
    ff.unregister()


if __name__ == "__main__":
    sys.exit(main())
