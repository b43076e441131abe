"""``faceforge rig``: landmarks (if needed) + the 52 ARKit shape keys, optional contact sheet."""

from __future__ import annotations

from . import OBJECT_HELP
from . import common
from ..core import params


def add_parser(sub):
    p = sub.add_parser("rig", help="generate the ARKit shape keys on a face mesh and save a .blend")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mesh", help="face mesh file (obj/ply/stl/fbx/glb): landmarks are detected first")
    src.add_argument("--character", help="a .blend with the face mesh (use --object to pick it)")
    p.add_argument("--object", help=OBJECT_HELP)
    p.add_argument("--out", required=True, help="output .blend")
    params.argument(p, "--intensity", "rig.intensity")
    p.add_argument("--source", choices=("auto", "scan", "procedural"), default="auto",
                   help="scan: the scan-based face model fitted and its shapes transferred (realistic faces); "
                        "procedural: FaceForge's shape library (stylised faces); auto (default): scan-based where "
                        "the face model fits the mesh, and it says which and why")
    p.add_argument("--replace", action="store_true",
                   help="regenerate the ARKit keys FaceForge made before (keys you made are always kept)")
    p.add_argument("--contact-sheet", help="also write a PNG grid of every shape")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import binding, contact_sheet, landmarks, scene, shape_keys
    from ..api.character import load_character

    out = common.output(args.out, ext=".blend")
    sheet = common.output(args.contact_sheet, "--contact-sheet", ext=".png") if args.contact_sheet else None
    with common.editing(args.character, out):
        obj = load_character(mesh=args.mesh, blend=args.character, name=args.object)
        if not binding.has_binding(obj):
            for note in landmarks.detect_landmarks(obj).get("notes", ()):
                print(note)
        result = shape_keys.generate_shape_keys(obj, intensity=args.intensity, replace=args.replace,
                                                source=args.source)
        for note in result["notes"]:
            print(note)
        if sheet:
            contact_sheet.contact_sheet(obj, sheet)
        scene.save_blend(out)
    print(f"{len(result['generated'])} ARKit shape keys on '{obj.name}' -> {out}")
    return 0
