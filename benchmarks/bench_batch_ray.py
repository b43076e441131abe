"""Batch on Ray vs local processes: takes per minute with the same number of workers, and what a task costs.

    .venv/bin/python benchmarks/bench_batch_ray.py [--takes 8] [--take-seconds 5] [--jobs 2] [--rounds 4]
        [--preview-size 128] [--tasks 20]

1. Throughput: the same Live Link takes (-> FBX + glb + preview each) through
   ``./faceforge batch --jobs N`` and ``./faceforge batch --jobs N --ray`` (a local
   Ray instance with N CPUs), alternating (ABBA), ``--rounds`` times each; medians.  Wall time is
   the whole command (Blender start, Ray start and stop); "batch" is the time
   from the first take handed out to the last report (the batch report's seconds).
2. Per-task cost: ``--tasks`` do-nothing workers (a Python process that writes its
   report) through ``core.batch.run_batch`` with local processes and with Ray
   tasks on a warm local instance (shipped and shared inputs); and Ray's own
   start and stop.

Prints figures; nothing is asserted.  Skipped (exit 0) when Ray is not installed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, load

sys.path.insert(0, os.path.join(ROOT, "tests"))

NOOP = r"""
import json, os, sys
spec = json.load(open(sys.argv[sys.argv.index("--spec") + 1]))
out = os.path.join(spec["plan"]["out"], spec["take"]["name"])
os.makedirs(out, exist_ok=True)
json.dump({"take": spec["take"]["name"], "status": "ok", "frames": 1}, open(os.path.join(out, "report.json"), "w"))
"""


def throughput(args, blend, takes, out) -> None:
    print(f"\n1. {args.takes} Live Link takes of {args.take_seconds:g} s -> FBX + glb + {args.preview_size} px "
          f"preview each, --jobs {args.jobs} ({os.cpu_count()} CPU cores, shared)")
    rows = {"local": [], "ray": []}
    order = (("local", []), ("ray", ["--ray"]))
    for r in range(args.rounds):
        for name, extra in order if r % 2 == 0 else order[::-1]:  # ABBA: load drifts on a shared machine
            dest = os.path.join(out, f"{name}{r}")
            t0 = time.perf_counter()
            proc = subprocess.run([os.path.join(ROOT, "faceforge"), "batch", "--character", blend, "--takes", takes,
                                   "--out", dest, "--jobs", str(args.jobs), "--preview-size", str(args.preview_size),
                                   *extra], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                print(f"  {name}: exit {proc.returncode}\n{proc.stdout[-800:]}{proc.stderr[-800:]}")
                return
            summary = json.load(open(os.path.join(dest, "batch_report.json")))
            work = statistics.mean(r["timings"]["total"] for r in summary["reports"])
            rows[name].append((wall, summary["seconds"], work))
            start = summary["seconds"] * min(args.jobs, args.takes) / args.takes - work
            print(f"  round {r + 1} {name:5s}: wall {wall:5.1f} s ({args.takes / wall * 60:5.1f} takes/min), "
                  f"batch {summary['seconds']:5.1f} s ({args.takes / summary['seconds'] * 60:5.1f} takes/min); "
                  f"per take {work:.2f} s of work + {start:.2f} s to start it (bpy process, scheduling)", flush=True)
    lw, lb, lwork = (statistics.median(x[i] for x in rows["local"]) for i in (0, 1, 2))
    rw, rb, rwork = (statistics.median(x[i] for x in rows["ray"]) for i in (0, 1, 2))
    print(f"  median: local {args.takes / lw * 60:.1f} takes/min (batch {args.takes / lb * 60:.1f}); "
          f"ray {args.takes / rw * 60:.1f} takes/min (batch {args.takes / rb * 60:.1f})")
    print(f"  Ray overhead: wall {100 * (rw / lw - 1):+.1f} %, batch {100 * (rb / lb - 1):+.1f} % "
          f"(goal <= 10 %; negative = faster); the takes' own work differed by {100 * (rwork / lwork - 1):+.1f} % "
          f"(machine noise: the same work either way)")


def task_cost(args, out) -> None:
    import ray

    from faceforge.core import batch, batch_ray
    from faceforge.formats.jobfile import BatchPlan, TakeSpec

    print(f"\n2. per-task cost: {args.tasks} do-nothing workers (python -c, writes its report), --jobs {args.jobs}")
    for i in range(args.tasks):
        open(os.path.join(out, f"t{i}.txt"), "w").write("x")
    open(os.path.join(out, "char.blend"), "wb").write(b"\0" * 1_000_000)
    takes = [TakeSpec(os.path.join(out, f"t{i}.txt"), f"t{i}", "text") for i in range(args.tasks)]
    cmd = [sys.executable, "-c", NOOP]

    def run(label, **kw):
        plan = BatchPlan(character=os.path.join(out, "char.blend"), out=os.path.join(out, label), takes=takes,
                         jobs=args.jobs)
        t0 = time.perf_counter()
        s = kw.pop("fn", batch.run_batch)(plan, cmd, on_event=lambda m: None, **kw)
        dt = time.perf_counter() - t0
        assert s["succeeded"] == args.tasks, s["failed"]
        print(f"  {label:28s}: {dt:5.2f} s, {dt / args.tasks * args.jobs * 1000:5.0f} ms per task per worker",
              flush=True)
        return dt

    local = run("local processes")
    t0 = time.perf_counter()
    ray.init(num_cpus=args.jobs, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    started = time.perf_counter() - t0
    try:
        ray.get(ray.remote(lambda: 0).remote())  # the first worker process
        for inputs in ("ship", "shared"):
            dt = run(f"ray tasks ({inputs} inputs)", fn=batch_ray.run_batch,
                     options=batch_ray.RayOptions(inputs=inputs))
            print(f"    Ray's cost over a local process: {(dt - local) / args.tasks * args.jobs * 1000:+.0f} ms "
                  f"per task")
        noop = ray.remote(lambda: 0)
        ray.get([noop.remote() for _ in range(20)])
        t0 = time.perf_counter()
        for _ in range(50):
            ray.get(noop.remote())
        print(f"  an empty Ray task, one after another: {(time.perf_counter() - t0) / 50 * 1000:.1f} ms each")
    finally:
        t0 = time.perf_counter()
        ray.shutdown()
        print(f"  Ray local instance: start {started:.1f} s, stop {time.perf_counter() - t0:.1f} s (once per batch)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--take-seconds", type=float, default=5.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--preview-size", type=int, default=128)
    ap.add_argument("--tasks", type=int, default=20)
    args = ap.parse_args()
    try:
        import ray  # noqa: F401
    except ImportError:
        print("Ray is not installed (requirements-ray.txt): skipped")
        return 0

    load()
    import bpy

    from faceforge.api import scene
    from faceforge.formats import livelink as llf
    from fixtures_character import known_weights, make_character

    out = tempfile.mkdtemp(prefix="faceforge-bench-ray-")
    scene.clear_scene()
    bpy.context.scene.render.fps = 30
    make_character()
    blend = scene.save_blend(os.path.join(out, "head.blend"))
    takes = os.path.join(out, "takes")
    os.makedirs(takes)
    n = int(args.take_seconds * 30)
    for i in range(args.takes):
        llf.write_csv(os.path.join(takes, f"take{i}.csv"), known_weights(n, i), 30)
    print(f"Ray {__import__('ray').__version__}; results in {out}")
    task_cost(args, out)
    throughput(args, blend, takes, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
