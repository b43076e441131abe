"""Time (and peak memory) to generate the procedural ARKit shape keys on the ICT head and on a
>= 250k-vertex subdivided copy (landmark detection excluded, timed separately)."""

import sys
import time
import tracemalloc

from common import ict_head, load, peak_rss_mb


def main():
    ff = load()
    from faceforge.api import landmarks, mesh, shape_keys
    from faceforge.api.binding import landmark_positions
    from faceforge.rigging import deform

    for levels in (0, 2):
        obj = ict_head(levels)
        n = len(obj.data.vertices)
        landmarks.detect_landmarks(obj)
        arr = mesh.mesh_arrays(obj)
        lm = landmark_positions(obj)
        tracemalloc.start()
        t0 = time.perf_counter()
        deform.generate(arr.verts, arr.tris, lm)
        pure = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        t0 = time.perf_counter()
        made = shape_keys.generate_shape_keys(obj, source="procedural")["generated"]
        print(f"generate + write {len(made)} shape keys, {n:,} vertices: {time.perf_counter() - t0:.3f} s")
        print(f"  of which the pure library on every vertex: {pure:.2f} s, numpy peak {peak / 2**20:.0f} MB")
    print(f"process peak RSS {peak_rss_mb():.0f} MB")
    ff.unregister()


if __name__ == "__main__":
    sys.exit(main())
