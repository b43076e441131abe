"""The pure video solve on the face model: the batched fit of a take, the temporal prior, the
take and photo solves, calibration, the learned correction, One Euro, tracking.

Synthetic takes are the face model's own landmarks as the tracker sees them (its measured
response, ``landmark_basis(detector=True)``), posed and projected by a pinhole camera, with
noise (:func:`model_track`).  The fixture character of test_video.py (MediaPipe's canonical
face with a few hand-made ARKit shape keys) is made by the helpers below.
"""

from __future__ import annotations

import numpy as np
import pytest

from faceforge.animation import filters, neutral, pose, solve
from faceforge.core.errors import FaceForgeError

SHAPES = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight",
          "browInnerUp", "mouthPucker", "browDownLeft")


def canonical_face(data) -> np.ndarray:
    """(468, 3) MediaPipe canonical face, cm, x = subject's left, y up, z toward the viewer."""
    path = data / "mesh" / "mediapipe_canonical" / "canonical_face_model.obj"
    return np.array([ln.split()[1:4] for ln in path.read_text().splitlines() if ln.startswith("v ")], float)


def _falloff(v, centre, radius):
    d = np.linalg.norm(v - centre, axis=1)
    return np.clip(1.0 - d / radius, 0.0, 1.0) ** 2


def make_shapes(v: np.ndarray) -> dict:
    """Hand-made ARKit-like deltas (468, 3) on the canonical face (camera-frame axes, cm)."""
    out = {}
    y_up_lip = v[13, 1]
    below = np.clip((y_up_lip - v[:, 1]) / 0.4, 0, 1) * (v[:, 1] > v[152, 1] - 1) * (np.abs(v[:, 0]) < 6.5)
    jaw = np.zeros_like(v)
    jaw[:, 1] = -1.6 * below
    jaw[:, 2] = -0.4 * below
    out["jawOpen"] = jaw
    for name, upper, lower in (("eyeBlinkLeft", pose.EYE_UPPER_LEFT, pose.EYE_LOWER_LEFT),
                               ("eyeBlinkRight", pose.EYE_UPPER_RIGHT, pose.EYE_LOWER_RIGHT)):
        gap = v[upper, 1] - v[lower, 1]
        eye = (pose.EYE_LEFT if "Left" in name else pose.EYE_RIGHT)
        centre = v[eye].mean(axis=0)
        f = _falloff(v, centre, 1.6) * (v[:, 1] > centre[1] + 0.05)
        d = np.zeros_like(v)
        d[:, 1] = -0.95 * gap * f / max(f[upper], 1e-9)
        d[:, 1] = np.maximum(d[:, 1], -0.95 * gap)
        out[name] = d
    for name, corner, sx in (("mouthSmileLeft", 291, 1.0), ("mouthSmileRight", 61, -1.0)):
        f = _falloff(v, v[corner], 2.2)
        d = np.zeros_like(v)
        d[:, 0] = 0.45 * sx * f
        d[:, 1] = 0.55 * f
        d[:, 2] = -0.2 * f
        out[name] = d
    inner = np.array([107, 336, 55, 285, 65, 295])
    f = np.max([_falloff(v, v[i], 1.5) for i in inner], axis=0)
    d = np.zeros_like(v)
    d[:, 1] = 0.6 * f
    out["browInnerUp"] = d
    mouth_c = v[[13, 14]].mean(axis=0)
    f = _falloff(v, mouth_c, 3.0)
    d = np.zeros_like(v)
    d[:, 0] = -(v[:, 0] - mouth_c[0]) * 0.35 * f
    d[:, 2] = 0.6 * f
    out["mouthPucker"] = d
    f = np.max([_falloff(v, v[i], 2.0) for i in pose.BROW_LEFT], axis=0)
    d = np.zeros_like(v)
    d[:, 1] = -0.45 * f
    d[:, 0] = -0.15 * f
    out["browDownLeft"] = d
    return out


def rotation(yaw, pitch, roll):
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("yxz", [yaw, pitch, roll]).as_matrix()


