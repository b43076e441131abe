"""The face model (models/facemodel_ict.npz, facemodel/): conversion, evaluation, gaze, landmarks, fitting."""

import gzip

import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES, INDEX
from faceforge.core.errors import FaceForgeError

ICT = "mesh/ict_facekit"


@pytest.fixture(scope="module")
def model():
    from faceforge.facemodel import load_model

    return load_model()


def obj_vertices(path) -> np.ndarray:
    with gzip.open(path, "rt") as fh:
        lines = [ln[2:] for ln in fh.read().split("\n") if ln.startswith("v ")]
    return np.array(" ".join(lines).split(), dtype=np.float64).reshape(-1, 3) * 0.01  # cm -> m


def expr(**weights):
    w = np.zeros(52)
    for k, v in weights.items():
        w[INDEX[k]] = v
    return w


# --- the file ----------------------------------------------------------------------------

CONVERSION_MM = 0.02  # documented in models/README.md


def test_conversion_reproduces_every_ict_expression(model, data):
    """Every one of ICT's 57 expression OBJs (and the neutral) within 0.02 mm."""
    src = data / ICT
    neutral = obj_vertices(src / "generic_neutral_mesh.obj.gz")
    assert np.abs(model.neutral - neutral).max() < 1e-6
    names = sorted(p.name[:-7] for p in src.glob("*.obj.gz") if not p.name.startswith(("identity", "generic")))
    assert len(names) == 57 and set(names) <= set(model.shape_names)
    worst = 0.0
    for name in names:
        err = np.linalg.norm(model.neutral + model.shape(name) - obj_vertices(src / f"{name}.obj.gz"), axis=1).max()
        worst = max(worst, err * 1000)
    print(f"expressions: worst vertex error {worst:.4f} mm")
    assert worst < CONVERSION_MM


def _identity_error(model, data, modes) -> float:
    src = data / ICT
    worst = 0.0
    for i in modes:
        v = obj_vertices(src / f"identity{i:03d}.obj.gz")
        worst = max(worst, float(np.linalg.norm(model.neutral + model.identity_basis[i] - v, axis=1).max()) * 1000)
    return worst


def test_conversion_reproduces_identity_modes(model, data):
    """Every fifth identity mode here; all 100 in the slow test."""
    assert _identity_error(model, data, range(0, 100, 5)) < CONVERSION_MM


@pytest.mark.slow
def test_conversion_reproduces_all_identity_modes(model, data):
    assert _identity_error(model, data, range(100)) < CONVERSION_MM


def test_file_is_small_and_loads_once(model):
    from faceforge.facemodel import MODEL_PATH, load_model

    assert MODEL_PATH.stat().st_size < 30e6
    assert load_model() is model
    assert model.n_vertices == 26719 and model.identity_basis.shape == (100, 26719, 3)
    assert model.expression_basis.shape == (52, 26719, 3)
    assert model.info["conversion_error"]["expression_max_mm"] < CONVERSION_MM
    with pytest.raises(ValueError):
        model.neutral[0, 0] = 1.0  # read-only


def test_missing_file_is_a_clear_error(tmp_path):
    from faceforge.facemodel import load_model

    with pytest.raises(FaceForgeError, match="face model file is missing"):
        load_model(tmp_path / "nope.npz")


def test_topology_uvs_and_parts(model):
    assert model.polygon_sizes.sum() == len(model.polygon_vertices) == len(model.polygon_uv)
    assert set(np.unique(model.polygon_sizes)) == {3, 4}
    assert model.loop_uv.shape == (len(model.polygon_vertices), 2)
    uv = model.loop_uv
    assert 0.0 <= uv[:, 1].min() and uv[:, 1].max() <= 1.0 and 0.0 <= uv[:, 0].min() and uv[:, 0].max() < 7.0
    # ICT's UDIM-like layout: the face skin in tile 0 (u 0..1), head and neck in tile 1
    part = np.repeat(model.polygon_part, model.polygon_sizes)
    from faceforge.facemodel.model import PART_NAMES as _names

    assert set(np.floor(uv[part == _names.index("face"), 0])) == {0.0}
    assert set(np.floor(uv[part == _names.index("head_neck"), 0])) == {1.0}
    assert (np.bincount(model.triangle_polygon) == model.polygon_sizes - 2).all()
    # every vertex in exactly one base part; groups are unions
    from faceforge.facemodel.model import PART_NAMES

    counts = np.zeros(model.n_vertices, int)
    for name in PART_NAMES:
        counts[model.part(name)] += 1
    assert (counts == 1).all()
    assert set(model.part("eyeball_L")) == set(model.part("sclera_L")) | set(model.part("iris_L"))
    # the subject's left is +x: the left eyeball, lashes and socket sit at x > 0
    for name in ("eyeball_L", "eyelashes_L", "eye_socket_L"):
        assert model.neutral[model.part(name), 0].min() > 0
        assert model.neutral[model.part(name.replace("_L", "_R")), 0].max() < 0


