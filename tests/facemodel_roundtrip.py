"""Rendered round trip for the face model (tests and benchmarks/bench_facemodel.py).

A random head with a random sparse expression is built in Blender
(``api.facemodel.build_face_object``), turned a little, rendered from the front
(``api.render.render_view``, Workbench), read by MediaPipe
(``inference.face_mesh.FaceMeshDetector``) and fitted (``facemodel.fit_identity``:
the image's points as they are with the render's pinhole camera, depth weighted
``IMAGE_DEPTH_WEIGHT``).  The weight
error counts the shapes a camera can see (:func:`visible_shapes`).
"""

from __future__ import annotations

import numpy as np

from faceforge.core.arkit import ARKIT_NAMES, INDEX

# Expressions a face makes at once: groups to draw from (one shape per group, so no
# antagonists together), each shape at 0.3..1.
GROUPS = (
    ("browDownLeft", "browOuterUpLeft"), ("browDownRight", "browOuterUpRight"), ("browInnerUp",),
    ("eyeBlinkLeft", "eyeWideLeft", "eyeSquintLeft"), ("eyeBlinkRight", "eyeWideRight", "eyeSquintRight"),
    ("jawOpen", "jawLeft", "jawRight"),
    ("mouthSmileLeft", "mouthFrownLeft", "mouthDimpleLeft", "mouthStretchLeft"),
    ("mouthSmileRight", "mouthFrownRight", "mouthDimpleRight", "mouthStretchRight"),
    ("mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthRollLower", "mouthShrugLower"),
    ("noseSneerLeft", "noseSneerRight", "cheekSquintLeft", "cheekSquintRight", "mouthUpperUpLeft",
     "mouthUpperUpRight"),
    ("eyeLookUp", "eyeLookDown", "eyeLookToLeft", "eyeLookToRight"),  # both eyes together
)


def random_expression(rng: np.random.Generator, groups: int = 3) -> np.ndarray:
    """A sparse ARKit expression: ``groups`` groups, one shape each, weight 0.3..1."""
    w = np.zeros(52)
    for gi in rng.choice(len(GROUPS), groups, replace=False):
        name = GROUPS[gi][rng.integers(len(GROUPS[gi]))]
        v = rng.uniform(0.3, 1.0)
        if name.startswith("eyeLook"):
            pair = {"eyeLookUp": ("eyeLookUpLeft", "eyeLookUpRight"),
                    "eyeLookDown": ("eyeLookDownLeft", "eyeLookDownRight"),
                    "eyeLookToLeft": ("eyeLookOutLeft", "eyeLookInRight"),
                    "eyeLookToRight": ("eyeLookInLeft", "eyeLookOutRight")}[name]
            for n in pair:
                w[INDEX[n]] = v
        else:
            w[INDEX[name]] = v
    return w


def visible_shapes(model, min_iod: float = 0.05, detector: bool = False) -> np.ndarray:
    """Indices of the ARKit shapes that move some landmark by ``min_iod`` of the eye distance in
    the image plane of a frontal camera: on the surface (48 shapes: not ``tongueOut``,
    ``jawForward``, ``eyeSquint*``), or with ``detector`` as MediaPipe's points move (36: also not
    cheekSquint, eyeWide, mouthPress, cheekPuff, mouthFrown, mouthDimple, browDownLeft...)."""
    from faceforge.facemodel.fit import _iod

    base, _, e = model.landmark_basis(None, detector=detector)
    d2 = np.linalg.norm(e[:, :2, :], axis=1).max(axis=0) / _iod(base)
    return np.flatnonzero(d2 >= min_iod)


def render_head(model, identity, expression, yaw_deg: float = 0.0, pitch_deg: float = 0.0, resolution: int = 512):
    """Render the head from the front; returns (rgb (H, W, 3) uint8, camera, true landmarks (478, 3) world)."""
    import bpy

    from faceforge.api.facemodel import build_face_object
    from faceforge.api.render import render_view
    from faceforge.facemodel import to_blender
    from faceforge.inference.views import face_sphere

    obj = build_face_object(identity, expression, model=model, landmarks=False, name="roundtrip")
    try:
        obj.rotation_euler = (np.radians(pitch_deg), 0.0, np.radians(yaw_deg))
        bpy.context.view_layer.update()
        mw = np.array(obj.matrix_world)
        lm = to_blender(model.landmarks(model.evaluate(identity, expression)))
        lm = lm @ mw[:3, :3].T + mw[:3, 3]
        centre, radius = face_sphere(lm[:468])
        img, cam = render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius, resolution=resolution)
    finally:
        mesh = obj.data
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
    return img, cam, lm


