"""``faceforge demo``: the main job on a built-in default."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("demo", help="run the whole pipeline on the built-in default (or --mesh)")
    p.add_argument("--photo", help="a face photo to use instead of the built-in default (scikit-image's astronaut)")
    p.add_argument("--mesh", help="a face mesh to use instead of a face built from the photo")
    p.add_argument("--no-preview", action="store_true", help="skip the preview video")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import demo
    from ..core import paths
    from ..core.jobs import run_sync

    out = paths.check_output_dir(args.out, "--out")
    result = run_sync(demo.demo_job(out_dir=out, mesh_path=args.mesh,
                                         photo_path=args.photo, preview=not args.no_preview))
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