def test_frame_helpers():
    from faceforge.facemodel import BLENDER_FROM_MODEL, from_blender, to_blender

    p = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(to_blender(p), p @ BLENDER_FROM_MODEL.T)
    np.testing.assert_allclose(from_blender(to_blender(p)), p)
    np.testing.assert_allclose(to_blender([0.0, 0.0, 1.0]), [0.0, -1.0, 0.0])  # forward -> -Y
    np.testing.assert_allclose(to_blender([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0])  # up -> Z
    assert np.isclose(np.linalg.det(BLENDER_FROM_MODEL), 1.0)


# --- evaluation ----------------------------------------------------------------------------


def test_arkit_basis_from_ict_sides(model):
    """Left = ICT's _L (the subject's left, +x); browInnerUp and cheekPuff are both sides."""
    for name in ("browInnerUp", "cheekPuff"):
        both = model.shape(name + "_L") + model.shape(name + "_R")
        np.testing.assert_allclose(model.expression_basis[INDEX[name]], both, atol=1e-7)
    np.testing.assert_array_equal(model.expression_basis[INDEX["eyeBlinkLeft"]], model.shape("eyeBlink_L"))
    for name in ("eyeBlinkLeft", "mouthSmileLeft", "browDownLeft", "noseSneerLeft", "cheekSquintLeft"):
        d = np.linalg.norm(model.expression_basis[INDEX[name]], axis=1)
        centre = (model.neutral[:, 0] * d).sum() / d.sum()
        assert centre > 0.01, name  # moves the subject's left side


def test_evaluate_is_linear_in_identity_and_expression(model):
    rng = np.random.default_rng(1)
    a = model.random_identity(rng)
    w = expr(jawOpen=0.5, mouthSmileLeft=0.7)
    v = model.evaluate(a, w)
    ref = model.neutral + np.tensordot(a, model.identity_basis, 1) + np.tensordot(w, model.expression_basis, 1)
    np.testing.assert_allclose(v, ref, atol=2e-6)


def test_gaze_turns_the_eyeballs_and_ict_moves_the_lids(model):
    """eyeLookOutLeft = 1: the left eyeball turns 30 deg toward the subject's left, rigidly about its
    centre; the right one stays; ICT's shape moves the left lids."""
    from faceforge.facemodel.model import PARTS

    v = model.evaluate(None, expr(eyeLookOutLeft=1.0))
    ball = model.part("eyeball_L")
    c = model.eye_centres[0]
    before = model.neutral[ball] - c
    after = v[ball] - c
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), np.linalg.norm(before, axis=1), atol=1e-6)
    axis0, axis1 = model.eye_axes()[0], None
    # the pupil's direction turned 30 deg toward +x about y
    pupil = ball[np.argsort(-(before @ axis0))[:20]]
    d0 = (model.neutral[pupil] - c).mean(0)
    d1 = (v[pupil] - c).mean(0)
    yaw0, yaw1 = np.degrees(np.arctan2(d0[0], d0[2])), np.degrees(np.arctan2(d1[0], d1[2]))
    assert abs((yaw1 - yaw0) - 30.0) < 0.5
    np.testing.assert_allclose(v[model.part("eyeball_R")], model.neutral[model.part("eyeball_R")], atol=1e-7)
    lids = slice(*PARTS["face"])
    assert np.abs(v[lids] - model.neutral[lids]).max() > 1e-3  # ICT's lid follow
    del axis1
    # eyeLookUp: the pupil goes up; eyeLookInRight: the right eye turns toward the nose (+x)
    up = model.evaluate(None, expr(eyeLookUpRight=1.0))
    ball_r = model.part("iris_R")
    assert up[ball_r, 1].mean() > model.neutral[ball_r, 1].mean() + 1e-3
    inn = model.evaluate(None, expr(eyeLookInRight=1.0))
    assert inn[ball_r, 0].mean() > model.neutral[ball_r, 0].mean() + 1e-3


