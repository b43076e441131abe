"""``faceforge armature``: face armature + automatic weights on a mesh file or a .blend."""

from __future__ import annotations

from . import OBJECT_HELP
from . import common



def add_parser(sub):
    p = sub.add_parser("armature", help="build a face armature with automatic skin weights and save a .blend")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mesh", help="face mesh file (obj/ply/stl/fbx/glb); landmarks are detected first")
    src.add_argument("--character", help=".blend holding the face mesh (with landmarks, or they are detected)")
    p.add_argument("--object", help=OBJECT_HELP)
    p.add_argument("--extra", action="append", default=[], help="more objects to skin (eyes...), by name")
    p.add_argument("--mode", choices=("BONES", "SHAPE_KEYS"), default="BONES",
                   help="jaw/eyes animate by bone (driven by jawOpen/eyeLook* keys) or by shape key")
    p.add_argument("--out", required=True, help="output .blend")
    p.set_defaults(func=run)


def run(args) -> int:
    import bpy

    from ..api import armature, binding, landmarks, scene
    from ..api.character import load_character
    from ..core.errors import FaceForgeError

    out = common.output(args.out, ext=".blend")
    with common.editing(args.character, out):
        obj = load_character(mesh=args.mesh, blend=args.character, name=args.object)
        extra = []
        for name in args.extra:
            o = bpy.data.objects.get(name)
            if o is None:
                raise FaceForgeError(f"No object '{name}' to skin")
            extra.append(o)
        if not binding.has_binding(obj):
            landmarks.detect_landmarks(obj)
        result = armature.generate_armature([obj, *extra], mode=args.mode)
        scene.save_blend(out)
    print(f"{result['armature']}: {len(result['bones'])} bones ({', '.join(result['bones'])}), "
          f"eyes from {result['eyes']} -> {out}")
    for note in result["notes"]:
        print(note)
    return 0
