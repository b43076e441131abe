"""Animate from words: text-model load time, prompt -> posed character latency, timeline bake.

Goal (issue #8): <= 50 ms from prompt to posed character once the model is loaded.
The character is the ICT head (26,719 vertices) with 52 ARKit shape keys, and
"posed" means the evaluated mesh (depsgraph) has the new shape.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, load, peak_rss_mb, timed  # noqa: E402

PROMPTS = ["a delighted surprise", "slightly sad but not frowning", "furious", "a person smiling with eyes widened",
           "not smiling", "very scared, mouth open", "grossed out", "70% happy + 30% surprised"]


def character():
    import bpy
    import numpy as np

    from faceforge.api import mesh, scene
    from faceforge.core.arkit import ARKIT_NAMES

    obj = scene.import_mesh(os.path.join(DATA, "mesh/ict_neutral/generic_neutral_mesh.obj"), name="Face")
    base = mesh.mesh_arrays(obj).verts
    rng = np.random.default_rng(0)
    for name in ARKIT_NAMES:
        mesh.set_shape_key(obj, name, base + rng.normal(0, 0.01, base.shape))
    bpy.context.view_layer.objects.active = obj
    return obj


def main():
    results = {}
    load()
    import bpy

    from faceforge.animation import text_expression
    from faceforge.api import expressions
    from faceforge.core.jobs import run_sync
    from faceforge.inference import text_embed

    with timed("text model load (onnxruntime session + vocab)", results):
        emb = text_embed.TextEmbedder()
    with timed("expression library embedding (first prompt only)", results):
        text_expression.library_embeddings(emb)
    text_embed._shared = emb
    obj = character()
    print(f"character: {len(obj.data.vertices)} vertices, {len(obj.data.shape_keys.key_blocks) - 1} shape keys")
    depsgraph = bpy.context.evaluated_depsgraph_get()

    def posed(prompt):
        expressions.pose_from_text(obj, prompt, embedder=emb)
        depsgraph.update()
        obj.evaluated_get(depsgraph).data.vertices[0].co  # noqa: B018  (force evaluation)

    posed("warm up")
    lat, interp = [], []
    for _ in range(5):
        for p in PROMPTS:
            t0 = time.perf_counter()
            text_expression.interpret(p, embedder=emb)
            interp.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            posed(p)
            lat.append(time.perf_counter() - t0)
    lat_ms = sorted(x * 1000 for x in lat)
    print(f"prompt -> weights (text model + library): median {statistics.median(interp) * 1000:.1f} ms, "
          f"max {max(interp) * 1000:.1f} ms")
    print(f"prompt -> posed character (weights + shape keys + depsgraph): median {statistics.median(lat_ms):.1f} ms, "
          f"p95 {lat_ms[int(0.95 * len(lat_ms)) - 1]:.1f} ms, max {lat_ms[-1]:.1f} ms  (goal <= 50 ms)")
    t0 = time.perf_counter()
    for _ in range(20):
        expressions.pose_emotion(obj, "surprise", 0.8, blend_with="happiness", blend=0.3)
    print(f"emotion preset -> shape keys: {(time.perf_counter() - t0) / 20 * 1000:.2f} ms")
    text = ("neutral 0.5 s -> happy 2 s -> a delighted surprise 1 s -> slightly sad 3 s -> furious 2 s -> "
            "neutral 20 s")
    with timed("bake a 28.5 s timeline at 24 fps with life (52 curves)", results):
        result = run_sync(expressions.timeline_job(obj, text, fps=24, life=True), on_progress=None)
    print(f"  frames {result['frames']}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
