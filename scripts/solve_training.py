"""Training and test material for the video solve: rendered takes of the face model with known weights.

Build-time only (Blender through the ``bpy`` module).  Each *take* is one random head
(identity ~ N(0, 1)) performing a natural expression sequence (:func:`natural_sequence`:
blinks, winks, smiles, an "O", surprise, frowns, sneers, gaze, talking...) while the head
moves (:func:`head_motion`), rendered in Workbench under random lighting, skin and
background, lens and framing (:func:`render_take`), and tracked by FaceForge's own face
tracker in video mode, as the product does.  A take is saved as one ``.npz``: the tracked
points (F, 478, 3) (NaN: no face), the true weights (F, 52), head angles, camera, identity.

* ``python scripts/solve_training.py render --out DIR --takes N [--seed S]`` renders takes
  ``take_<seed>_<i>.npz`` (resumable: existing takes are kept).
* ``scripts/train_solve_correction.py`` fits the takes with the product's solve and learns
  the correction (``models/solve_correction.npz``).
* ``tests/test_video_roundtrip.py`` and ``benchmarks/bench_video.py`` render a few takes of
  their own with :func:`render_take`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FPS = 25.0

# --- what a face does -------------------------------------------------------------------------

# Poses: ARKit weights at full strength; each event scales them by 0.5..1 (per shape a little more).
POSES = {
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "wink_left": {"eyeBlinkLeft": 1.0, "cheekSquintLeft": 0.3, "mouthSmileLeft": 0.25},
    "wink_right": {"eyeBlinkRight": 1.0, "cheekSquintRight": 0.3, "mouthSmileRight": 0.25},
    "smile": {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8, "cheekSquintLeft": 0.3, "cheekSquintRight": 0.3,
              "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2},
    "broad_smile": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "cheekSquintLeft": 0.5,
                    "cheekSquintRight": 0.5, "jawOpen": 0.25, "mouthUpperUpLeft": 0.3, "mouthUpperUpRight": 0.3,
                    "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3},
    "half_smile_left": {"mouthSmileLeft": 0.8, "mouthDimpleLeft": 0.3, "cheekSquintLeft": 0.2},
    "half_smile_right": {"mouthSmileRight": 0.8, "mouthDimpleRight": 0.3, "cheekSquintRight": 0.2},
    "o": {"jawOpen": 0.45, "mouthFunnel": 0.9, "mouthPucker": 0.2},
    "pucker": {"mouthPucker": 0.9, "mouthFunnel": 0.1},
    "surprise": {"browInnerUp": 0.9, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8, "eyeWideLeft": 0.6,
                 "eyeWideRight": 0.6, "jawOpen": 0.35},
    "brows_up": {"browInnerUp": 0.8, "browOuterUpLeft": 0.7, "browOuterUpRight": 0.7},
    "worry": {"browInnerUp": 0.8, "mouthFrownLeft": 0.3, "mouthFrownRight": 0.3},
    "sad": {"mouthFrownLeft": 0.8, "mouthFrownRight": 0.8, "browInnerUp": 0.5, "mouthShrugLower": 0.3,
            "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1},
    "angry": {"browDownLeft": 0.9, "browDownRight": 0.9, "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4,
              "noseSneerLeft": 0.3, "noseSneerRight": 0.3, "mouthPressLeft": 0.4, "mouthPressRight": 0.4},
    "frown_brows": {"browDownLeft": 0.8, "browDownRight": 0.8},
    "disgust": {"noseSneerLeft": 0.8, "noseSneerRight": 0.8, "mouthUpperUpLeft": 0.6, "mouthUpperUpRight": 0.6,
                "cheekSquintLeft": 0.3, "cheekSquintRight": 0.3, "browDownLeft": 0.3, "browDownRight": 0.3},
    "squint": {"eyeSquintLeft": 0.8, "eyeSquintRight": 0.8, "cheekSquintLeft": 0.4, "cheekSquintRight": 0.4},
    "wide_eyes": {"eyeWideLeft": 0.9, "eyeWideRight": 0.9},
    "jaw_left": {"jawLeft": 0.6, "jawOpen": 0.1},
    "jaw_right": {"jawRight": 0.6, "jawOpen": 0.1},
    "mouth_left": {"mouthLeft": 0.8},
    "mouth_right": {"mouthRight": 0.8},
    "puff": {"cheekPuff": 0.9},
    "press": {"mouthPressLeft": 0.8, "mouthPressRight": 0.8, "mouthRollLower": 0.2},
    "roll": {"mouthRollLower": 0.8, "mouthRollUpper": 0.6},
    "shrug": {"mouthShrugLower": 0.8, "mouthShrugUpper": 0.4},
    "stretch": {"mouthStretchLeft": 0.8, "mouthStretchRight": 0.8, "jawOpen": 0.1},
    "jaw_forward": {"jawForward": 0.8},
    "look_up": {"eyeLookUpLeft": 0.8, "eyeLookUpRight": 0.8},
    "look_down": {"eyeLookDownLeft": 0.8, "eyeLookDownRight": 0.8},
    "look_left": {"eyeLookOutLeft": 0.8, "eyeLookInRight": 0.8},  # toward the subject's left
    "look_right": {"eyeLookInLeft": 0.8, "eyeLookOutRight": 0.8},
    "yell": {"jawOpen": 0.8, "mouthStretchLeft": 0.4, "mouthStretchRight": 0.4, "browDownLeft": 0.4,
             "browDownRight": 0.4, "mouthUpperUpLeft": 0.4, "mouthUpperUpRight": 0.4},
}
# Talking: visemes held 2-5 frames each.
VISEMES = (
    {"jawOpen": 0.35, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2},  # "ah"
    {"jawOpen": 0.2, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3},  # "ee"
    {"jawOpen": 0.25, "mouthFunnel": 0.6},  # "oh"
    {"jawOpen": 0.1, "mouthPucker": 0.7},  # "oo", "w"
    {"mouthClose": 0.1, "jawOpen": 0.1, "mouthPressLeft": 0.3, "mouthPressRight": 0.3},  # "m", "b", "p"
    {"jawOpen": 0.1, "mouthRollLower": 0.5, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2},  # "f", "v"
    {"jawOpen": 0.15, "mouthShrugUpper": 0.3},  # "s", "t"
    {"jawOpen": 0.3, "mouthUpperUpLeft": 0.15, "mouthUpperUpRight": 0.15},  # "eh"
    {},  # a pause
)


def _exclusive(w: np.ndarray) -> np.ndarray:
    """A face does not do opposites at once: the weaker of each antagonist pair goes; mouthClose <= jawOpen."""
    from faceforge.core.arkit import INDEX
    from faceforge.facemodel.fit import ANTAGONISTS

    for a, b in ANTAGONISTS:
        ia, ib = INDEX[a], INDEX[b]
        weaker = np.where(w[:, ia] >= w[:, ib], ib, ia)
        both = (w[:, ia] > 0) & (w[:, ib] > 0)
        w[np.flatnonzero(both), weaker[both]] = 0.0
    w[:, INDEX["mouthClose"]] = np.minimum(w[:, INDEX["mouthClose"]], w[:, INDEX["jawOpen"]])
    return w


def _envelope(frames: int, start: int, attack: int, hold: int, release: int) -> np.ndarray:
    t = np.arange(frames, dtype=np.float64)
    up = np.clip((t - start + 1) / max(attack, 1), 0, 1)
    down = np.clip(1 - (t - (start + attack + hold)) / max(release, 1), 0, 1)
    env = np.minimum(up, down)
    env = 0.5 - 0.5 * np.cos(np.pi * env)  # ease in and out
    env[t < start] = 0.0
    return env


def natural_sequence(rng: np.random.Generator, frames: int = 50, fps: float = FPS, calm_start: bool | None = None,
                     events: int | None = None) -> tuple[np.ndarray, list]:
    """A natural performance (F, 52) ARKit weights at ``fps``, and what happens: [(frame, event name)].

    Rest with blinks every 2-5 s; 2-5 events (expressions from :data:`POSES`, each with its own
    strength, onset, hold and release; some overlap); talking spells (visemes every 2-5 frames).
    ``calm_start``: the take starts at rest (default: 3 times in 4)."""
    from faceforge.core.arkit import INDEX

    w = np.zeros((frames, 52))
    log = []
    calm = rng.uniform() < 0.75 if calm_start is None else calm_start
    first = int(rng.integers(4, 9)) if calm else 0
    names = sorted(POSES)

    def add(pose: dict, env: np.ndarray, strength: float):
        for k, v in pose.items():
            jitter = float(np.clip(strength * v * rng.uniform(0.8, 1.2), 0, 1))
            w[:, INDEX[k]] = np.maximum(w[:, INDEX[k]], jitter * env)

    # blinks
    t = first + rng.integers(0, int(1.5 * fps))
    while t < frames - 2:
        add(POSES["blink"], _envelope(frames, int(t), 2, int(rng.integers(0, 2)), 3), rng.uniform(0.85, 1.0))
        log.append((int(t), "blink"))
        t += rng.uniform(2.0, 5.0) * fps
    # expressions
    n = int(rng.integers(2, 6)) if events is None else events
    for _ in range(n):
        if rng.uniform() < 0.3:  # talking
            start = int(rng.integers(first, max(first + 1, frames - 8)))
            end = min(frames, start + int(rng.integers(12, 40)))
            t = start
            while t < end:
                hold = int(rng.integers(2, 6))
                v = VISEMES[int(rng.integers(len(VISEMES)))]
                add(v, _envelope(frames, t, 2, hold - 1, 2), rng.uniform(0.5, 1.3))
                t += hold
            log.append((start, "talk"))
            continue
        name = names[int(rng.integers(len(names)))]
        start = int(rng.integers(first, max(first + 1, frames - 6)))
        attack, hold, release = int(rng.integers(2, 7)), int(rng.integers(2, 15)), int(rng.integers(3, 9))
        if name.startswith("wink"):
            attack, hold, release = 2, int(rng.integers(1, 5)), 3
        add(POSES[name], _envelope(frames, start, attack, hold, release), rng.uniform(0.5, 1.0))
        log.append((start, name))
    w[:, INDEX["tongueOut"]] = 0.0  # the tracker cannot see the tongue
    return _exclusive(np.clip(w, 0.0, 1.0)), sorted(log)


def head_motion(rng: np.random.Generator, frames: int, fps: float = FPS, amount: float = 1.0) -> np.ndarray:
    """(F, 3) yaw, pitch, roll in degrees: a resting offset plus slow sways (a talking head)."""
    t = np.arange(frames) / fps
    out = np.empty((frames, 3))
    for k, (rest, sway) in enumerate(((12.0, 12.0), (8.0, 6.0), (4.0, 4.0))):
        a = rng.uniform(-rest, rest)
        for _ in range(2):
            a = a + rng.uniform(0, sway) * np.sin(2 * np.pi * rng.uniform(0.1, 0.6) * t + rng.uniform(0, 2 * np.pi))
        out[:, k] = a * amount
    return out


# --- rendering (Blender) ------------------------------------------------------------------------

STUDIO_LIGHTS = ("Default", "basic.sl", "outdoor.sl", "paint.sl", "rim.sl", "studio.sl")


def random_look(rng: np.random.Generator) -> dict:
    """Lighting, colours and camera of a take."""
    skin = np.array([0.80, 0.58, 0.47]) * rng.uniform(0.35, 1.15) * rng.uniform(0.9, 1.1, 3)
    return {
        "studio_light": STUDIO_LIGHTS[int(rng.integers(len(STUDIO_LIGHTS)))],
        "rotate_z": float(rng.uniform(-1.2, 1.2)),
        "shadows": bool(rng.uniform() < 0.4),
        "cavity": bool(rng.uniform() < 0.3),
        "skin": np.clip(skin, 0, 1).tolist(),
        "brows": (np.array([0.10, 0.07, 0.05]) * rng.uniform(0.5, 3.0)).clip(0, 1).tolist(),
        "lips": (np.clip(skin * rng.uniform(0.6, 0.85) + [0.08, 0.0, 0.0], 0, 1)).tolist(),
        "background": [float(rng.uniform(0.02, 0.6))] * 3,
        "lens_mm": float(rng.uniform(28.0, 85.0)),
        "zoom": float(rng.uniform(1.0, 2.2)),  # face sphere radius x zoom: smaller faces in the frame
        "resolution": int(rng.choice([384, 512, 640])),
        "noise": float(rng.uniform(0.0, 4.0)),  # sensor noise (grey levels)
        "blur": float(rng.choice([0.0, 0.0, 0.6, 1.0])),  # a soft lens / video scaler (pixels)
        "seed": int(rng.integers(2 ** 31)),
    }


def degrade(img: np.ndarray, look: dict, rng: np.random.Generator) -> np.ndarray:
    """What a camera adds to a clean render: blur and sensor noise."""
    import cv2

    out = img.astype(np.float32)
    if look.get("blur", 0) > 0:
        out = cv2.GaussianBlur(out, (0, 0), look["blur"])
    if look.get("noise", 0) > 0:
        out += rng.normal(0.0, look["noise"], out.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def render_take(model, identity, weights, angles, look: dict, detector=None, keep_images: int = 0):
    """Render a take and track it.  ``weights`` (F, 52), ``angles`` (F, 3) yaw, pitch, roll degrees.

    Returns a dict: ``points`` (F, 478, 3) float32 image pixels (NaN: no face), ``camera``
    (focal_px, cx, cy), ``size`` (w, h), ``landmarks_true`` (F, 478, 2) where the model's
    landmarks project, ``images`` (the first ``keep_images`` renders)."""
    import bpy

    from faceforge.api.facemodel import LOOK_COLOURS, build_face_object, set_face_vertices
    from faceforge.api.render import render_view
    from faceforge.facemodel import to_blender
    from faceforge.inference.face_mesh import FaceMeshDetector
    from faceforge.inference.views import face_sphere

    obj = build_face_object(identity, None, model=model, landmarks=False, name="training head")
    colours = {"skin": look["skin"], "brows": look["brows"], "lips": look["lips"]}
    saved = {}
    for name, rgb in colours.items():
        mat = bpy.data.materials.get(f"FaceForge_{name}")
        saved[name] = tuple(mat.diffuse_color)
        mat.diffuse_color = (*rgb, 1.0)
    own = detector is None
    det = FaceMeshDetector(video=True, max_faces=1) if own else detector
    lm0 = to_blender(model.landmarks(model.evaluate(identity)))
    centre, radius = face_sphere(lm0[:468])
    shading = {"studio_light": look["studio_light"], "use_world_space_lighting": True,
               "studiolight_rotate_z": look["rotate_z"], "show_shadows": look["shadows"],
               "show_cavity": look["cavity"]}
    f = len(weights)
    noise_rng = np.random.default_rng(int(look.get("seed", 0)))
    scene = bpy.context.scene
    saved_aa = scene.display.render_aa
    scene.display.render_aa = "FXAA"  # as good as 8 samples on these renders, 2-3x faster
    points = np.full((f, 478, 3), np.nan, np.float32)
    true2d = np.zeros((f, 478, 2))
    images = []
    cam = None
    try:
        for i in range(f):
            set_face_vertices(obj, identity, weights[i], model=model)
            yaw, pitch, roll = np.radians(angles[i])
            obj.rotation_euler = (pitch, roll, yaw)
            bpy.context.view_layer.update()
            img, cam = render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius * look["zoom"],
                                   resolution=look["resolution"], shading=shading,
                                   background=look["background"], lens_mm=look["lens_mm"])
            mw = np.array(obj.matrix_world)
            lm = to_blender(model.landmarks(model.evaluate(identity, weights[i]))) @ mw[:3, :3].T + mw[:3, 3]
            true2d[i] = cam.project(lm)[0]
            img = degrade(img, look, noise_rng)
            face = det.detect(img, with_score=False)
            if face is not None:
                points[i] = face.points[:478]
            if i < keep_images:
                images.append(img)
    finally:
        scene.display.render_aa = saved_aa
        for name, rgb in saved.items():
            bpy.data.materials[f"FaceForge_{name}"].diffuse_color = rgb
        mesh = obj.data
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        if own:
            det.close()
    return {"points": points, "camera": np.array([cam.focal_px, cam.width / 2.0, cam.height / 2.0]),
            "size": np.array([cam.width, cam.height]), "landmarks_true": true2d.astype(np.float32),
            "images": images}


def make_take(model, rng: np.random.Generator, frames: int = 50, detector=None, keep_images: int = 0,
              calm_start: bool | None = None, events: int | None = None) -> dict:
    """One random head performing a random natural sequence, rendered and tracked (see :func:`render_take`);
    adds ``identity``, ``weights`` (F, 52) truth, ``angles`` (F, 3), ``events``, ``look``."""
    identity = model.random_identity(rng)
    weights, log = natural_sequence(rng, frames, calm_start=calm_start, events=events)
    angles = head_motion(rng, frames)
    look = random_look(rng)
    out = render_take(model, identity, weights, angles, look, detector=detector, keep_images=keep_images)
    out.update({"identity": identity, "weights": weights, "angles": angles, "events": log, "look": look})
    return out


def _render_main(args):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import json

    import launch

    ff = launch.load_package()
    ff.register()
    from faceforge.facemodel import load_model
    from faceforge.inference.face_mesh import FaceMeshDetector

    model = load_model()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    done = 0
    for i in range(args.takes):
        path = os.path.join(args.out, f"take_{args.seed}_{i:04d}.npz")
        if os.path.exists(path):
            continue
        rng = np.random.default_rng([args.seed, i])
        with FaceMeshDetector(video=True, max_faces=1) as det:  # a fresh tracker per take, as per video
            take = make_take(model, rng, frames=args.frames, detector=det)
        tmp = path + ".tmp.npz"
        np.savez_compressed(tmp, points=take["points"], camera=take["camera"], size=take["size"],
                            landmarks_true=take["landmarks_true"], identity=take["identity"],
                            weights=take["weights"].astype(np.float32), angles=take["angles"].astype(np.float32),
                            events=json.dumps(take["events"]), look=json.dumps(take["look"]))
        os.replace(tmp, path)
        done += 1
        found = np.isfinite(take["points"][:, 0, 0]).mean()
        print(f"{path}: {args.frames} frames, face found in {found:.0%}, "
              f"{(time.perf_counter() - t0) / done:.1f} s a take", flush=True)


def load_takes(folder: str, pattern: str = "take_*.npz") -> list[dict]:
    """The rendered takes of a folder, sorted by name."""
    import glob
    import json

    out = []
    for path in sorted(glob.glob(os.path.join(folder, pattern))):
        with np.load(path) as z:
            d = {k: z[k] for k in z.files}
        d["events"] = json.loads(str(d["events"]))
        d["look"] = json.loads(str(d["look"]))
        d["name"] = os.path.basename(path)[:-4]
        out.append(d)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render and track takes")
    r.add_argument("--out", required=True)
    r.add_argument("--takes", type=int, default=10)
    r.add_argument("--frames", type=int, default=50)
    r.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.cmd == "render":
        _render_main(args)


if __name__ == "__main__":
    main()
