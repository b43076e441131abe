"""Time and peak memory to generate all 52 ARKit keys: the ICT head and a >= 250k-vertex mesh.

Targets here: ICT <= 5 s, 250k vertices <= 30 s.  Prints figures; run with
``.venv/bin/python benchmarks/bench_shape_keys.py``.
"""

import os
import sys
from pathlib import Path

from common import DATA, load, peak_rss_mb, timed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main():
    load()
    import bpy

    import rig_fixtures as RF
    from faceforge.api import binding, scene, shape_keys
    from faceforge.core.jobs import run_sync
    from faceforge.rigging import transfer as T

    results = {}
    obj = RF.import_ict(Path(DATA))
    with timed("ICT head (26,719 verts): 52 keys, end to end", results):
        run_sync(shape_keys.generate_shape_keys_job(obj), on_progress=None)
    print(f"peak RSS so far: {peak_rss_mb():.0f} MB")

    # A dense head: the ICT subdivided (Catmull-Clark, applied) to >= 250k vertices.
    scene.clear_scene()
    obj = RF.import_ict(Path(DATA), with_landmarks=False)
    mod = obj.modifiers.new("sub", "SUBSURF")
    mod.levels = 2
    mod.subdivision_type = "SIMPLE"
    with bpy.context.temp_override(object=obj, active_object=obj):
        bpy.ops.object.modifier_apply(modifier=mod.name)
    n = len(obj.data.vertices)
    # re-bind the landmarks by closest point (the fit on the original head)
    ref = RF.import_ict(Path(DATA))
    from faceforge.api import mesh

    lm = binding.landmark_positions(ref)
    arr = mesh.mesh_arrays(obj)
    sp = T.closest_points(arr.verts, arr.tris, lm)
    binding.write_binding(obj, binding.Binding(sp.verts.astype("int32"), sp.bary, lm[:, 0] * 0 + 1), "MANUAL")
    bpy.data.objects.remove(ref)
    with timed(f"dense head ({n:,} verts): 52 keys, end to end", results):
        run_sync(shape_keys.generate_shape_keys_job(obj), on_progress=None)
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