def test_shape_deltas_for_shape_keys(model):
    """Linear deltas: equal to the basis except eyeLook*, whose eyeball delta at weight 1 is the
    rotation at the maximum angle (so weight 1 of a key = evaluate at weight 1)."""
    a = model.random_identity(3)
    d = model.shape_deltas(a)
    base = model.evaluate(a)
    for name in ("eyeLookOutLeft", "eyeLookDownRight", "jawOpen"):
        np.testing.assert_allclose(base + d[INDEX[name]], model.evaluate(a, expr(**{name: 1.0})), atol=2e-6)
    np.testing.assert_array_equal(d[INDEX["mouthPucker"]], model.expression_basis[INDEX["mouthPucker"]])


def test_tongue_out_comes_out_over_the_lower_teeth(model):
    v = model.evaluate(None, expr(jawOpen=0.6, tongueOut=1.0))
    shut = model.evaluate(None, expr(jawOpen=0.6))
    tongue = model.part("gums_tongue")
    teeth_front = shut[model.part("teeth_lower"), 2].max()
    lips_front = shut[model.part("face")][:, 2].max() - 0.02  # well inside the nose tip
    tip = v[tongue, 2].max()
    assert tip > teeth_front + 0.01  # in front of the lower incisors
    moved = np.linalg.norm(v - shut, axis=1) > 1e-4
    assert moved[tongue].sum() > 100 and not moved[model.part("teeth_lower")].any()
    assert lips_front > 0


def test_landmarks_on_the_surface_and_symmetric(model):
    """478 points: the face's on the skin-side parts, the irises on their eyeballs; on the
    mirror-symmetric average head, twins mirror each other (up to the refinement)."""
    from faceforge.facemodel.model import PART_NAMES
    from faceforge.rigging import regions as R

    assert model.landmark_triangles.shape == (478,) and model.landmark_bary.shape == (478, 3)
    np.testing.assert_allclose(model.landmark_bary.sum(1), 1.0, atol=1e-5)
    assert (model.landmark_bary >= -1e-6).all()
    part = model.polygon_part[model.triangle_polygon[model.landmark_triangles]]
    names = np.array(PART_NAMES)[part]
    assert set(names[list(R.IRIS_LEFT)]) <= {"sclera_L", "iris_L"}
    assert set(names[list(R.IRIS_RIGHT)]) <= {"sclera_R", "iris_R"}
    assert set(names[:468]) <= {"face", "head_neck", "mouth_socket", "eye_socket_L", "eye_socket_R"}
    lm = model.landmarks()
    iod = np.linalg.norm(lm[list(R.EYE_LEFT_UPPER)].mean(0) - lm[list(R.EYE_RIGHT_UPPER)].mean(0))
    twin = lm[R.MIRROR] * [-1.0, 1.0, 1.0]
    assert np.median(np.linalg.norm(lm - twin, axis=1)) / iod < 0.02
    assert lm[R.IRIS_LEFT[0], 0] > 0 > lm[R.IRIS_RIGHT[0], 0]
    # against ICT's own iBUG-68 vertices (the documented MediaPipe -> iBUG mapping)
    from faceforge.inference.ibug68 import ibug68_from_mediapipe

    gt = model.ibug68_points()
    err = np.linalg.norm(ibug68_from_mediapipe(lm) - gt, axis=1) / np.linalg.norm(gt[36] - gt[45])
    assert err[17:].mean() < 0.05 and err.mean() < 0.06


# --- fitting (synthetic landmarks) -----------------------------------------------------------


