"""``faceforge emotion | text | timeline``: animate a character from words, headless.

Without ``--character`` the first two print the ARKit weights (JSON) and,
for text, the library entries the prompt matched.  With ``--character
X.blend --object NAME --out out.blend`` they pose the character and save.

Examples::

    faceforge emotion happy --intensity 0.8 --blend surprised:0.3
    faceforge text "slightly sad but not frowning" --json
    faceforge timeline --character face.blend --object Face \\
        --timeline "neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral" --out take.blend
"""

from __future__ import annotations

from . import OBJECT_HELP
from . import common

import json
import sys

from ..core import params
from ..core.errors import FaceForgeError


def _character_args(p, required=False):
    p.add_argument("--character", required=required, help="a .blend file with the character")
    p.add_argument("--object", help=OBJECT_HELP)
    p.add_argument("--out", help="where to save the posed .blend (default: overwrite --character)")


def _parse_scales(items) -> dict[str, float]:
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise FaceForgeError(f"--scale wants SHAPE=VALUE (e.g. mouthSmileLeft=0.8 or Mouth=1.2), got '{item}'")
        out[name.strip()] = params.check("expression.scale", value.strip() or None, f"--scale {name.strip()}")
    return out


def _parse_blend(text: str | None) -> tuple[str | None, float]:
    """``--blend EMOTION[:SHARE]`` -> (emotion, share); the share is checked 0..1 and named."""
    if not text:
        return None, 0.0
    name, sep, share = text.partition(":")
    if not name.strip():
        raise FaceForgeError(f"--blend wants EMOTION:SHARE (e.g. surprised:0.3), got '{text}'")
    if not sep or not share.strip():
        return name.strip(), 0.5
    return name.strip(), params.check("emotion.blend", share.strip(), f"The share of '{name.strip()}' in --blend")


def add_parser(sub):
    p = sub.add_parser("emotion", help="an emotion preset (FACS action units -> ARKit weights)")
    p.add_argument("name", help="neutral, happiness, sadness, surprise, fear, anger, disgust (or happy, sad...)")
    params.argument(p, "--intensity", "emotion.intensity")
    p.add_argument("--blend", metavar="EMOTION:SHARE", help="mix in a second emotion, e.g. surprised:0.3")
    p.add_argument("--scale", action="append", metavar="SHAPE=VALUE",
                   help="per-character scale of a shape or region (repeatable)")
    params.argument(p, "--key-frame", "frame", "also key the pose at this frame", default=None)
    _character_args(p)
    p.set_defaults(func=run_emotion)

    p = sub.add_parser("text", help="a free-text prompt -> ARKit weights (all-MiniLM-L6-v2)")
    p.add_argument("prompt")
    p.add_argument("--json", action="store_true", help="print the weights and matches as JSON")
    params.argument(p, "--key-frame", "frame", "also key the pose at this frame", default=None)
    _character_args(p)
    p.set_defaults(func=run_text)

    p = sub.add_parser("timeline", help="bake an expression timeline as keyframes")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--timeline", help='"neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral"')
    src.add_argument("--file", help="a text file, one step per line")
    params.argument(p, "--fps", "fps", "frames per second (default: the scene's)", default=None)
    params.argument(p, "--start-frame", "start_frame")
    params.argument(p, "--transition", "timeline.transition", "seconds of easing between steps")
    p.add_argument("--no-life", action="store_true", help="no blinks or brow/eye motion")
    params.argument(p, "--seed", "seed")
    p.add_argument("--replace", action="store_true", help="replace the current action instead of keeping it")
    p.add_argument("--keys", choices=("auto", "dense", "sparse"), default="auto",
                   help="one key per frame, or two Bezier keys per transition (auto: sparse without life)")
    _character_args(p, required=True)
    p.set_defaults(func=run_timeline)


def _open(args):
    from ..api.character import load_character

    return load_character(blend=args.character, name=args.object)


def _out(args) -> str:
    """The .blend to save (``--out``, else the character file itself), checked before the work."""
    if args.out:
        return common.output(args.out, ext=".blend")
    return common.output(args.character, "--character", ext=".blend")


def _save(out: str) -> str:
    from ..api import scene

    return scene.save_blend(out)


def _nonzero(weights) -> dict[str, float]:
    from ..core.arkit import ARKIT_NAMES

    return {n: round(float(w), 4) for n, w in zip(ARKIT_NAMES, weights) if w > 1e-4}


def run_emotion(args) -> int:
    from ..animation import emotions

    scales = _parse_scales(args.scale)
    blend_with, share = _parse_blend(args.blend)
    emotions.resolve_emotion(args.name)  # an unknown name is the first thing to say
    if blend_with:
        emotions.resolve_emotion(blend_with)
    if args.character:
        from ..api import expressions

        out = _out(args)
        with common.editing(args.character, out):
            obj = _open(args)
            result = expressions.pose_emotion(obj, args.name, args.intensity, blend_with=blend_with, blend=share,
                                              scales=scales or None, key_frame=args.key_frame)
            saved = _save(out)
        keyed = f" (keyed at frame {result['key_frame']})" if result["key_frame"] is not None else ""
        if result["note"]:
            print(f"note: {result['note']}")
        print(f"posed {len(result['set'])} shape keys{keyed}; saved {saved}")
        return 0
    mix = {args.name: 1.0 - share}
    if blend_with:
        mix[blend_with] = share
    weights = emotions.blend_emotions(mix, intensity=args.intensity, scales=scales)
    print(json.dumps(_nonzero(weights), indent=1))
    return 0


def run_text(args) -> int:
    from ..animation import text_expression

    saved = None
    if args.character:
        from ..api import expressions

        out = _out(args)
        with common.editing(args.character, out):
            obj = _open(args)
            result, applied = expressions.pose_from_text(obj, args.prompt, key_frame=args.key_frame)
            saved = _save(out)
        if applied.note:
            print(f"note: {applied.note}", file=sys.stderr if args.json else sys.stdout)
    else:
        result = text_expression.interpret(args.prompt)
    if args.json:
        print(json.dumps({"prompt": result.prompt, "reads_as": result.emotion,
                          "weights": _nonzero(result.weights),
                          "matches": [{"entry": m.key, "share": round(m.share, 3), "score": round(m.similarity, 3),
                                       "clause": m.clause, "negated": m.negated, "intensity": m.intensity}
                                      for m in result.matches]}, indent=1))
    else:
        print(f"reads as: {result.emotion}")
        for m in result.matches:
            print(f"  {'NOT ' if m.negated else ''}{m.label:28s} {m.share * 100:5.1f}%  ({m.clause!r})")
        for n, w in _nonzero(result.weights).items():
            print(f"  {n:20s} {w:.3f}")
    if saved:
        print(f"saved {saved}")
    return 0


def run_timeline(args) -> int:
    from ..api import expressions
    from ..core.jobs import run_sync

    text = expressions.read_timeline_file(args.file) if args.file else args.timeline
    out = _out(args)
    with common.editing(args.character, out):
        obj = _open(args)
        result = run_sync(expressions.timeline_job(obj, text, fps=args.fps, start_frame=args.start_frame,
                                                   life=not args.no_life, replace=args.replace, seed=args.seed,
                                                   transition=args.transition, keys=args.keys))
        saved = _save(out)
    print(f"action: {result['action']}  frames {result['frames'][0]}-{result['frames'][1]}  "
          f"{result['keys']} keys ({result['interpolation'].lower()})  "
          f"steps: {' -> '.join(result['steps'])}")
    print(f"saved {saved}")
    return 0
