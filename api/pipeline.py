"""The main job, end to end, on a built-in default."""

from __future__ import annotations

import os

import bpy

from ..core.jobs import Progress
from . import scene


def demo_job(out_dir: str, mesh_path: str | None = None):
    """Build (or load) a face and write ``face.blend`` into ``out_dir``.

    Returns a dict of what was written.  Grows with each stage: photo -> face
    -> landmarks -> shape keys -> animation -> exports.
    """
    os.makedirs(out_dir, exist_ok=True)
    yield Progress(0.0, "setting up the scene")
    scene.clear_scene()
    if mesh_path:
        obj = scene.import_mesh(mesh_path, name="Face")
    else:
        bpy.ops.mesh.primitive_uv_sphere_add(segments=48, ring_count=24, radius=0.1)
        obj = bpy.context.active_object
        obj.name = "Face"
    yield Progress(0.9, "saving")
    blend = scene.save_blend(os.path.join(out_dir, "face.blend"))
    yield Progress(1.0, "done")
    return {"object": obj.name, "vertices": len(obj.data.vertices), "blend": blend}
