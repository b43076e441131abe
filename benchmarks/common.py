"""Shared benchmark helpers: load FaceForge over the bpy module, timers, memory."""

import os
import resource
import sys
import time
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def load():
    """Import and register FaceForge; returns the package."""
    import launch

    ff = launch.load_package()
    ff.register()
    return ff


@contextmanager
def timed(label: str, results: dict | None = None):
    t0 = time.perf_counter()
    yield
    dt = time.perf_counter() - t0
    print(f"{label}: {dt:.3f} s", flush=True)
    if results is not None:
        results[label] = dt


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ict_head(levels: int = 0):
    """The ICT head imported into an empty scene, subdivided ``levels`` times (2: 422,121
    vertices)."""
    import bpy

    from faceforge.api import scene

    scene.clear_scene()
    obj = scene.import_mesh(os.path.join(DATA, "mesh/ict_neutral/generic_neutral_mesh.obj"), name="ICT")
    if levels:
        mod = obj.modifiers.new("sub", "SUBSURF")
        mod.levels = levels
        with bpy.context.temp_override(object=obj, active_object=obj):
            bpy.ops.object.modifier_apply(modifier=mod.name)
    return obj