def _random_pose(rng):
    from faceforge.facemodel.model import rot_x, rot_y

    return rng.uniform(0.5, 50.0), rot_y(rng.uniform(-0.5, 0.5)) @ rot_x(rng.uniform(-0.3, 0.3)), rng.normal(0, 2, 3)


def _sparse_expression(rng):
    from facemodel_roundtrip import random_expression

    return random_expression(rng, groups=3)


def _observe(model, rng, identity, w, noise=0.001, outliers=0.05, missing=0.05):
    lm = model.landmarks(model.evaluate(identity, w)) + rng.normal(0, noise, (478, 3))
    bad = rng.random(478) < outliers
    lm[bad] += rng.normal(0, 0.03, (bad.sum(), 3))  # 3 cm off
    s, r, t = _random_pose(rng)
    y = s * lm @ r.T + t
    gone = rng.random(478) < missing
    y[gone] = np.nan
    return y, (s, r, t), bad, gone


def test_fit_expression_recovers_pose_and_weights(model):
    """Known head, 1 mm noise, 5 % outliers (3 cm off), 5 % missing, any similarity."""
    from faceforge.facemodel import fit_expression

    rng = np.random.default_rng(7)
    maes = []
    for _ in range(8):
        a = model.random_identity(rng)
        w = _sparse_expression(rng)
        y, (s, r, t), bad, gone = _observe(model, rng, a, w)
        fit = fit_expression(model, y, identity=a, detector=False)
        maes.append(np.abs(fit.expression - w).mean())
        assert abs(fit.pose.scale / s - 1) < 0.02
        angle = np.degrees(np.arccos(np.clip((np.trace(fit.pose.rotation.T @ r) - 1) / 2, -1, 1)))
        assert angle < 1.5
        assert (fit.weights[gone] == 0).all()
        assert fit.weights[bad & ~gone].mean() < 0.3 * fit.weights[~bad & ~gone].mean()  # outliers found
        assert fit.residual["all"] < 0.06
    print(f"fit_expression synthetic MAE {np.mean(maes):.4f}")
    assert np.mean(maes) < 0.03 and max(maes) < 0.06


def test_fit_identity_recovers_the_head(model):
    """Five frames of one head (one neutral): the fitted head's face is within 1.6 mm of the truth
    (mean vertex distance after similarity alignment; the average head is 4-5 mm off)."""
    from faceforge.facemodel import fit_identity
    from faceforge.rigging.transfer import apply_similarity, similarity

    rng = np.random.default_rng(11)
    face = model.part("face")
    for _ in range(3):
        a = model.random_identity(rng)
        ws = np.array([np.zeros(52)] + [_sparse_expression(rng) for _ in range(4)])
        ys = np.array([_observe(model, rng, a, w)[0] for w in ws])
        fit = fit_identity(model, ys, detector=False)
        assert fit.expression.shape == (5, 52) and len(fit.poses) == 5
        truth, got = model.evaluate(a)[face], model.evaluate(fit.identity)[face]
        s, r, t = similarity(got, truth)
        err = np.linalg.norm(apply_similarity(got, s, r, t) - truth, axis=1).mean() * 1000
        s, r, t = similarity(model.neutral[face], truth)
        base = np.linalg.norm(apply_similarity(model.neutral[face], s, r, t) - truth, axis=1).mean() * 1000
        mae = np.abs(fit.expression - ws).mean()
        print(f"identity: face error {err:.2f} mm (average head {base:.2f} mm), weights MAE {mae:.4f}")
        assert err < 1.6 and err < 0.45 * base
        assert mae < 0.04
        assert np.corrcoef(fit.identity[:5], a[:5])[0, 1] > 0.8  # the large modes


def test_fit_respects_bounds_antagonists_and_mouth_close(model):
    from faceforge.facemodel import fit_expression
    from faceforge.facemodel.fit import ANTAGONISTS

    rng = np.random.default_rng(5)
    for _ in range(6):
        w = _sparse_expression(rng)
        y = model.landmarks(model.evaluate(None, w)) + rng.normal(0, 0.003, (478, 3))
        fit = fit_expression(model, y, detector=False)
        e = fit.expression
        assert (e >= 0).all() and (e <= 1).all()
        for a, b in ANTAGONISTS:
            assert min(e[INDEX[a]], e[INDEX[b]]) <= 0.02, (a, b)
        assert e[INDEX["mouthClose"]] <= e[INDEX["jawOpen"]] + 1e-6