# --- synthetic takes on the face model ------------------------------------------------------

SIZE = (640, 480)
FOCAL = 1280.0  # the solver's default guess for this size (FOCAL_GUESS x 640)


def model_points(model, identity, weights, angles_deg, noise_px=0.0, rng=None, focal=FOCAL, size=SIZE,
                 distance=0.6):
    """Image points (F, 478, 3) of a head (``identity``) making ``weights`` (F, 52) while turned by
    ``angles_deg`` (F, 3) yaw (toward the subject's left), pitch (up), roll: the face model's
    landmarks as the tracker follows them, a pinhole camera ``distance`` m away, MediaPipe's
    pixel convention (x right, y down, z away in x's scale)."""
    from faceforge.facemodel.model import rot_x, rot_y

    base, _, e = model.landmark_basis(identity, detector=True)
    out = []
    for w, (yaw, pitch, roll) in zip(np.atleast_2d(weights), np.atleast_2d(angles_deg)):
        lm = base + e @ w
        c, s_ = np.cos(np.radians(roll)), np.sin(np.radians(roll))
        rz = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1.0]])
        r = rot_y(np.radians(yaw)) @ rot_x(-np.radians(pitch)) @ rz
        p = (lm @ r.T) * [1.0, -1.0, -1.0] + [0.0, 0.0, distance]  # camera frame: x right, y down, z away
        u = focal * p[:, 0] / p[:, 2] + size[0] / 2
        v = focal * p[:, 1] / p[:, 2] + size[1] / 2
        out.append(np.c_[u, v, (p[:, 2] - distance) * focal / distance])
    pts = np.array(out)
    if noise_px:
        pts = pts + (rng or np.random.default_rng(0)).normal(0.0, noise_px, pts.shape)
    return pts


def model_track(model, identity, weights, angles_deg, fps=25.0, **kw) -> solve.Track:
    pts = model_points(model, identity, weights, angles_deg, **kw)
    f = len(pts)
    return solve.Track(np.arange(f) / fps, np.arange(f), pts.astype(np.float32), SIZE, fps, "synthetic")


def performance(frames=60):
    """(F, 52): rest, a blink, a left wink, a smile, an "O", surprise, talking; (F, 3) a slow head turn."""
    from faceforge.core.arkit import INDEX

    w = np.zeros((frames, 52))
    t = np.arange(frames)

    def bump(names, centre, width, peak):
        env = peak * np.clip(1 - np.abs(t - centre) / width, 0, 1)
        for n in names:
            w[:, INDEX[n]] = np.maximum(w[:, INDEX[n]], env)

    bump(["eyeBlinkLeft", "eyeBlinkRight"], 10, 2, 1.0)
    bump(["eyeBlinkLeft"], 20, 3, 1.0)  # a wink
    bump(["mouthSmileLeft", "mouthSmileRight"], 28, 6, 0.8)
    bump(["jawOpen"], 38, 5, 0.45)
    bump(["mouthFunnel"], 38, 5, 0.8)
    bump(["browInnerUp", "browOuterUpLeft", "browOuterUpRight"], 48, 5, 0.8)
    bump(["jawOpen"], 48, 4, 0.35)
    for c in (54, 57):  # talking
        bump(["jawOpen"], c, 2, 0.3)
    w[:6] = 0.0
    angles = np.stack([12 * np.sin(t / 15.0), 5 * np.sin(t / 11.0), 3 * np.sin(t / 17.0)], axis=1)
    return w, angles


@pytest.fixture(scope="module")
def model():
    from faceforge.facemodel import load_model

    return load_model()


# --- tests -----------------------------------------------------------------------------


