"""``faceforge animate-video`` / ``faceforge animate-image``: drive a character from a video or a photo."""

from __future__ import annotations

from . import OBJECT_HELP

import os


def _common(p):
    p.add_argument("--character", required=True, help=".blend file with the rigged character")
    p.add_argument("--object", help=OBJECT_HELP)
    p.add_argument("--out", required=True, help="where to save the animated .blend")


def add_parser(sub):
    p = sub.add_parser("animate-video", help="bake a driving video into shape-key keyframes on a character")
    _common(p)
    p.add_argument("--video", required=True, help="driving video (mp4/mov/avi/mkv/mpg/webm)")
    p.add_argument("--smoothing", type=float, default=0.5, help="One Euro strength 0..1 (default 0.5)")
    p.add_argument("--neutral-frame", type=int, default=None, help="video frame of the actor at rest (default: auto)")
    p.add_argument("--first", type=int, default=0, help="first video frame to solve (default 0)")
    p.add_argument("--last", type=int, default=-1, help="last video frame to solve (default: the end)")
    p.add_argument("--start-frame", type=int, default=1, help="scene frame where the take starts (default 1)")
    p.add_argument("--replace", action="store_true", help="overwrite the current action instead of adding one")
    p.add_argument("--no-head", action="store_true", help="do not key the head rotation")
    p.add_argument("--no-reference", action="store_true", help="do not add the video as a sequencer strip")
    p.set_defaults(func=run_video)
    q = sub.add_parser("animate-image", help="pose a character like the face in a photo")
    _common(q)
    q.add_argument("--image", required=True, help="photo of a face")
    q.add_argument("--neutral-image", help="a photo of the same person at rest (removes face-shape bias)")
    q.add_argument("--key", action="store_true", help="insert keyframes on the current frame")
    q.add_argument("--frame", type=int, default=None, help="frame to key (default: the current frame)")
    q.set_defaults(func=run_image)


def _load(args):
    from ..api.character import load_character

    return load_character(blend=args.character, name=args.object)


def run_video(args) -> int:
    from ..api import animate_video, scene
    from ..core.jobs import run_sync

    obj = _load(args)
    res = run_sync(animate_video.animate_from_video_job(
        obj, os.path.abspath(args.video), smoothing=args.smoothing, neutral_frame=args.neutral_frame,
        frame_range=(args.first, args.last), start_frame=args.start_frame, replace=args.replace,
        head=not args.no_head, add_reference=not args.no_reference))
    scene.save_blend(args.out)
    for k in ("action", "video_frames", "frames", "first_frame", "last_frame", "faces_found", "bridged", "neutral_frame",
              "neutral_auto", "residual_median_iod", "head", "eyes", "video_fps", "scene_fps"):
        print(f"{k}: {res.get(k)}")
    print(f"saved: {os.path.abspath(args.out)}")
    return 0


def run_image(args) -> int:
    from ..api import animate_video, scene
    from ..core.jobs import run_sync

    obj = _load(args)
    res = run_sync(animate_video.animate_from_image_job(
        obj, os.path.abspath(args.image), key=args.key, frame=args.frame,
        neutral_path=os.path.abspath(args.neutral_image) if args.neutral_image else None))
    scene.save_blend(args.out)
    for n, w in sorted(res["weights"].items(), key=lambda kv: -kv[1]):
        print(f"{n}: {w:.3f}")
    print(f"residual_iod: {res['residual_iod']:.4f}")
    print(f"saved: {os.path.abspath(args.out)}")
    return 0
