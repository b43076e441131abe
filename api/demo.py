"""The main job, end to end, on a built-in default.

photo (scikit-image's astronaut, a real photo) -> a whole textured head with
its landmarks bound and the 52 ARKit shape keys of the face model
(``api.photo_face``) -> a text timeline ("neutral -> a delighted surprise ->
...") -> FBX + glb + preview MP4 + face.blend.  With ``mesh_path`` the mesh's
landmarks are detected and its 52 keys generated (``api.shape_keys``) instead.
"""

from __future__ import annotations

import os

from ..core.jobs import Progress, scaled
from . import scene

DEMO_TIMELINE = "neutral 0.5 s -> happy 1 s -> a delighted surprise 1 s -> sad 0.8 s -> neutral 0.5 s"


def default_photo(out_dir: str) -> str:
    """Write the built-in default photo (scikit-image's astronaut) and return its path."""
    import cv2
    from skimage import data

    path = os.path.join(out_dir, "astronaut.png")
    cv2.imwrite(path, cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def demo_job(out_dir: str, mesh_path: str | None = None, photo_path: str | None = None,
             timeline: str = DEMO_TIMELINE, preview: bool = True):
    """The whole pipeline; returns a dict of what was written."""
    from . import landmarks, photo_face

    os.makedirs(out_dir, exist_ok=True)
    yield Progress(0.0, "setting up the scene")
    scene.clear_scene()
    written = {}
    if mesh_path:
        import bpy

        obj = scene.import_mesh(mesh_path, name="Face")
        yield from scaled(landmarks.detect_landmarks_job(obj), 0.02, 0.25)
        bpy.context.view_layer.objects.active = obj
    else:
        photo = photo_path or default_photo(out_dir)
        written["photo"] = photo
        res = yield from scaled(photo_face.face_from_photo_job(photo, name="Face"), 0.02, 0.25)
        import bpy

        obj = bpy.data.objects[res["object"]]
        written["photo_pose"] = res["action"]
        if res["note"]:
            written["note"] = res["note"]
    written["object"] = obj.name
    written["vertices"] = len(obj.data.vertices)
    from . import batch, expressions, shape_keys
    from .character import arkit_keys

    if not arkit_keys(obj):  # a head from the photo has the face model's own 52 keys already
        yield Progress(0.25, "generating the 52 ARKit shape keys")
        yield from scaled(shape_keys.generate_shape_keys_job(obj), 0.25, 0.5)
    written["shape_keys"] = len(arkit_keys(obj))
    yield Progress(0.5, "baking the text timeline")
    yield from scaled(expressions.timeline_job(obj, timeline), 0.5, 0.6)
    res = yield from scaled(batch.deliver_job(obj, out_dir, "face", formats=("fbx", "glb"), preview=preview),
                            0.6, 0.95)
    for fmt, paths in res["outputs"].items():
        written[fmt] = ", ".join(paths)
    yield Progress(0.95, "saving")
    written["blend"] = scene.save_blend(os.path.join(out_dir, "face.blend"))
    yield Progress(1.0, "done")
    return written