def test_fit_take_is_fit_expression_for_every_frame_at_once(model):
    """The batched fit minimises the same objective as fit_expression frame by frame (no temporal prior)."""
    from faceforge.facemodel import fit_expression
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.sequence import fit_take

    rng = np.random.default_rng(1)
    identity = model.random_identity(rng)
    w, angles = performance(60)
    pts = model_points(model, identity, w[::4], angles[::4], noise_px=0.4, rng=rng)
    cam = (FOCAL, SIZE[0] / 2, SIZE[1] / 2)
    kw = dict(identity=identity, depth_weight=IMAGE_DEPTH_WEIGHT, camera=cam)
    one = np.array([fit_expression(model, p, **kw).expression for p in pts])
    take = fit_take(model, pts, smooth=0.0, **kw)
    assert np.abs(take.expression - one).max() < 0.02
    # with the openings' terms too (both fits add them the same way)
    gap_one = np.array([fit_expression(model, p, gaps=2.0, **kw).expression for p in pts])
    assert np.abs(fit_take(model, pts, smooth=0.0, gaps=2.0, **kw).expression - gap_one).max() < 0.02
    assert np.abs(take.expression - w[::4]).mean() < 0.01
    assert take.residual.max() < 0.02  # mean misfit, eye distances
    assert take.expression.min() >= 0 and take.expression.max() <= 1


