"""``faceforge export | preview | livelink-import | livelink-export``: deliver a character headless.

    faceforge export --character head.blend --object Face --format glb --preset unreal --out head.glb \
        [--jaw-eyes auto|bones|shape-keys] [--unit auto|m|cm|mm|in] [--opaque-materials]
    faceforge preview --character head.blend --out take.mp4 [--beside driving.mp4]
    faceforge livelink-import --character head.blend --csv take.csv --save head_anim.blend
    faceforge livelink-export --character head.blend --out take.csv [--take NAME] [--fps 60] [--no-head]
"""

from __future__ import annotations

from . import OBJECT_HELP
from . import common
from ..core import params
from ..core.errors import FaceForgeError

import os


def _common(p):
    p.add_argument("--character", required=True, help="the character .blend")
    p.add_argument("--object", help=OBJECT_HELP)


def add_parser(sub):
    p = sub.add_parser("export", help="export the character + takes to FBX / glb / glTF")
    _common(p)
    p.add_argument("--format", default="glb", choices=("fbx", "glb", "gltf"))
    p.add_argument("--preset", default="default", choices=("default", "unreal", "unity", "godot"))
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--takes", nargs="+", help="action names to export (default: every take)")
    p.add_argument("--frames", nargs=2, type=params.spec("frame").parse, metavar=("FIRST", "LAST"),
                   help="clip every take")
    p.add_argument("--no-morph-normals", dest="morph_normals", action="store_false",
                   help="glTF: leave out per-shape normals (much smaller files)")
    p.add_argument("--jaw-eyes", default="auto", choices=("auto", "bones", "shape-keys"),
                   help="how jaw and eyes move in the file: as rigged (default), bone animation, or "
                        "morph weights - never both")
    p.add_argument("--unit", default="auto", choices=("auto", "m", "cm", "mm", "in"),
                   help="what one Blender unit of the character is (default: told from its size); "
                        "files are written in metres")
    p.add_argument("--opaque-materials", action="store_true",
                   help="write fully transmissive materials (OBJ 'Tf 1 1 1') opaque")
    p.set_defaults(func=run_export)

    p = sub.add_parser("preview", help="render a preview MP4 of a take")
    _common(p)
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--take", help="action name (default: the current one)")
    p.add_argument("--beside", help="driving video or audio to show beside the face")
    p.add_argument("--frames", nargs=2, type=params.spec("frame").parse, metavar=("FIRST", "LAST"))
    params.argument(p, "--size", "preview.size", "render size in pixels (square)")
    p.add_argument("--engine", default="auto", choices=("auto", "workbench", "cycles"))
    p.set_defaults(func=run_preview)

    p = sub.add_parser("livelink-import", help="bake a Live Link Face CSV onto the character")
    _common(p)
    p.add_argument("--csv", required=True)
    params.argument(p, "--fps", "livelink.fps", "the CSV's timecode frame rate (default: read from the timecodes)",
                    default=None)
    params.argument(p, "--start", "start_frame", "first frame of the baked take")
    p.add_argument("--save", help="write the result to this .blend (default: overwrite --character)")
    p.add_argument("--no-head", dest="head", action="store_false",
                   help="leave the head/eye rotation columns out (default: keyed on the face rig)")
    p.set_defaults(func=run_livelink_import)

    p = sub.add_parser("livelink-export", help="write a baked take as a Live Link Face CSV")
    _common(p)
    p.add_argument("--out", required=True)
    p.add_argument("--take", help="action name (default: the current one)")
    params.argument(p, "--fps", "livelink.fps", "rows per second, resampled (e.g. 60); default: one row per frame "
                    "of the take. Timecodes are at the app's 60 fps either way", default=None)
    p.add_argument("--no-head", dest="head", action="store_false",
                   help="write the head/eye rotation columns as zeros")
    p.set_defaults(func=run_livelink_export)


def _open(args):
    from ..api.character import load_character

    return load_character(blend=args.character, name=args.object)


def _with_ext(path: str, ext: str) -> str:
    """The path the writer will use (it puts its own extension on other names)."""
    return path if path.lower().endswith(ext) else os.path.splitext(path)[0] + ext


def _frames(args):
    if args.frames and args.frames[1] < args.frames[0]:
        raise FaceForgeError(f"--frames {args.frames[0]} {args.frames[1]}: the last frame comes before the first")
    return args.frames


def _warnings(result) -> int:
    """Print the result's warnings; the exit status (0: done)."""
    for w in result.warnings:
        print(f"warning: {w}")
    return 0


def run_export(args) -> int:
    from ..api import export
    from ..core.jobs import run_sync

    out = common.output(_with_ext(args.out, "." + args.format))
    frames = _frames(args)
    obj = _open(args)
    result = run_sync(export.export_job(obj, out, args.format.upper(), args.preset.upper(),
                                        frame_range=frames, takes=args.takes or "ALL",
                                        morph_normals=args.morph_normals,
                                        motion=args.jaw_eyes.upper().replace("-", "_"), unit=args.unit.upper(),
                                        opaque=args.opaque_materials))
    for path in result.files:
        print(path)
    for note in result.notes:
        print(note)
    for t in result.takes:
        print(f"take {t.name}: frames {t.frame_start}-{t.frame_end} at {result.fps:g} fps")
    return _warnings(result)


def run_preview(args) -> int:
    from ..api import preview
    from ..core.jobs import run_sync

    out = common.output(_with_ext(args.out, ".mp4"))
    frames = _frames(args)
    obj = _open(args)
    result = run_sync(preview.render_preview_job(obj, out, frames, args.beside,
                                                 take=args.take, size=args.size, engine=args.engine.upper()))
    print(f"{result.path}: {result.frames} frames, {result.engine}, {result.size[0]}x{result.size[1]}")
    return _warnings(result)


def run_livelink_import(args) -> int:
    import bpy

    from ..api import livelink, scene
    from ..api.actions import assign_action

    out = common.output(args.save or args.character, "--save" if args.save else "--character", ext=".blend")
    with common.editing(args.character, out):
        obj = _open(args)
        result = livelink.import_livelink(obj, os.path.abspath(args.csv), start_frame=args.start,
                                          fps=args.fps or None, head=args.head)
        assign_action(obj.data.shape_keys, bpy.data.actions[result.action])  # the new take plays
        scene.save_blend(out)
    print(f"baked '{result.action}': frames {result.frame_start}-{result.frame_end} -> {out}")
    return _warnings(result)


def run_livelink_export(args) -> int:
    from ..api import livelink

    out = common.output(_with_ext(args.out, ".csv"))
    obj = _open(args)
    print(livelink.export_livelink(obj, out, action=args.take, fps=args.fps or None, head=args.head))
    return 0