def roundtrip(model, det, rng, identity=None, expression=None, yaw_deg=None, pitch_deg=None, known_identity=False):
    """One head: render, detect, fit.  Returns a dict (truth, fit, errors) or None when MediaPipe
    finds no face."""
    from faceforge.facemodel import fit_expression, fit_identity
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT

    identity = model.random_identity(rng) if identity is None else identity
    expression = random_expression(rng) if expression is None else expression
    yaw = rng.uniform(-12, 12) if yaw_deg is None else yaw_deg
    pitch = rng.uniform(-8, 8) if pitch_deg is None else pitch_deg
    img, cam, lm_true = render_head(model, identity, expression, yaw, pitch)
    face = det.detect(img)
    if face is None:
        return None
    camera = (cam.focal_px, cam.width / 2.0, cam.height / 2.0)
    if known_identity:
        fit = fit_expression(model, face.points, identity=identity, depth_weight=IMAGE_DEPTH_WEIGHT, camera=camera)
    else:
        fit = fit_identity(model, face.points, depth_weight=IMAGE_DEPTH_WEIGHT, camera=camera).frame(0)
    w = fit.expression
    vis = visible_shapes(model)
    px_true, _ = cam.project(lm_true)
    iod_px = float(np.linalg.norm(px_true[[263, 362]].mean(0) - px_true[[33, 133]].mean(0)))
    detect_err = np.linalg.norm(face.points[:, :2] - px_true, axis=1) / iod_px
    return {"identity": identity, "expression": expression, "fit": fit, "weights": w, "image": img,
            "mae_visible": float(np.abs(w - expression)[vis].mean()),
            "mae_active": float(np.abs(w - expression)[expression > 0].mean()),
            "detect_err": detect_err, "yaw": yaw, "pitch": pitch, "points": face.points}


def describe(r) -> str:
    """The true and fitted weights that differ, for a failure message."""
    w, e = r["weights"], r["expression"]
    ids = np.flatnonzero((np.abs(w - e) > 0.1) | (e > 0))
    return ", ".join(f"{ARKIT_NAMES[i]} {e[i]:.2f}->{w[i]:.2f}" for i in ids)


def sequence(model, det, rng, frames: int = 5):
    """One random head in ``frames`` renders (the first neutral, then random sparse expressions,
    each turned a little), detected and fitted three ways: ``joint`` (``fit_identity`` on all
    frames: the video case), ``single`` (``fit_identity`` on each frame alone) and ``known``
    (``fit_expression`` with the true identity).  Returns a dict of (F - 1, 52) weight arrays for
    the expression frames plus ``truth``, or None when MediaPipe misses a frame."""
    from faceforge.facemodel import fit_expression, fit_identity
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT

    identity = model.random_identity(rng)
    truth = np.array([np.zeros(52)] + [random_expression(rng) for _ in range(frames - 1)])
    points, camera, images = [], None, []
    for w in truth:
        img, cam, _ = render_head(model, identity, w, rng.uniform(-12, 12), rng.uniform(-8, 8))
        face = det.detect(img)
        if face is None:
            return None
        points.append(face.points)
        images.append(img)
        camera = (cam.focal_px, cam.width / 2.0, cam.height / 2.0)
    pts = np.array(points)
    kw = dict(depth_weight=IMAGE_DEPTH_WEIGHT, camera=camera)
    joint = fit_identity(model, pts, **kw)
    single = np.array([fit_identity(model, p, **kw).expression[0] for p in pts[1:]])
    known = np.array([fit_expression(model, p, identity=identity, **kw).expression for p in pts[1:]])
    return {"truth": truth[1:], "joint": joint.expression[1:], "single": single, "known": known,
            "identity": identity, "fitted_identity": joint.identity, "images": images[1:],
            "poses": joint.poses[1:]}


def scores(truth: np.ndarray, fitted: np.ndarray, visible: np.ndarray) -> dict:
    """Weight errors over frames (F, 52): ``visible`` MAE over the shapes a camera can see (the
    issue's figure; zeros included), ``active`` MAE over the shapes that were on, ``zero``: the
    visible MAE of answering all zeros (the floor a sparse truth gives), ``recall``: fitted / true
    weight summed over the active shapes."""
    on = truth > 0
    return {"visible": float(np.abs(fitted - truth)[:, visible].mean()),
            "active": float(np.abs(fitted - truth)[on].mean()),
            "zero": float(np.abs(truth)[:, visible].mean()),
            "recall": float(np.minimum(fitted, truth)[on].sum() / truth[on].sum()),
            "false_on": float(fitted[~on & np.isin(np.arange(52), visible)[None].repeat(len(truth), 0)].mean())}
