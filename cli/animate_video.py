"""``faceforge animate-video`` / ``faceforge animate-image``: drive a character from a video or a photo."""

from __future__ import annotations

from . import OBJECT_HELP
from . import common
from ..core import params

import os

from ..core.errors import FaceForgeError


def _common(p):
    p.add_argument("--character", required=True, help=".blend file with the rigged character")
    p.add_argument("--object", help=OBJECT_HELP)
    p.add_argument("--out", required=True, help="where to save the animated .blend")


def add_parser(sub):
    p = sub.add_parser("animate-video", help="bake a driving video into shape-key keyframes on a character")
    _common(p)
    p.add_argument("--video", required=True, help="driving video (mp4/mov/avi/mkv/mpg/webm)")
    params.argument(p, "--smoothing", "video.smoothing", "One Euro strength")
    params.argument(p, "--neutral-frame", "video.frame", "video frame of the actor at rest (default: auto)",
                    default=None)
    params.argument(p, "--first", "video.frame", "first video frame to solve")
    params.argument(p, "--last", "video.last", "last video frame to solve (-1: the end)")
    params.argument(p, "--start-frame", "start_frame", "scene frame where the take starts")
    p.add_argument("--replace", action="store_true", help="overwrite the current action instead of adding one")
    p.add_argument("--no-head", action="store_true", help="do not key the head rotation")
    p.add_argument("--no-reference", action="store_true", help="do not add the video as a sequencer strip")
    p.set_defaults(func=run_video)
    q = sub.add_parser("animate-image", help="pose a character like the face in a photo")
    _common(q)
    q.add_argument("--image", required=True, help="photo of a face")
    q.add_argument("--neutral-image", help="a photo of the same person at rest (removes face-shape bias)")
    q.add_argument("--key", action="store_true", help="insert keyframes on the current frame")
    params.argument(q, "--frame", "frame", "frame to key (default: the current frame)", default=None)
    q.set_defaults(func=run_image)


def _load(args):
    from ..api.character import load_character

    return load_character(blend=args.character, name=args.object)


def run_video(args) -> int:
    from ..api import animate_video, scene
    from ..core.jobs import run_sync

    out = common.output(args.out, ext=".blend")
    if args.last >= 0 and args.last < args.first:
        raise FaceForgeError(f"--last {args.last} comes before --first {args.first}: the range is empty")
    with common.editing(args.character, out):
        obj = _load(args)
        res = run_sync(animate_video.animate_from_video_job(
            obj, os.path.abspath(args.video), smoothing=args.smoothing, neutral_frame=args.neutral_frame,
            frame_range=(args.first, args.last), start_frame=args.start_frame, replace=args.replace,
            head=not args.no_head, add_reference=not args.no_reference))
        scene.save_blend(out)
    if res.get("fps_note"):
        print(f"note: {res['fps_note']}")
    for k in ("action", "video_frames", "frames", "first_frame", "last_frame", "scene_range", "faces_found", "bridged",
              "neutral_frame", "neutral_auto", "residual_median_iod", "head", "eyes", "video_fps", "scene_fps"):
        print(f"{k}: {res.get(k)}")
    print(f"saved: {out}")
    return 0


def run_image(args) -> int:
    from ..api import animate_video, scene
    from ..core.jobs import run_sync

    out = common.output(args.out, ext=".blend")
    with common.editing(args.character, out):
        obj = _load(args)
        res = run_sync(animate_video.animate_from_image_job(
            obj, os.path.abspath(args.image), key=args.key, frame=args.frame,
            neutral_path=os.path.abspath(args.neutral_image) if args.neutral_image else None))
        scene.save_blend(out)
    if res.get("note"):
        print(res["note"])
    for n, w in sorted(res["weights"].items(), key=lambda kv: -kv[1]):
        print(f"{n}: {w:.3f}")
    print(f"residual_iod: {res['residual_iod']:.4f}")
    print(f"saved: {out}")
    return 0
