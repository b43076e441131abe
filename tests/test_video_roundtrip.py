"""Rendered round trips with known answers: the face model performs, FaceForge tracks and solves.

Random heads (identity ~ N(0, 1)) perform natural sequences (blinks, winks, smiles, an "O",
surprise, talking... ``scripts/solve_training.py``) while the head moves, rendered in Workbench
under random lighting and tracked by FaceForge's tracker; the takes are other seeds than the
ones the correction was learned from.  The weight error is counted over the shapes a camera sees
(``train_solve_correction.visible_shapes``), printed beside what answering all zeros would score
and the recall of the shapes that were on.  One take goes through the whole job: encoded to H.264,
``animate_from_video_job`` onto a face-model head with the 52 keys, the baked curves read back.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import bpy

FPS = 25


def _takes(model, seeds, frames=50):
    from solve_training import make_take

    from faceforge.inference.face_mesh import FaceMeshDetector

    out = []
    for seed in seeds:
        with FaceMeshDetector(video=True, max_faces=1) as det:
            out.append(make_take(model, np.random.default_rng([7, seed]), frames=frames, detector=det))
    return out


@pytest.mark.slow
def test_rendered_takes_weight_error_and_a_wink_closes_one_eye(ff):
    from train_solve_correction import per_shape, scores, visible_shapes

    from faceforge.animation import solve
    from faceforge.core.arkit import INDEX
    from faceforge.facemodel import load_model

    model = load_model()
    takes = _takes(model, range(4))
    got, truth = [], []
    for tk in takes:
        pts = tk["points"]
        size = tuple(int(v) for v in tk["size"])
        trk = solve.Track(np.arange(len(pts)) / FPS, np.arange(len(pts)), pts, size, FPS, "render")
        assert trk.found.all()
        take = solve.solve_take(trk)
        got.append(take.weights)
        truth.append(tk["weights"])
    got, truth = np.concatenate(got), np.concatenate(truth)
    s = scores(got, truth, visible_shapes(model))
    print("rendered round trip:", {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()})
    print("per shape (recall, false weight, frames on):",
          {n: (round(r, 2), round(f, 3), c) for n, (r, f, c) in per_shape(got, truth).items() if c})
    assert s["mae"] <= 0.05
    assert s["mae"] < s["zeros"] + 0.01  # no worse than answering zeros on these sparse takes...
    assert s["recall"] > 0.3  # ...while the shapes that were on come back
    # a wink: the left eye closes, the right one stays open
    from solve_training import render_take

    w = np.zeros((24, 52))
    w[10:15, INDEX["eyeBlinkLeft"]] = [0.5, 1.0, 1.0, 1.0, 0.5]
    look = {"studio_light": "Default", "rotate_z": 0.3, "shadows": False, "cavity": False,
            "skin": [0.7, 0.5, 0.4], "brows": [0.12, 0.08, 0.06], "lips": [0.58, 0.38, 0.3],
            "background": [0.3] * 3, "lens_mm": 50.0, "zoom": 1.3, "resolution": 512, "noise": 2.0, "blur": 0.0,
            "seed": 1}
    angles = np.tile([8.0, 3.0, 0.0], (24, 1))
    tk = render_take(model, model.random_identity(np.random.default_rng(77)), w, angles, look)
    trk = solve.Track(np.arange(24) / FPS, np.arange(24), tk["points"], (512, 512), FPS, "wink")
    take = solve.solve_take(trk)
    left, right = take.weights[11:14, INDEX["eyeBlinkLeft"]], take.weights[11:14, INDEX["eyeBlinkRight"]]
    print("wink: left", left.round(2), "right", right.round(2))
    assert left.min() > 0.6 and right.max() < 0.2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is needed to encode the renders")
def test_whole_job_on_an_encoded_take_drives_a_face_model_character(ff, tmp_path, request):
    """Renders -> H.264 -> animate_from_video_job -> a face-model head with the 52 ARKit keys."""
    import cv2

    from solve_training import render_take

    from faceforge.api import actions, animate_video
    from faceforge.api.facemodel import build_face_object
    from faceforge.core.arkit import ARKIT_NAMES, INDEX
    from faceforge.core.jobs import run_sync
    from faceforge.facemodel import load_model

    model = load_model()
    f = 40
    w = np.zeros((f, 52))
    t = np.arange(f)
    w[:, INDEX["jawOpen"]] = 0.5 * np.clip(1 - np.abs(t - 12) / 6, 0, 1)
    w[:, INDEX["mouthSmileLeft"]] = w[:, INDEX["mouthSmileRight"]] = 0.8 * np.clip(1 - np.abs(t - 28) / 6, 0, 1)
    w[18:21, INDEX["eyeBlinkLeft"]] = w[18:21, INDEX["eyeBlinkRight"]] = [0.6, 1.0, 0.6]
    look = {"studio_light": "studio.sl", "rotate_z": -0.4, "shadows": False, "cavity": False,
            "skin": [0.75, 0.55, 0.45], "brows": [0.12, 0.08, 0.06], "lips": [0.6, 0.4, 0.32],
            "background": [0.2] * 3, "lens_mm": 50.0, "zoom": 1.4, "resolution": 512, "noise": 2.0, "blur": 0.6,
            "seed": 2}
    angles = np.stack([6 * np.sin(t / 8.0), 2 * np.sin(t / 5.0), np.zeros(f)], axis=1)
    tk = render_take(model, model.random_identity(np.random.default_rng(78)), w, angles, look, keep_images=f)
    for i, img in enumerate(tk["images"]):
        cv2.imwrite(str(tmp_path / f"f{i:04d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    clip = tmp_path / "take.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-framerate", str(FPS), "-i", str(tmp_path / "f%04d.png"),
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", str(clip)],
                   check=True)
    character = build_face_object(model.random_identity(np.random.default_rng(79)), name="Character",
                                  shape_keys=True, model=model)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    request.addfinalizer(lambda: setattr(scene.render, "fps", 24))
    res = run_sync(animate_video.animate_from_video_job(character, str(clip), start_frame=1, add_reference=False),
                   on_progress=None)
    assert res["bridged"] == 0 and res["frames"] == f and res["shape_keys"] == 52
    got = actions.sample_shape_key_curves(character, list(ARKIT_NAMES), 1 + np.arange(f))
    for name in ("jawOpen", "mouthSmileLeft", "eyeBlinkLeft"):
        k = INDEX[name]
        r = np.corrcoef(got[:, k], w[:, k])[0, 1]
        print(name, "r", round(r, 3), "peak", round(float(got[:, k].max()), 2), "truth", round(float(w[:, k].max()), 2))
        assert r > 0.85
    assert (got >= 0.99).mean() < 0.02
