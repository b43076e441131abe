"""``faceforge armature``: face armature + automatic weights on a mesh file or a .blend."""

from __future__ import annotations

import os


def add_parser(sub):
    p = sub.add_parser("armature", help="build a face armature with automatic skin weights and save a .blend")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mesh", help="face mesh file (obj/ply/stl/fbx/glb); landmarks are detected first")
    src.add_argument("--character", help=".blend holding the face mesh (with landmarks, or they are detected)")
    p.add_argument("--object", default="", help="face object name in --character (default: the mesh with landmarks)")
    p.add_argument("--extra", action="append", default=[], help="more objects to skin (eyes...), by name")
    p.add_argument("--mode", choices=("BONES", "SHAPE_KEYS"), default="BONES",
                   help="jaw/eyes animate by bone (driven by jawOpen/eyeLook* keys) or by shape key")
    p.add_argument("--out", required=True, help="output .blend")
    p.set_defaults(func=run)


def run(args) -> int:
    import bpy

    from ..api import armature, binding, landmarks, scene
    from ..core.errors import FaceForgeError

    if args.mesh:
        scene.clear_scene()
        obj = scene.import_mesh(args.mesh, name=os.path.splitext(os.path.basename(args.mesh))[0])
    else:
        path = scene.open_blend(args.character)
        if args.object:
            obj = bpy.data.objects.get(args.object)
            if obj is None:
                raise FaceForgeError(f"No object '{args.object}' in {os.path.basename(path)}")
        else:
            meshes = [o for o in bpy.data.objects if o.type == "MESH"]
            obj = next((o for o in meshes if binding.has_binding(o)), meshes[0] if meshes else None)
            if obj is None:
                raise FaceForgeError(f"{os.path.basename(path)} has no mesh object")
    if not binding.has_binding(obj):
        landmarks.detect_landmarks(obj)
    extra = []
    for name in args.extra:
        o = bpy.data.objects.get(name)
        if o is None:
            raise FaceForgeError(f"No object '{name}' to skin")
        extra.append(o)
    result = armature.generate_armature([obj, *extra], mode=args.mode)
    scene.save_blend(args.out)
    print(f"{result['armature']}: {len(result['bones'])} bones ({', '.join(result['bones'])}), "
          f"eyes from {result['eyes']} -> {os.path.abspath(args.out)}")
    for note in result["notes"]:
        print(note)
    return 0
