"""The face model in Blender (api/facemodel.py) and the rendered round trip:
model -> Blender head -> render -> MediaPipe -> fit."""

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES, INDEX
from faceforge.core.errors import FaceForgeError


@pytest.fixture(scope="module")
def model():
    from faceforge.facemodel import load_model

    return load_model()


def expr(**weights):
    w = np.zeros(52)
    for k, v in weights.items():
        w[INDEX[k]] = v
    return w


def _coords(obj, key=None):
    data = obj.data.vertices if key is None else obj.data.shape_keys.key_blocks[key].data
    co = np.empty(len(data) * 3, np.float32)
    data.foreach_get("co", co)
    return co.reshape(-1, 3)


def test_head_object_parts_uvs_landmarks(model):
    from faceforge.api import binding
    from faceforge.api.facemodel import VERTEX_GROUPS, build_face_object
    from faceforge.facemodel import to_blender

    a = model.random_identity(4)
    obj = build_face_object(a, expr(jawOpen=0.3))
    me = obj.data
    assert len(me.vertices) == model.n_vertices and len(me.polygons) == len(model.polygon_sizes)
    sizes = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", sizes)
    np.testing.assert_array_equal(sizes, model.polygon_sizes)  # quads kept
    uv = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers["UVMap"].data.foreach_get("uv", uv)
    np.testing.assert_allclose(uv.reshape(-1, 2), model.loop_uv, atol=1e-6)
    np.testing.assert_allclose(_coords(obj), to_blender(model.evaluate(a, expr(jawOpen=0.3))), atol=1e-6)
    # metres, facing -Y, Z up, the subject's left +X
    co = _coords(obj)
    assert 0.15 < np.ptp(co[:, 2]) < 0.5
    groups = {g.name: g.index for g in obj.vertex_groups}
    assert set(VERTEX_GROUPS) <= set(groups)
    left = np.array([v.index for v in me.vertices if any(g.group == groups["eyeball_L"] for g in v.groups)])
    np.testing.assert_array_equal(np.sort(left), model.part("eyeball_L"))
    assert co[left, 0].min() > 0 and co[model.part("eyeball_R"), 0].max() < 0
    assert co[model.part("eyeball_L"), 1].mean() < co[model.part("head_neck"), 1].mean()  # eyes in front (-Y)
    # landmarks bound already, from the model's correspondence
    assert obj.faceforge.landmarks.source == "MODEL"
    lm = binding.landmark_positions(obj)
    np.testing.assert_allclose(lm, to_blender(model.landmarks(model.evaluate(a, expr(jawOpen=0.3)))), atol=1e-5)
    assert len(me.materials) >= 8 and {m.name for m in me.materials} >= {"FaceForge_skin", "FaceForge_iris"}
    assert list(obj["faceforge_identity"]) == pytest.approx(list(a))


def test_shape_keys_match_the_model(model):
    from faceforge.api.facemodel import build_face_object, set_face_vertices
    from faceforge.facemodel import to_blender

    a = model.random_identity(6)
    obj = build_face_object(a, shape_keys=True)
    keys = obj.data.shape_keys.key_blocks
    assert [k.name for k in keys][1:] == list(ARKIT_NAMES)
    for name in ("eyeLookOutLeft", "mouthSmileRight", "tongueOut"):
        np.testing.assert_allclose(_coords(obj, name), to_blender(model.evaluate(a, expr(**{name: 1.0}))), atol=2e-6)
    set_face_vertices(obj, None, None)
    np.testing.assert_allclose(_coords(obj), to_blender(model.neutral), atol=1e-6)


def test_bad_arguments(model):
    from faceforge.api.facemodel import build_face_object, set_face_vertices

    with pytest.raises(FaceForgeError, match="modes"):
        build_face_object(np.zeros(101))
    with pytest.raises(FaceForgeError, match="52"):
        build_face_object(None, np.zeros(51))
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(FaceForgeError, match="not a face-model head"):
        set_face_vertices(bpy.context.active_object, None, None)


def test_rendered_head_reads_back(model):
    """One render (the default suite): a head winking its left eye, smiling on its right, jaw open,
    turned a little; MediaPipe's points fitted (identity unknown) give those shapes back."""
    from facemodel_roundtrip import roundtrip

    from faceforge.inference.face_mesh import FaceMeshDetector

    rng = np.random.default_rng(21)
    w = expr(eyeBlinkLeft=1.0, mouthSmileRight=0.8, jawOpen=0.5)
    with FaceMeshDetector(video=False, max_faces=1, min_confidence=0.3) as det:
        r = roundtrip(model, det, rng, identity=model.random_identity(rng), expression=w, yaw_deg=8, pitch_deg=-4)
    assert r is not None
    got = r["weights"]
    print("round trip:", {ARKIT_NAMES[i]: round(float(got[i]), 2) for i in np.flatnonzero(got > 0.05)})
    assert got[INDEX["eyeBlinkLeft"]] > 0.6 and got[INDEX["eyeBlinkRight"]] < 0.3  # the subject's left
    assert got[INDEX["mouthSmileRight"]] > 0.4 and got[INDEX["mouthSmileLeft"]] < 0.3
    assert abs(got[INDEX["jawOpen"]] - 0.5) < 0.2
    assert r["mae_visible"] < 0.1


@pytest.mark.slow
def test_rendered_round_trip_many_heads(model):
    """Random heads, each in 5 renders (neutral + random sparse expressions, turned up to 12 deg),
    read by MediaPipe and fitted as a video would be (identity from the 5 frames).  Weight MAE over
    the shapes a camera can see, over the shapes that were on, recall and false weights (figures:
    benchmarks/bench_facemodel.py)."""
    from facemodel_roundtrip import scores, sequence, visible_shapes

    from faceforge.inference.face_mesh import FaceMeshDetector

    rng = np.random.default_rng(1)
    runs = []
    with FaceMeshDetector(video=False, max_faces=1, min_confidence=0.3) as det:
        for _ in range(6):
            r = sequence(model, det, rng)
            if r is not None:
                runs.append(r)
    assert len(runs) >= 5
    truth = np.concatenate([r["truth"] for r in runs])
    got = np.concatenate([r["joint"] for r in runs])
    sc = scores(truth, got, visible_shapes(model))
    print(f"rendered round trip ({len(runs)} heads x 4 expressions): {sc}")
    assert sc["visible"] < 0.065 and sc["false_on"] < 0.05
    assert sc["recall"] > 0.3 and sc["active"] < 0.45
