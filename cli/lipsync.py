"""``faceforge lipsync``: bake lip sync from a speech recording into a character .blend."""

from __future__ import annotations

from . import OBJECT_HELP
from . import common
from ..core import params


def add_parser(sub):
    p = sub.add_parser("lipsync", help="animate a face's ARKit shape keys from a speech recording")
    p.add_argument("--character", required=True, help="the .blend with the rigged face")
    p.add_argument("--object", help=OBJECT_HELP)
    p.add_argument("--audio", required=True, help="wav/flac/mp3/ogg/m4a, or a video with sound")
    p.add_argument("--transcript", help="what is said (text or a .txt/.lab path); default: a .txt/.lab "
                                        "next to the audio, else phone recognition")
    p.add_argument("--no-sidecar", action="store_true", help="ignore a .txt/.lab next to the audio")
    p.add_argument("--method", choices=("auto", "phonemes", "energy"), default="auto")
    params.argument(p, "--intensity", "lipsync.intensity")
    params.argument(p, "--start-frame", "start_frame")
    params.argument(p, "--fps", "fps", "set the scene frame rate first (default: the file's)", default=None)
    p.add_argument("--replace", action="store_true", help="edit the current action in place")
    p.add_argument("--no-sound", action="store_true", help="don't add a sound strip")
    p.add_argument("--life", default="blinks,brows,head",
                   help="what else moves while speaking: any of blinks, brows, head (comma-separated), "
                        "or 'none' for the mouth only (default: all three)")
    p.add_argument("--out", required=True, help="where to save the animated .blend")
    p.set_defaults(func=run)


def life_layers(text: str) -> tuple[str, ...]:
    """``--life`` -> layer names (validated by the job: an unknown one is a clear error)."""
    words = [w.strip().lower() for w in (text or "").split(",") if w.strip()]
    return () if words in ([], ["none"]) else tuple(words)


def run(args) -> int:
    import bpy

    from ..api import lipsync, scene
    from ..api.character import load_character
    from ..core.jobs import run_sync

    out = common.output(args.out, ext=".blend")
    with common.editing(args.character, out):
        obj = load_character(blend=args.character, name=args.object)
        sc = bpy.context.scene
        if args.fps:
            scene.set_scene_fps(sc, args.fps)
        result = run_sync(lipsync.lipsync_job(
            obj, args.audio, transcript=args.transcript, method=args.method, intensity=args.intensity,
            start_frame=args.start_frame, replace=args.replace, use_sidecar_transcript=not args.no_sidecar,
            add_sound=not args.no_sound, scene=sc, life=life_layers(args.life)))
        scene.save_blend(out)
    print(lipsync.summary(result))
    print(f"realtime: {result['realtime']:.1f}x  saved: {out}")
    return 0
