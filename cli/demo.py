"""``faceforge demo``: the main job on a built-in default."""

from __future__ import annotations

import os


def add_parser(sub):
    p = sub.add_parser("demo", help="run the whole pipeline on the built-in default (or --mesh)")
    p.add_argument("--mesh", help="a face mesh to use instead of the built-in default")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import pipeline
    from ..core.jobs import run_sync

    result = run_sync(pipeline.demo_job(out_dir=os.path.abspath(args.out), mesh_path=args.mesh))
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
