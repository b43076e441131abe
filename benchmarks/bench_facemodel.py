"""The face model (issue #17): file size and load time, fitting speed, rendered round trip.

Prints:
* the model file's size, and its load time (cold: decompress + expand; then cached);
* ``fit_expression`` per frame with the identity known: a 300-frame synthetic video
  (``previous`` given) and single frames (no previous), 3D points and image-like points;
* ``fit_identity``: one frame and five frames;
* the rendered round trip: random heads, each in 5 renders (neutral + random sparse
  expressions; Workbench, MediaPipe, fit with the render's camera): weight MAE over the
  shapes a camera can see (and what answering all zeros would score), over the shapes
  that were on, recall; identity from the 5 frames, from one frame, or known; and a
  contact sheet with the fitted head rendered beside a few renders
  (``out/bench_facemodel/contact_sheet.png``).
"""

import os
import sys
import time

import numpy as np

from common import ROOT, load

sys.path.insert(0, os.path.join(ROOT, "tests"))
HEADS = 10
FRAMES = 5


def synthetic_video(model, rng, frames=300):
    from faceforge.core.arkit import INDEX

    a = model.random_identity(rng)
    t = np.arange(frames) / 30.0
    w = np.zeros((frames, 52))
    w[:, INDEX["jawOpen"]] = np.clip(np.sin(t * 3), 0, 1) * 0.7
    w[:, INDEX["mouthSmileLeft"]] = w[:, INDEX["mouthSmileRight"]] = np.clip(np.sin(t * 1.3 + 1), 0, 1)
    w[:, INDEX["eyeBlinkLeft"]] = w[:, INDEX["eyeBlinkRight"]] = np.clip(np.sin(t * 5), 0, 1) ** 6
    w[:, INDEX["browInnerUp"]] = np.clip(np.cos(t * 1.5), 0, 1) * 0.6
    lm = np.array([model.landmarks(model.evaluate(a, x)) for x in w]) + rng.normal(0, 0.001, (frames, 478, 3))
    return a, w, lm * 1000.0  # millimetres: any units


def main():
    ff = load()
    from facemodel_roundtrip import render_head, scores, sequence, visible_shapes

    from faceforge.facemodel import MODEL_PATH, fit_expression, fit_identity, load_model
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.model import _load_cached, rot_x
    from faceforge.inference.face_mesh import FaceMeshDetector

    size = os.path.getsize(MODEL_PATH) / 1e6
    t0 = time.perf_counter()
    _load_cached.cache_clear()
    model = load_model()
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_model()
    warm = time.perf_counter() - t0
    print(f"model file {MODEL_PATH.name}: {size:.2f} MB; load {cold:.3f} s cold, {warm * 1e6:.0f} us cached")
    info = model.info
    print(f"conversion error: expressions max {info['conversion_error']['expression_max_mm']:.4f} mm, "
          f"identities max {info['conversion_error']['identity_max_mm']:.4f} mm")

    rng = np.random.default_rng(0)
    a, truth, lm = synthetic_video(model, rng)
    fit_expression(model, lm[0], identity=a, detector=False)  # prepare this head once
    for label, obs, dw in (("3D points", lm, 1.0), ("image-like", lm @ rot_x(np.pi).T, IMAGE_DEPTH_WEIGHT)):
        prev, times, out = None, [], []
        for y in obs:
            t0 = time.perf_counter()
            prev = fit_expression(model, y, identity=a, previous=prev, depth_weight=dw, detector=False)
            times.append(time.perf_counter() - t0)
            out.append(prev.expression)
        single = []
        for y in obs[::30]:
            t0 = time.perf_counter()
            fit_expression(model, y, identity=a, depth_weight=dw, detector=False)
            single.append(time.perf_counter() - t0)
        print(f"fit_expression ({label}): video {1000 * np.mean(times):.2f} ms/frame (median "
              f"{1000 * np.median(times):.2f}), single frame {1000 * np.mean(single):.1f} ms; "
              f"weight MAE {np.abs(np.array(out) - truth).mean():.4f} at 1 mm landmark noise")
    for frames in (1, 5):
        t0 = time.perf_counter()
        fit_identity(model, lm[::60][:frames], detector=False)
        print(f"fit_identity, {frames} frame(s): {time.perf_counter() - t0:.3f} s")

    vis = visible_shapes(model)
    vis_mp = visible_shapes(model, detector=True)
    print(f"rendered round trip: {HEADS} random heads x {FRAMES} renders (neutral + random sparse expressions, "
          f"turned up to 12 deg), {len(vis)} visible shapes")
    import bpy  # noqa: F401

    from faceforge.api import scene

    scene.clear_scene()
    rng = np.random.default_rng(1)
    runs, rows = [], []
    with FaceMeshDetector(video=False, max_faces=1, min_confidence=0.3) as det:
        t0 = time.perf_counter()
        for h in range(HEADS):
            r = sequence(model, det, rng, frames=FRAMES)
            if r is None:
                print(f"  head {h}: MediaPipe missed a frame")
                continue
            runs.append(r)
            for f in range(len(r["truth"])):
                if len(rows) < 4 and f == 0:
                    fitted, _, _ = render_head(model, r["fitted_identity"], r["joint"][f])
                    rows.append(np.hstack([r["images"][f], fitted]))
        dt = time.perf_counter() - t0
    for key, label in (("joint", "identity from the head's 5 frames (video)"), ("single", "identity from one frame"),
                       ("known", "identity known")):
        truth, got = np.concatenate([r["truth"] for r in runs]), np.concatenate([r[key] for r in runs])
        sc, sd = scores(truth, got, vis), scores(truth, got, vis_mp)
        print(f"  {label}: weight MAE over the {len(vis)} visible shapes {sc['visible']:.3f} (all zeros would score "
              f"{sc['zero']:.3f}), over the {len(vis_mp)} MediaPipe sees {sd['visible']:.3f} ({sd['zero']:.3f}); "
              f"over the shapes that were on {sc['active']:.3f}, recall {sc['recall']:.2f}, "
              f"mean false weight {sc['false_on']:.3f}")
    print(f"  {dt / max(len(runs), 1):.1f} s per head ({FRAMES} renders, detections and three fits)")
    if rows:
        import cv2

        out = os.path.join(ROOT, "out", "bench_facemodel")
        os.makedirs(out, exist_ok=True)
        sheet = np.vstack([cv2.resize(r, (r.shape[1] // 2, r.shape[0] // 2)) for r in rows])
        cv2.imwrite(os.path.join(out, "contact_sheet.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        print(f"  contact sheet (render | fitted head, frontal): {os.path.join(out, 'contact_sheet.png')}")
    ff.unregister()


if __name__ == "__main__":
    sys.exit(main())
