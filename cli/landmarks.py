"""``faceforge landmarks``: detect and bind landmarks on a mesh file."""

from __future__ import annotations

import os

from . import common
from ..core import params


def add_parser(sub):
    p = sub.add_parser("landmarks", help="detect MediaPipe landmarks on a face mesh and save a .blend")
    p.add_argument("--mesh", required=True, help="face mesh file (obj/ply/stl/fbx/glb)")
    p.add_argument("--out", required=True, help="output .blend")
    params.argument(p, "--resolution", "landmarks.resolution", "render size in pixels")
    p.add_argument("--asymmetric", action="store_true",
                   help="keep the landmarks as detected on a mirror-symmetric mesh (default: make them symmetric)")
    p.set_defaults(func=run)
    add_photo_parser(sub)


def run(args) -> int:
    from ..api import landmarks, scene

    out = common.output(args.out, ext=".blend")
    scene.clear_scene()
    obj = scene.import_mesh(args.mesh, name=os.path.splitext(os.path.basename(args.mesh))[0])
    result = landmarks.detect_landmarks(obj, resolution=args.resolution, symmetric=not args.asymmetric)
    for note in result.get("notes", ()):
        print(note)
    scene.save_blend(out)
    mirrored = ", made symmetric" if result["symmetric"] else ""
    print(f"{result['landmarks']} landmarks (face looking {result['view']}, score {result['score']:.2f}{mirrored}) "
          f"-> {out}")
    return 0


def add_photo_parser(sub):
    p = sub.add_parser("face-from-photo", help="build a whole textured head from one photo (neutral face, the 52 "
                       "ARKit keys, landmarks bound, the photo's expression as an Action) and save a .blend")
    p.add_argument("--image", required=True, help="a photo of a face (jpg/png)")
    p.add_argument("--out", required=True, help="output .blend")
    p.set_defaults(func=run_photo)


def run_photo(args) -> int:
    from ..api import photo_face, scene

    out = common.output(args.out, ext=".blend")
    scene.clear_scene()
    result = photo_face.face_from_photo(args.image)
    scene.save_blend(out)
    if result["note"]:
        print(result["note"])
    print(f"{result['object']}: a head of {result['vertices']} vertices with {result['shape_keys']} ARKit keys, "
          f"the photo's expression in the Action '{result['action']}' (face turned {result['turn_deg']:g} deg, "
          f"fit residual {result['residual_iod']:.3f} IOD, {result['seconds']:.1f} s) -> {out}")
    return 0
