"""Deliver benchmarks: exporting a 10-minute take, Live Link CSV, batch throughput (1 vs 2 workers).

    .venv/bin/python benchmarks/bench_export.py [--minutes 10] [--takes 4] [--take-seconds 5] [--skip-batch]

Prints figures; nothing is asserted.  The character is the test fixture head
(UV sphere 64x32, 52 ARKit shape keys, 5-bone armature), then the ICT head (bump shape keys;
then the rig stage's keys + face armature in Bones mode).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, load, peak_rss_mb, timed

sys.path.insert(0, os.path.join(ROOT, "tests"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--takes", type=int, default=4)
    ap.add_argument("--take-seconds", type=float, default=5.0)
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--ict-minutes", type=float, default=1.0,
                    help="also export a take of this length on the ICT head (26,719 vertices; 0 = skip)")
    args = ap.parse_args()

    load()
    import bpy
    import numpy as np

    from faceforge.api import export, livelink, scene
    from faceforge.core.jobs import run_sync
    from faceforge.formats import livelink as llf
    from fixtures_character import bake_take, known_weights, make_character

    out = tempfile.mkdtemp(prefix="faceforge-bench-export-")
    results = {}
    scene.clear_scene()
    bpy.context.scene.render.fps = 30
    obj = make_character(segments=64, rings=32)
    frames = int(args.minutes * 60 * 30)
    print(f"character: {len(obj.data.vertices)} vertices, 52 shape keys; take: {frames} frames "
          f"({args.minutes:g} min at 30 fps) x 52 curves = {frames * 52} keys")
    w = known_weights(frames, 0)
    with timed(f"bake {args.minutes:g}-min take (bake_shape_keys)", results):
        bake_take(obj, w, "Long")
    for fmt in ("GLB", "FBX"):
        with timed(f"export {fmt} ({args.minutes:g}-min take)", results):
            r = run_sync(export.export_job(obj, os.path.join(out, "long"), fmt, "UNREAL"), on_progress=None)
        print(f"  {r.path.name}: {r.path.stat().st_size / 1e6:.1f} MB")
    with timed(f"Live Link CSV export ({args.minutes:g}-min take)", results):
        csv = livelink.export_livelink(obj, os.path.join(out, "long.csv"))
    print(f"  {os.path.basename(csv)}: {os.path.getsize(csv) / 1e6:.1f} MB")
    with timed("Live Link CSV read (pure)", results):
        llf.read_csv(csv)
    with timed("Live Link CSV import (read + resample + bake)", results):
        livelink.import_livelink(obj, csv)
    from faceforge.api import preview

    for engine in ("WORKBENCH", "CYCLES"):
        n = 60 if engine == "WORKBENCH" else 20
        t0 = time.perf_counter()
        r = run_sync(preview.render_preview_job(obj, os.path.join(out, f"prev_{engine}.mp4"), (1, n),
                                                side_by_side=os.path.join(os.path.dirname(ROOT), "shared", "data",
                                                                          "video", "grid", "bbaf2n.mpg"),
                                                take="Long", size=256, engine=engine), on_progress=None)
        dt = time.perf_counter() - t0
        print(f"preview {engine.lower()} 256 px + GRID video beside: {n} frames in {dt:.1f} s "
              f"({r.seconds_render / n * 1000:.0f} ms/frame render, encode {r.seconds_encode:.2f} s)")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")

    ict_path = os.path.join(os.path.dirname(ROOT), "shared", "data", "mesh", "ict_neutral", "generic_neutral_mesh.obj")
    if args.ict_minutes > 0 and os.path.isfile(ict_path):
        from faceforge.api import mesh
        from faceforge.core.arkit import ARKIT_NAMES

        scene.clear_scene()
        bpy.context.scene.render.fps = 30
        ict = scene.import_mesh(ict_path, name="ICT")
        base = mesh.mesh_arrays(ict).verts
        rng = np.random.default_rng(0)
        for name in ARKIT_NAMES:  # a local bump per shape (about 2 cm), like real ARKit shapes
            d = np.linalg.norm(base - base[rng.integers(len(base))], axis=1)
            mesh.set_shape_key(ict, name, base + np.exp(-(d / 1.0) ** 2)[:, None] * np.array([0, 0, 0.5]))
        n = int(args.ict_minutes * 60 * 30)
        bake_take(ict, known_weights(n, 3), "Take")
        print(f"\nICT head: {len(ict.data.vertices)} vertices, 52 shape keys; take {n} frames "
              f"({args.ict_minutes:g} min)")
        for fmt in ("GLB", "FBX"):
            with timed(f"export {fmt} (ICT head)", results):
                r = run_sync(export.export_job(ict, os.path.join(out, "ict"), fmt, "UNREAL"), on_progress=None)
            print(f"  {r.path.name}: {r.path.stat().st_size / 1e6:.1f} MB")
        t0 = time.perf_counter()
        r = run_sync(preview.render_preview_job(ict, os.path.join(out, "ict.mp4"), (1, 30), size=256),
                     on_progress=None)
        print(f"preview ICT head 256 px ({r.engine.lower()}): {r.seconds_render / 30 * 1000:.0f} ms/frame")

        # The generated rig (issue #22): rig-stage shape keys + face armature in Bones mode, so the
        # export bakes jawOpen/eyeLook* to bone animation and scales the centimetre OBJ to metres.
        import rig_fixtures as RF
        from pathlib import Path

        from faceforge.api import armature, shape_keys

        scene.clear_scene()
        bpy.context.scene.render.fps = 30
        rigged = RF.import_ict(Path(ROOT).parent / "shared" / "data")
        shape_keys.generate_shape_keys(rigged)
        armature.generate_armature(rigged)
        bake_take(rigged, known_weights(n, 4), "Take")
        print(f"\nICT head, generated rig (Bones mode), take {n} frames ({args.ict_minutes:g} min)")
        for fmt, kw in (("GLB", {}), ("GLB", {"morph_normals": False}), ("FBX", {}),
                        ("GLB", {"motion": "SHAPE_KEYS", "morph_normals": False})):
            label = f"export {fmt} (ICT rigged{', ' + ', '.join(f'{k}={v}' for k, v in kw.items()) if kw else ''})"
            with timed(label, results):
                r = run_sync(export.export_job(rigged, os.path.join(out, "rigged"), fmt, **kw), on_progress=None)
            print(f"  {r.path.name}: {r.path.stat().st_size / 1e6:.1f} MB, {r.motion}, x{r.scale:g} -> "
                  f"{r.height_m:.3f} m")
        with timed("Live Link CSV export (ICT rigged, with eye rotations from the drivers)", results):
            livelink.export_livelink(rigged, os.path.join(out, "rigged.csv"))

    if args.skip_batch:
        return 0
    # --- batch throughput: the same takes with 1 and 2 worker processes
    scene.clear_scene()
    bpy.context.scene.render.fps = 30
    make_character()
    blend = scene.save_blend(os.path.join(out, "head.blend"))
    takes = os.path.join(out, "takes")
    os.makedirs(takes, exist_ok=True)
    n = int(args.take_seconds * 30)
    for i in range(args.takes):
        llf.write_csv(os.path.join(takes, f"take{i}.csv"), known_weights(n, i), 30)
    print(f"\nbatch: {args.takes} Live Link takes of {args.take_seconds:g} s -> FBX + glb + 128 px preview each "
          f"({os.cpu_count()} CPU cores)")
    for jobs in (1, 2):
        t0 = time.perf_counter()
        proc = subprocess.run([os.path.join(ROOT, "faceforge"), "batch", "--character", blend, "--takes", takes,
                               "--out", os.path.join(out, f"batch{jobs}"), "--jobs", str(jobs),
                               "--preview-size", "128"], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stdout[-500:]}"
        print(f"batch --jobs {jobs}: {dt:.1f} s, {args.takes / dt * 60:.1f} takes/min ({status})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
