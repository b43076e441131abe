"""``faceforge batch``: many takes against one character, in parallel worker processes.

    faceforge batch --character head.blend --takes takes/ --out out/ [--jobs 2]
    faceforge batch --job job.toml [--jobs 2]
    faceforge batch ... --ray [ADDRESS]     each take a Ray task (docs/farm.md)

Per take: ``<out>/<take>/<take>.fbx``, ``.glb``, ``<take>_preview.mp4`` and
``report.json``; ``<out>/batch_report.json`` sums up.  A take's name (from
the job file or its file name) becomes a safe file name inside ``--out``.
Exit status 0 when every take succeeded, 1 when any failed, 2 for bad
arguments (checked before any worker starts).
"""

from __future__ import annotations

import argparse
import os
import shutil

from ..core import params
from ..core.errors import FaceForgeError


def add_parser(sub):
    p = sub.add_parser("batch", help="animate + export + preview many takes in parallel processes",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", help="a job file (.toml or .json); arguments given here override it")
    p.add_argument("--character", help="the character .blend (mesh with the 52 ARKit shape keys)")
    p.add_argument("--object", help="the face mesh's name in that file (default: the one with ARKit keys)")
    p.add_argument("--takes", nargs="+", help="take files and/or folders (video, audio, .txt, .csv)")
    p.add_argument("--out", help="output folder (default: out/batch)")
    params.argument(p, "--jobs", "batch.jobs", "worker processes at once", default=None)
    p.add_argument("--formats", help="comma-separated: fbx,glb,gltf (default fbx,glb)")
    p.add_argument("--preset", help="default | unreal | unity | godot")
    p.add_argument("--no-preview", dest="preview", action="store_const", const=False, default=None,
                   help="skip the preview videos")
    params.argument(p, "--preview-size", "preview.size", "preview render size in pixels (default 256)",
                    default=None)
    p.add_argument("--blender", help="run workers with this Blender binary (extension installed there)")
    params.argument(p, "--timeout", "batch.timeout", "seconds after which a take's worker is stopped "
                                                      "(default: none)", default=None)
    r = p.add_argument_group("Ray (optional: pip install ray; docs/farm.md)")
    r.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run each take as a Ray task: alone, on a local Ray instance; with ADDRESS "
                        "(auto, HOST:6379, ray://HOST:10001) on that cluster. --jobs: takes at once "
                        "(default: as many as the cluster's CPUs hold)")
    r.add_argument("--ray-inputs", choices=("ship", "shared"),
                   help="ship: send the inputs through Ray and bring the outputs back (default); "
                        "shared: every node reads and writes the same paths (shared storage)")
    params.argument(r, "--ray-retries", "batch.ray_retries", "extra attempts for a take whose worker was lost",
                    default=None)
    params.argument(r, "--ray-cpus", "batch.ray_cpus", "CPUs each take declares", default=None)
    params.argument(r, "--ray-memory", "batch.ray_memory", "GiB of memory each take declares", default=None)
    p.set_defaults(func=run)

    w = sub.add_parser("batch-take", help="(internal) one batch take in this process")
    w.add_argument("--spec", required=True)
    w.set_defaults(func=run_take)


def run(args) -> int:
    from ..api import batch
    from ..core import limits, paths
    from ..formats import jobfile

    ray = ray_options(args)
    job, base = None, "."
    if args.job:
        job = jobfile.load_job_file(args.job)
        base = os.path.dirname(os.path.abspath(args.job))
    plan = jobfile.make_plan(job, base, character=args.character, object=args.object, out=args.out,
                             takes=args.takes, jobs=args.jobs, formats=args.formats, preset=args.preset,
                             preview=args.preview, preview_size=args.preview_size,
                             limits=limits.current().to_dict())
    paths.check_output_dir(plan.out, "--out" if args.out else "The output folder")
    if args.blender and shutil.which(args.blender) is None:
        raise FaceForgeError(f"--blender {args.blender} is not an executable file")
    auto_jobs = ray is not None and args.jobs is None and "jobs" not in (job or {})
    workers = "as many workers as Ray has room for" if auto_jobs else f"{plan.jobs} worker(s)"
    print(f"faceforge batch: {len(plan.takes)} take(s), {workers} -> {plan.out}", flush=True)
    summary = batch.run_batch(plan, blender=args.blender, on_event=lambda m: print(m, flush=True),
                              timeout=args.timeout, ray=ray, auto_jobs=auto_jobs)
    print(f"{summary['succeeded']}/{summary['takes']} take(s) succeeded in {summary['seconds']:.1f} s"
          + (f"; failed: {', '.join(summary['failed'])}" if summary["failed"] else ""), flush=True)
    print(f"report: {os.path.join(plan.out, 'batch_report.json')}")
    return 0 if not summary["failed"] else 1


def ray_options(args):
    """``--ray*`` arguments as a ``core.batch_ray.RayOptions`` (None: local processes)."""
    from ..core.batch_ray import RayOptions
    from ..core.errors import FaceForgeError

    given = {k: getattr(args, f"ray_{k}") for k in ("inputs", "retries", "cpus", "memory")}
    if args.ray is None:
        if any(v is not None for v in given.values()):
            raise FaceForgeError("--ray-inputs/--ray-retries/--ray-cpus/--ray-memory need --ray")
        return None
    options = RayOptions(address=args.ray or None)
    for key, value in given.items():
        if value is not None:
            setattr(options, "memory_gb" if key == "memory" else key, value)
    options.check()
    return options


def run_take(args) -> int:
    from ..api import batch

    return batch.run_worker(args.spec)
