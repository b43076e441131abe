"""``faceforge rig``: generate the 52 ARKit shape keys on a mesh, save a .blend, optionally a contact sheet."""

from __future__ import annotations

import os


def add_parser(sub):
    p = sub.add_parser("rig", help="generate the 52 ARKit shape keys on a face mesh")
    p.add_argument("--mesh", required=True, help="face mesh (obj/ply/fbx/glb) or a .blend with one face mesh")
    p.add_argument("--out", required=True, help="output .blend")
    p.add_argument("--contact-sheet", help="also render all shapes into this PNG")
    p.add_argument("--intensity", type=float, default=1.0, help="scale of every shape (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import binding, scene, shape_keys
    from ..core.errors import FaceForgeError
    from ..core.jobs import run_sync

    scene.clear_scene()
    obj = scene.import_mesh(args.mesh, name="Face")
    if not binding.has_binding(obj):
        try:
            from ..api import landmarks  # arrives with the landmarks stage
        except ImportError as exc:
            raise FaceForgeError("This mesh has no landmarks and landmark detection is not available "
                                 "in this build") from exc
        run_sync(landmarks.detect_landmarks(obj)) if callable(getattr(landmarks, "detect_landmarks", None)) else None
    result = run_sync(shape_keys.generate_shape_keys_job(obj, intensity=args.intensity, replace=True))
    print(f"keys: {len(result['keys'])}")
    for note in result["notes"]:
        print(f"note: {note}")
    if args.contact_sheet:
        sheet = run_sync(shape_keys.contact_sheet_job(obj, os.path.abspath(args.contact_sheet)))
        print(f"contact sheet: {sheet['path']}")
    print(f"blend: {scene.save_blend(args.out)}")
    return 0
