"""Face armature + automatic weights: time on the ICT head and on a >= 250k-vertex copy.

Run: ``.venv/bin/python benchmarks/bench_armature.py``.  Landmarks are detected
once on the ICT head; the dense copy is the same head subdivided (Subdivision
Surface, level 2, applied) so its landmarks are re-bound by position.  Prints
the total ``generate_armature`` time and the pure solve (parts + bones +
weights) time, vertex counts, and peak memory.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, load, peak_rss_mb, timed  # noqa: E402


def main():
    load()
    import bpy
    import numpy as np
    from scipy.spatial import cKDTree

    from faceforge.api import armature, binding, landmarks, mesh, scene
    from faceforge.rigging import weights

    results = {}
    scene.clear_scene()
    obj = scene.import_mesh(os.path.join(DATA, "mesh/ict_neutral/generic_neutral_mesh.obj"), name="ICT")
    with timed("detect landmarks (ICT, once)", results):
        landmarks.detect_landmarks(obj)
    quiet = dict(on_progress=lambda p: None)
    for label, o in (("ICT", obj),):
        n = len(o.data.vertices)
        with timed(f"generate_armature {label} ({n} vertices), first run", results):
            armature.generate_armature(o, **quiet)
        with timed(f"generate_armature {label} ({n} vertices), re-run", results):
            armature.generate_armature(o, **quiet)
    a = mesh.mesh_arrays(obj, world=True)
    lm = binding.landmark_positions(obj, world=True)
    t = time.perf_counter()
    weights.plan_rig(a.verts, a.tris, lm)
    print(f"  pure plan_rig ICT: {time.perf_counter() - t:.3f} s")

    # Dense copy: subdivide twice (about 16x the faces), re-bind the landmarks by position.
    armature.remove_rig([obj])
    dense = obj.copy()
    dense.data = obj.data.copy()
    dense.name = "ICT_dense"
    bpy.context.scene.collection.objects.link(dense)
    mod = dense.modifiers.new("sub", "SUBSURF")
    mod.levels = 2
    mod.subdivision_type = "SIMPLE"
    with bpy.context.temp_override(object=dense, active_object=dense):
        bpy.ops.object.modifier_apply(modifier="sub")
    verts = mesh.vertex_coords(dense.data, dense.matrix_world)
    _, near = cKDTree(verts).query(lm)
    n = len(near)
    binding.write_binding(dense, binding.Binding(np.stack([near] * 3, 1).astype(np.int32), np.full((n, 3), 1 / 3),
                                                 np.ones(n)), "DETECTED")
    nd = len(dense.data.vertices)
    assert nd >= 250_000, nd
    with timed(f"generate_armature dense ({nd} vertices)", results):
        r = armature.generate_armature(dense, **quiet)
    print(f"  dense: eyes from {r['eyes']}, parts {r['parts']}")
    ad = mesh.mesh_arrays(dense, world=True)
    t = time.perf_counter()
    weights.plan_rig(ad.verts, ad.tris, lm)
    print(f"  pure plan_rig dense: {time.perf_counter() - t:.3f} s")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    return results


if __name__ == "__main__":
    main()