def test_fit_image_like_points_with_perspective(model):
    """Pixels of a pinhole camera (x right, y down) with a noisy, compressed depth: with the camera
    given, the fit undoes the perspective; without it, weak perspective costs accuracy."""
    from faceforge.facemodel import fit_expression
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.model import rot_x, rot_y

    rng = np.random.default_rng(3)
    f, cx, cy = 900.0, 320.0, 240.0
    with_cam, without = [], []
    for _ in range(6):
        a, w = model.random_identity(rng), _sparse_expression(rng)
        lm = model.landmarks(model.evaluate(a, w))
        rot = rot_x(np.pi + rng.uniform(-0.2, 0.2)) @ rot_y(rng.uniform(-0.3, 0.3))  # y down, z away
        cam = lm @ rot.T + [0.0, 0.0, 0.35]  # 35 cm away: strong perspective
        px = np.c_[f * cam[:, 0] / cam[:, 2] + cx, f * cam[:, 1] / cam[:, 2] + cy]
        px += rng.normal(0, 0.6, px.shape)
        z = (cam[:, 2] - cam[:, 2].mean()) * f / 0.35 * 0.8 + rng.normal(0, 3, len(px))
        obs = np.c_[px, z]
        with_cam.append(np.abs(fit_expression(model, obs, identity=a, depth_weight=IMAGE_DEPTH_WEIGHT,
                                              camera=(f, cx, cy), detector=False).expression - w).mean())
        without.append(np.abs(fit_expression(model, obs, identity=a, depth_weight=IMAGE_DEPTH_WEIGHT,
                                             detector=False).expression - w).mean())
    print(f"image-like MAE: with camera {np.mean(with_cam):.4f}, weak perspective {np.mean(without):.4f}")
    assert np.mean(with_cam) < 0.03
    assert np.mean(with_cam) < np.mean(without)


def test_video_smoothness_and_warm_start(model):
    """``previous`` smooths jitter from landmark noise without lagging a real motion much."""
    from faceforge.facemodel import fit_expression

    rng = np.random.default_rng(2)
    a = model.random_identity(rng)
    t = np.arange(60)
    truth = np.zeros((60, 52))
    truth[:, INDEX["jawOpen"]] = 0.4 + 0.3 * np.sin(t / 8)
    truth[:, INDEX["eyeBlinkLeft"]] = truth[:, INDEX["eyeBlinkRight"]] = (t % 30 < 4) * 0.9
    obs = [model.landmarks(model.evaluate(a, w)) + rng.normal(0, 0.0015, (478, 3)) for w in truth]
    fits = {}
    for smooth in (0.0, 2.0):
        prev, out = None, []
        for y in obs:
            prev = fit_expression(model, y, identity=a, previous=prev, smooth=smooth, detector=False)
            out.append(prev.expression)
        fits[smooth] = np.array(out)
    jitter = {k: np.abs(np.diff(v[:, INDEX["mouthSmileLeft"]])).mean() + np.abs(np.diff(v, axis=0)).mean()
              for k, v in fits.items()}
    assert jitter[2.0] < jitter[0.0]
    assert np.abs(fits[2.0] - truth).mean() < 0.03
    blink = fits[2.0][:, INDEX["eyeBlinkLeft"]]
    assert blink[1:4].mean() > 0.6 and blink[10:25].max() < 0.15


def test_bad_input_is_a_clear_error(model):
    from faceforge.facemodel import fit_expression, fit_identity

    with pytest.raises(FaceForgeError, match="478"):
        fit_expression(model, np.zeros((468, 3)))
    y = np.full((478, 3), np.nan)
    y[:5] = 0.0
    with pytest.raises(FaceForgeError, match="too few"):
        fit_identity(model, y)
    with pytest.raises(TypeError, match="unknown fitting setting"):
        fit_expression(model, model.landmarks(), sparsty=1.0)
