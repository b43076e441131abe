"""``faceforge batch``: many takes against one character, in parallel worker processes.

    faceforge batch --character head.blend --takes takes/ --out out/ [--jobs 2]
    faceforge batch --job job.toml [--jobs 2]

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
    p.set_defaults(func=run)

    w = sub.add_parser("batch-take", help="(internal) one batch take in this process")
    w.add_argument("--spec", required=True)
    w.set_defaults(func=run_take)


def run(args) -> int:
    from ..api import batch
    from ..core import limits, paths
    from ..formats import jobfile

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
    print(f"faceforge batch: {len(plan.takes)} take(s), {plan.jobs} worker(s) -> {plan.out}", flush=True)
    summary = batch.run_batch(plan, blender=args.blender, on_event=lambda m: print(m, flush=True),
                              timeout=args.timeout)
    print(f"{summary['succeeded']}/{summary['takes']} take(s) succeeded in {summary['seconds']:.1f} s"
          + (f"; failed: {', '.join(summary['failed'])}" if summary["failed"] else ""), flush=True)
    print(f"report: {os.path.join(plan.out, 'batch_report.json')}")
    return 0 if not summary["failed"] else 1


def run_take(args) -> int:
    from ..api import batch

    return batch.run_worker(args.spec)