def test_temporal_prior_keeps_a_three_frame_blink_and_steadies_the_rest(model):
    from faceforge.core.arkit import INDEX
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.sequence import fit_take

    rng = np.random.default_rng(2)
    identity = model.random_identity(rng)
    w = np.zeros((40, 52))
    w[20:23, INDEX["eyeBlinkLeft"]] = w[20:23, INDEX["eyeBlinkRight"]] = [0.6, 1.0, 0.6]
    pts = model_points(model, identity, w, np.zeros((40, 3)), noise_px=1.5, rng=rng)
    cam = (FOCAL, SIZE[0] / 2, SIZE[1] / 2)
    kw = dict(identity=identity, depth_weight=IMAGE_DEPTH_WEIGHT, camera=cam, sparsity=1.0)  # let noise through
    raw = fit_take(model, pts, smooth=0.0, **kw).expression
    smooth = fit_take(model, pts, smooth=solve.temporal_prior(0.5), **kw).expression
    blink = INDEX["eyeBlinkLeft"]
    assert smooth[21, blink] > 0.85 and np.argmax(smooth[:, blink]) == 21
    still = np.r_[0:18, 25:40]
    jitter = lambda x: np.abs(np.diff(x[still], axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < 0.7 * jitter(raw)


def test_openings_read_whatever_line_the_lids_and_lips_meet_on(model):
    """A blink and an open jaw whose lids and lips meet higher than the model's (MediaPipe closes a
    real eye nearer the middle than the scans do): matched as openings (``gaps``), the weights come
    back less moved by the shift than from the points alone."""
    from faceforge.core.arkit import INDEX
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.sequence import fit_take
    from faceforge.rigging import regions as R

    rng = np.random.default_rng(5)
    identity = model.random_identity(rng)
    w = np.zeros((12, 52))
    w[4:8, INDEX["eyeBlinkLeft"]] = w[4:8, INDEX["eyeBlinkRight"]] = 0.9
    w[4:8, INDEX["jawOpen"]] = 0.3
    clean = model_points(model, identity, w, np.zeros((12, 3)), noise_px=0.3, rng=rng)
    lids = list(R.EYE_LEFT_UPPER + R.EYE_LEFT_LOWER + R.EYE_RIGHT_UPPER + R.EYE_RIGHT_LOWER)
    eye_open = clean[0, 145, 1] - clean[0, 159, 1]  # the right eye's lid gap at rest (pixels, y down)
    shifted = clean.copy()
    shifted[4:8, lids, 1] -= 0.3 * eye_open  # both lids meet 30 % of the open gap higher
    cam = (FOCAL, SIZE[0] / 2, SIZE[1] / 2)
    kw = dict(identity=identity, depth_weight=IMAGE_DEPTH_WEIGHT, camera=cam, smooth=0.0)
    blinks = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
    moved = {}
    for gaps in (0.0, 2.0):
        a_, b_ = (fit_take(model, p, gaps=gaps, **kw).expression for p in (clean, shifted))
        moved[gaps] = np.abs(b_[4:8, blinks] - a_[4:8, blinks]).mean()
        if gaps:
            assert np.abs(b_[4:8, INDEX["jawOpen"]] - 0.3).max() < 0.08
    assert moved[2.0] < 0.7 * moved[0.0]  # measured 0.61


def test_an_iris_under_a_closing_lid_does_not_turn_the_eye(model):
    """During a blink the tracker's irises drift (here: up, a quarter of the eye's width); the
    solve fades them with the lids' opening and holds the gaze."""
    from faceforge.core.arkit import INDEX
    from faceforge.rigging import regions as R

    rng = np.random.default_rng(6)
    identity = model.random_identity(rng)
    w = np.zeros((30, 52))
    w[12:17, INDEX["eyeBlinkLeft"]] = w[12:17, INDEX["eyeBlinkRight"]] = [0.6, 1.0, 1.0, 1.0, 0.6]
    trk = model_track(model, identity, w, np.zeros((30, 3)), noise_px=0.3, rng=rng)
    pts = trk.points.copy()
    width = np.linalg.norm(pts[0, 33, :2] - pts[0, 133, :2])
    pts[13:16, list(R.IRIS_LEFT + R.IRIS_RIGHT), 1] -= 0.25 * width
    seen = solve.iris_seen(pts)
    assert seen[:10].min() > 0.99 and seen[13:16].max() < 0.5  # the model's shut lids read 0.3-0.4 of open
    take = solve.solve_take(solve.Track(trk.times, trk.indices, pts, SIZE, trk.fps, "drift"), smoothing=0.5)
    looks = [INDEX[f"eyeLook{d}{s}"] for d in ("Up", "Down", "In", "Out") for s in ("Left", "Right")]
    assert take.weights[:, looks].max() < 0.1
    assert take.weights[14, INDEX["eyeBlinkLeft"]] > 0.7 and take.weights[14, INDEX["eyeBlinkRight"]] > 0.7


def test_take_round_trip_recovers_the_performance_head_and_rest(model):
    """A synthetic take (the tracker's response, a head turning, noise, a hole): the solve finds the
    rest frame, the weights (a wink closes one eye), the head turn, and bridges the hole."""
    from faceforge.core.arkit import INDEX

    rng = np.random.default_rng(3)
    identity = model.random_identity(rng)
    w, angles = performance(60)
    trk = model_track(model, identity, w, angles, noise_px=0.5, rng=rng)
    trk.points[40:44] = np.nan  # the face left the frame
    take = solve.solve_take(trk, smoothing=0.5, correction=False, model=model)
    assert take.names[INDEX["jawOpen"]] == "jawOpen" and take.weights.shape == (60, 52)
    assert take.missing == 4 and take.stats["bridged"] == 4
    assert take.neutral_auto and w[take.neutral_index].max() < 0.05
    ok = take.found
    err = np.abs(take.weights[ok] - w[ok])
    print("MAE", err.mean().round(4), "worst shapes:",
          {take.names[k]: round(float(err[:, k].mean()), 3) for k in np.argsort(-err.mean(0))[:4]})
    assert err.mean() < 0.02
    left, right = INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]
    assert take.weights[10, left] > 0.8 and take.weights[10, right] > 0.8  # the blink
    assert take.weights[20, left] > 0.8 and take.weights[20, right] < 0.15  # the wink: one eye
    assert np.corrcoef(take.weights[ok, INDEX["jawOpen"]], w[ok, INDEX["jawOpen"]])[0, 1] > 0.95
    assert take.weights[ok].max() <= 1.0 and (take.weights >= 0.99).mean() < 0.02
    # the head: relative to the head's rest (a frame at rest facing the camera), camera axes (yaw
    # about +y toward the subject's left)
    rel = np.stack([rotation(np.radians(a[0]), np.radians(-a[1]), np.radians(a[2])) for a in angles])
    k = take.stats["head_rest_frame"]
    assert w[k].max() < 0.05 and np.abs(angles[k]).max() <= np.abs(angles[w.max(1) < 0.05]).max(1).min() + 3
    rel = np.einsum("fij,kj->fik", rel, rel[k])
    ang = np.degrees(np.arccos(np.clip((np.trace(np.einsum("fij,fkj->fik", take.head_rotation, rel),
                                                 axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert ang[ok].max() < 3.0, ang.max()
    # the hole is interpolated between its neighbours
    a, b = 39, 44
    tt = (take.times[40:44] - take.times[a]) / (take.times[b] - take.times[a])
    assert np.allclose(take.weights[40:44], take.weights[a] + tt[:, None] * (take.weights[b] - take.weights[a]))


def test_gaze_turns_the_eyes_both_ways(model):
    from faceforge.core.arkit import INDEX

    w = np.zeros((30, 52))
    w[15:, INDEX["eyeLookOutLeft"]] = w[15:, INDEX["eyeLookInRight"]] = 0.7  # toward the subject's left
    trk = model_track(model, model.random_identity(4), w, np.zeros((30, 3)), noise_px=0.3)
    take = solve.solve_take(trk, smoothing=0.0, correction=False, model=model)
    assert take.eye_rotation[:10, :, 0].std() < 0.02 and np.abs(take.eye_rotation[:10]).max() < 0.05
    yaw = take.eye_rotation[20:, :, 0]  # both eyes turn toward the subject's left (+)
    assert yaw.min() > np.radians(12)  # 0.7 x 30 degrees, less the priors' shrinkage (without the correction)
    assert take.weights[20:, INDEX["eyeLookOutLeft"]].mean() > 0.4


def test_chosen_neutral_and_bad_choices(model):
    from faceforge.core.arkit import INDEX

    w = np.zeros((10, 52))
    w[:, INDEX["jawOpen"]] = 0.3  # the jaw a little open everywhere...
    w[4] = 0.0  # ...but here
    trk = model_track(model, model.random_identity(5), w, np.zeros((10, 3)))
    trk.indices = np.arange(100, 110)
    trk.points[7] = np.nan
    take = solve.solve_take(trk, neutral_frame=104, smoothing=0, correction=False, model=model)
    assert take.neutral_index == 104 and not take.neutral_auto
    assert 104 in take.stats["identity_frames"]
    assert abs(take.weights[0, INDEX["jawOpen"]] - 0.3) < 0.06
    with pytest.raises(FaceForgeError, match="outside"):
        solve.solve_take(trk, neutral_frame=5, model=model)
    with pytest.raises(FaceForgeError, match="No face was found on neutral frame 107"):
        solve.solve_take(trk, neutral_frame=107, model=model)
    trk.points[:] = np.nan
    with pytest.raises(FaceForgeError, match="No face was found in any of the 10 frames"):
        solve.solve_take(trk, model=model)


def test_threaded_solver_gives_the_offline_take(model):
    """Frames handed over while tracking (a worker thread fits them) give the same take."""
    w, angles = performance(120)
    trk = model_track(model, model.random_identity(6), np.tile(w, (1, 1))[:120], angles, noise_px=0.5)
    offline = solve.solve_take(trk, correction=False, model=model)
    solver = solve.TakeSolver(correction=False, model=model, threaded=True)
    try:
        for t, i, p in zip(trk.times, trk.indices, trk.points):
            solver.add(t, i, p, SIZE)
        live = solver.finish()
    finally:
        solver.close()
    assert np.allclose(live.weights, offline.weights, atol=1e-9)
    assert live.neutral_index == offline.neutral_index


def test_shapes_a_camera_barely_sees_need_more_evidence(model):
    """jawForward and tongueOut move the image points by under 4 % of the eye distance: their
    sparsity is higher, so the tracker's noise in depth is not read as a jaw thrust (on 20
    rendered held-out takes: jawForward mean 0.031 -> 0.001, largest 0.90 -> 0.21, the weight
    MAE unchanged; synthetic landmarks, as below, never show it)."""
    from faceforge.core.arkit import INDEX

    sp = solve.fit_settings(model)["sparsity"]
    base = solve.FIT_SETTINGS["sparsity"]
    assert sp[INDEX["jawForward"]] == sp[INDEX["tongueOut"]] == base * solve.HIDDEN_SPARSITY
    hidden = np.flatnonzero(sp > base)
    assert set(hidden) == {INDEX["jawForward"], INDEX["tongueOut"]}  # eyeWide, squints, brows stay cheap


def test_single_image_pose_is_fitted_without_saturating(model):
    from faceforge.core.arkit import INDEX

    truth = np.zeros(52)
    truth[INDEX["jawOpen"]] = 0.6
    truth[INDEX["eyeBlinkLeft"]] = 1.0
    truth[INDEX["mouthSmileRight"]] = 0.5
    identity = model.random_identity(7)
    pts = model_points(model, identity, truth, [[15.0, 5.0, 0.0]])[0]
    w, head, eyes, res = solve.solve_image(pts, SIZE, correction=False, model=model)
    print({n: round(float(v), 2) for n, v in zip(solve.ARKIT_NAMES, w) if v > 0.05})
    assert abs(w[INDEX["jawOpen"]] - 0.6) < 0.12 and w[INDEX["eyeBlinkLeft"]] > 0.7
    assert w[INDEX["eyeBlinkRight"]] < 0.2 and w[INDEX["mouthSmileRight"]] > 0.3
    assert (w >= 0.99).sum() <= 1 and res < 0.02
    want = rotation(np.radians(15), np.radians(-5), 0)
    assert np.degrees(np.arccos((np.trace(head @ want.T) - 1) / 2)) < 3.0
    # a rest photo of the same head: only the difference is expression
    rest = model_points(model, identity, np.zeros(52), [[0.0, 0.0, 0.0]])[0]
    w2, *_ = solve.solve_image(pts, SIZE, neutral_points=rest, correction=False, model=model)
    assert w2[INDEX["eyeBlinkLeft"]] > 0.7 and abs(w2[INDEX["jawOpen"]] - 0.6) < 0.12
    same, *_ = solve.solve_image(rest, SIZE, neutral_points=rest, model=model)
    assert same.max() < 0.02  # the rest photo itself is at rest, the correction included


def test_exclusive_calibrate_and_the_correction_file(tmp_path):
    from faceforge.animation import correction
    from faceforge.core.arkit import INDEX

    w = np.zeros((2, 52))
    w[0, INDEX["mouthLeft"]], w[0, INDEX["mouthRight"]] = 0.6, 0.4
    w[1, INDEX["mouthClose"]], w[1, INDEX["jawOpen"]] = 0.5, 0.2
    x = solve.exclusive(w)
    assert x[0, INDEX["mouthLeft"]] == 0.6 and x[0, INDEX["mouthRight"]] == 0
    assert x[1, INDEX["mouthClose"]] == 0.2
    rest = np.zeros(52)
    rest[INDEX["eyeBlinkLeft"]] = 0.2
    rest[INDEX["jawOpen"]] = 0.2
    raw = np.zeros((2, 52))
    raw[0, INDEX["eyeBlinkLeft"]], raw[1, INDEX["eyeBlinkLeft"]] = 0.2, 0.6
    raw[:, INDEX["jawOpen"]] = 0.3
    c = solve.calibrate(raw, rest)
    assert c[0, INDEX["eyeBlinkLeft"]] == 0 and np.isclose(c[1, INDEX["eyeBlinkLeft"]], 0.5)
    assert np.allclose(c[:, INDEX["jawOpen"]], 0.3)  # the jaw's rest is closed: not calibrated...
    assert np.allclose(solve.calibrate(raw, rest, jaw=True)[:, INDEX["jawOpen"]], 0.125)  # ...unless chosen
    # a correction file round trips, keeps a face at rest at rest and stays in [0, 1]
    rng = np.random.default_rng(0)
    arrays = {"video_mean": rng.uniform(0, 0.2, 52), "video_std": np.full(52, 0.2),
              "video_w1": rng.normal(size=(52, 8)), "video_b1": rng.normal(size=8),
              "video_w2": rng.normal(size=(8, 52)), "video_gain": np.full(52, 1.5)}
    correction.save_correction(tmp_path / "c.npz", arrays, "test")
    corr = correction.load_correction(tmp_path / "c.npz")
    assert corr.has("video") and not corr.has("image")
    out = corr.apply(rng.uniform(0, 1, (5, 52)), "video")
    assert out.shape == (5, 52) and out.min() >= 0 and out.max() <= 1
    assert np.abs(corr.apply(np.zeros((1, 52)), "video")).max() < 1e-6
    assert np.array_equal(corr.apply(out, "image"), out)  # no map for that kind: unchanged
    shipped = correction.load_correction()
    if shipped is not None:
        assert shipped.has("video") and shipped.has("image")
        assert np.abs(shipped.apply(np.zeros((1, 52)), "video")).max() < 1e-6


def test_one_euro_keeps_a_three_frame_blink_and_removes_jitter():
    t = np.arange(60) / 25.0
    blink = np.zeros(60)
    blink[30:33] = [0.6, 1.0, 0.6]
    out = filters.smooth(blink, t, strength=0.5)  # the default strength
    assert out.max() > 0.85 and np.argmax(out) == 31
    rng = np.random.default_rng(0)
    noisy = 0.3 + rng.normal(scale=0.03, size=(400, 3))
    sm = filters.smooth(noisy, np.arange(400) / 25.0, strength=0.5)
    assert sm.std(axis=0).max() < 0.6 * noisy.std(axis=0).min()
    assert np.allclose(filters.smooth(noisy, np.arange(400) / 25.0, 0.0), noisy)


def test_rotation_vector_round_trip_matches_scipy():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(5)
    rv = rng.normal(size=(200, 3))
    rv[:5] *= 1e-9  # ~identity
    rv[5] = [np.pi - 1e-9, 0, 0]  # ~half turn
    mats = Rotation.from_rotvec(rv).as_matrix()
    assert np.allclose(pose.rotvec_to_matrix(rv), mats, atol=1e-9)
    back = pose.matrix_to_rotvec(mats)
    assert np.allclose(pose.rotvec_to_matrix(back), mats, atol=1e-6)


def test_neutral_scores_prefer_a_closed_mouth_and_open_eyes(model):
    from faceforge.core.arkit import INDEX

    w = np.zeros((5, 52))
    w[0, INDEX["jawOpen"]] = 0.5
    w[1, INDEX["eyeBlinkLeft"]] = w[1, INDEX["eyeBlinkRight"]] = 1.0
    w[3, INDEX["mouthSmileLeft"]] = 0.8
    pts = model_points(model, model.random_identity(8), w, np.zeros((5, 3)))
    assert solve.calm_frames(pts, count=1).tolist() in ([2], [4])
    assert neutral.pick_neutral(pose.align(pose.to_camera_frame(pts), pose.to_camera_frame(pts[2])).points) in (2, 4)


def test_track_streams_frames_marks_missing_faces_and_grows_its_buffer():
    from types import SimpleNamespace

    class FakeDetector:
        def detect(self, rgb, with_score=True):
            if rgb[0, 0, 0] == 0:
                return None
            return SimpleNamespace(points=np.full((478, 3), float(rgb[0, 0, 0]), np.float32))

    class Recorder:
        def __init__(self):
            self.got = []

        def add(self, t, index, points, size):
            self.got.append((index, points is not None, size))

    def frames():
        for i in range(40):
            yield i / 30.0, i, np.full((4, 6, 3), 0 if i in (3, 25) else i + 1, np.uint8)

    seen = []
    rec = Recorder()
    trk = solve.track(frames(), FakeDetector(), total=0, report=lambda f, m: seen.append(m), solver=rec)
    assert trk.points.shape == (40, 478, 3) and trk.image_size == (6, 4)
    assert list(np.flatnonzero(~trk.found)) == [3, 25]
    assert trk.points[39, 0, 0] == 40 and len(seen) == 40
    assert [g[0] for g in rec.got] == list(range(40)) and not rec.got[3][1] and rec.got[4] == (4, True, (6, 4))
