"""Emotion presets: FACS-built ARKit poses, intensity, blending, per-character scales, posing."""

import numpy as np
import pytest

from faceforge.animation import emotions
from faceforge.core.arkit import ARKIT_NAMES, INDEX, MIRROR_INDEX
from faceforge.core.errors import FaceForgeError



def new_shape_key(obj, name):
    """A shape key at value 0 on every Blender line (5.x creates new keys at 1.0)."""
    from faceforge.api.compat import new_shape_key as _new

    return _new(obj, name)

def make_character(name="Face", arkit=ARKIT_NAMES):
    """A small grid mesh with one shape key per ARKit name (key k lifts vertex k by 1 cm)."""
    import bpy

    n = 8
    verts = [(x * 0.01, 0.0, z * 0.01) for z in range(n) for x in range(n)]
    faces = [(z * n + x, z * n + x + 1, (z + 1) * n + x + 1, (z + 1) * n + x)
             for z in range(n - 1) for x in range(n - 1)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    new_shape_key(obj, "Basis")
    for k, shape in enumerate(arkit):
        kb = new_shape_key(obj, shape)
        kb.data[k % len(verts)].co.y -= 0.01
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def w(pose, *names):
    return np.array([pose[INDEX[n]] for n in names])


# --- pure: the poses ------------------------------------------------------------------

def test_every_au_recipe_uses_arkit_names_and_seven_emotions_exist():
    assert set(emotions.EMOTIONS) == {"neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust"}
    for au, (label, recipe) in emotions.AU_ARKIT.items():
        assert recipe and set(recipe) <= set(ARKIT_NAMES), (au, label)
    for name, pose in emotions.EMOTION_POSES.items():
        assert pose.shape == (52,) and pose.min() >= 0 and pose.max() <= 1
        # FACS prototypes are symmetric: left and right twins carry the same weight.
        np.testing.assert_allclose(pose, pose[list(MIRROR_INDEX)], err_msg=name)


def test_each_emotion_moves_its_characteristic_shapes():
    P = emotions.EMOTION_POSES
    assert not P["neutral"].any()
    # happiness = AU6 + AU12: cheeks up, lip corners up; nothing sad or angry
    assert (w(P["happiness"], "mouthSmileLeft", "cheekSquintLeft") >= 0.7).all()
    assert w(P["happiness"], "mouthFrownLeft", "browDownLeft", "browInnerUp").max() == 0
    # sadness = AU1 + AU4 + AU15: inner brows up (more than brows down), corners down, no smile
    assert P["sadness"][INDEX["browInnerUp"]] >= 0.9
    assert P["sadness"][INDEX["browInnerUp"]] > P["sadness"][INDEX["browDownLeft"]]
    assert P["sadness"][INDEX["mouthFrownLeft"]] >= 0.7 and P["sadness"][INDEX["mouthSmileLeft"]] == 0
    # surprise = AU1 + 2 + 5 + 26: brows up, eyes wide, jaw open; no brow lowering
    assert (w(P["surprise"], "browInnerUp", "browOuterUpLeft", "eyeWideLeft", "jawOpen") >= 0.5).all()
    assert P["surprise"][INDEX["browDownLeft"]] == 0
    # fear: brows up AND together, eyes wide, lips stretched
    assert (w(P["fear"], "browInnerUp", "eyeWideLeft", "mouthStretchLeft") >= 0.6).all()
    assert P["fear"][INDEX["browDownLeft"]] > 0
    # anger = AU4 + 5 + 7 + 23/24: brows down, lids tight, lips pressed; no brow raise or smile
    assert (w(P["anger"], "browDownLeft", "eyeSquintLeft", "mouthPressLeft") >= 0.7).all()
    assert w(P["anger"], "browInnerUp", "mouthSmileLeft", "jawOpen").max() == 0
    # disgust = AU9 + 10 + 15/16: nose wrinkled, upper lip up
    assert (w(P["disgust"], "noseSneerLeft", "mouthUpperUpLeft") >= 0.7).all()
    assert P["disgust"][INDEX["mouthSmileLeft"]] == 0
    # and each emotion is its own nearest prototype, far from the others
    for name in emotions.EMOTIONS[1:]:
        assert emotions.classify(P[name])[0] == name


def test_intensity_scales_linearly_and_is_validated():
    full = emotions.emotion_pose("happy")
    np.testing.assert_allclose(emotions.emotion_pose("happiness", 0.5), full * 0.5)
    assert not emotions.emotion_pose("happy", 0.0).any()
    with pytest.raises(FaceForgeError, match="between 0 and 1"):
        emotions.emotion_pose("happy", 1.5)
    with pytest.raises(FaceForgeError, match="Unknown emotion 'smug'"):
        emotions.emotion_pose("smug")


def test_blending_two_emotions_is_their_weighted_mix():
    mix = emotions.blend_emotions({"happy": 0.7, "surprised": 0.3})
    want = 0.7 * emotions.EMOTION_POSES["happiness"] + 0.3 * emotions.EMOTION_POSES["surprise"]
    np.testing.assert_allclose(mix, want)
    # shares above 1 in total are normalised; below 1 are kept (a half-strength pose)
    np.testing.assert_allclose(emotions.blend_emotions({"happy": 2, "sad": 2}),
                               emotions.blend_emotions({"happy": 0.5, "sad": 0.5}))
    np.testing.assert_allclose(emotions.blend_emotions({"happy": 0.5}), 0.5 * emotions.EMOTION_POSES["happiness"])
    assert emotions.parse_mix("70% happy + 30% surprised") == {"happiness": 0.7, "surprise": 0.3}
    assert emotions.parse_mix("happy 0.7 and sad 0.3") == {"happiness": 0.7, "sadness": 0.3}
    assert emotions.parse_mix("Angry") == {"anger": 1.0}
    assert emotions.parse_mix("a shy smile") is None


def test_per_character_scales_by_shape_and_region():
    base = emotions.emotion_pose("happiness")
    scaled = emotions.emotion_pose("happiness", scales={"Mouth": 0.5, "mouthSmileLeft": 0.2, "Cheeks & Nose": 2})
    assert scaled[INDEX["mouthSmileLeft"]] == pytest.approx(base[INDEX["mouthSmileLeft"]] * 0.2)
    assert scaled[INDEX["mouthSmileRight"]] == pytest.approx(base[INDEX["mouthSmileRight"]] * 0.5)
    assert scaled[INDEX["cheekSquintLeft"]] == pytest.approx(min(1.0, base[INDEX["cheekSquintLeft"]] * 2))
    assert scaled.max() <= 1.0
    with pytest.raises(FaceForgeError, match="neither an ARKit shape nor a region"):
        emotions.emotion_pose("happy", scales={"mouthSmile": 1})


# --- Blender: posing a character --------------------------------------------------------

def test_pose_emotion_sets_shape_keys_and_keys_them(ff):
    import bpy

    from faceforge.api import expressions

    obj = make_character()
    result = expressions.pose_emotion(obj, "happy", 0.8, blend_with="surprised", blend=0.3, key_frame=5)
    blocks = obj.data.shape_keys.key_blocks
    want = emotions.blend_emotions({"happiness": 0.7, "surprise": 0.3}, intensity=0.8)
    got = np.array([blocks[n].value for n in ARKIT_NAMES])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert result["mix"] == {"happiness": pytest.approx(0.7), "surprise": pytest.approx(0.3)}
    # keyed at frame 5: moving away and back restores the pose from the curves
    bpy.context.scene.frame_set(20)
    bpy.context.scene.frame_set(5)
    assert blocks["mouthSmileLeft"].value == pytest.approx(want[INDEX["mouthSmileLeft"]], abs=1e-5)


def test_character_scales_are_stored_on_the_object(ff):
    from faceforge.api import expressions

    obj = make_character()
    expressions.set_character_scales(obj, {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5})
    expressions.pose_emotion(obj, "happiness")
    blocks = obj.data.shape_keys.key_blocks
    assert blocks["mouthSmileLeft"].value == pytest.approx(0.5)
    assert blocks["cheekSquintLeft"].value == pytest.approx(emotions.EMOTION_POSES["happiness"][INDEX["cheekSquintLeft"]])


def test_character_without_arkit_keys_is_refused_with_a_clear_message(ff):
    import bpy

    from faceforge.api import expressions

    obj = make_character(arkit=("Smile", "Frown"))
    with pytest.raises(FaceForgeError, match="no ARKit shape keys.*2 Rig"):
        expressions.pose_emotion(obj, "happy")
    assert obj.data.shape_keys.key_blocks["Smile"].value == 0
    # the operator is unavailable and says why
    assert not bpy.ops.faceforge.pose_emotion.poll()


def test_partial_rig_drives_only_the_shapes_it_has(ff):
    from faceforge.api import expressions

    obj = make_character(arkit=("mouthSmileLeft", "mouthSmileRight", "jawOpen"))
    result = expressions.pose_emotion(obj, "happiness")
    assert set(result["set"]) == {"mouthSmileLeft", "mouthSmileRight", "jawOpen"}


def test_operator_poses_the_active_character(ff):
    import bpy

    obj = make_character()
    words = bpy.context.scene.faceforge.animate.expressions
    words.emotion = "anger"
    words.intensity = 0.5
    words.blend_with = "NONE"
    assert bpy.ops.faceforge.pose_emotion() == {"FINISHED"}
    blocks = obj.data.shape_keys.key_blocks
    assert blocks["browDownLeft"].value == pytest.approx(0.5)
    assert blocks["mouthSmileLeft"].value == 0


# --- closed loop through MediaPipe (the loop itself: tests/test_emotions_closed_loop.py) ----

# Landmark indices (MediaPipe Face Mesh; image coordinates, y down).
MOUTH_CORNERS = (61, 291)
UPPER_LIP, LOWER_LIP = 13, 14  # inner lip contour
UPPER_LIP_TOP, LOWER_LIP_BOTTOM = 0, 17  # outer lip contour
INNER_BROWS = (107, 336)
EYE_LIDS = ((159, 145), (386, 374))
NOSE_TIP, NOSE_BASE = 1, 2
EYES = (33, 263)


def landmark_features(points):
    """Scale-free measurements of a face's landmarks (478, 2+) used for the emotion directions."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    iod = np.linalg.norm(p[EYES[0]] - p[EYES[1]])
    eye_y = (p[EYES[0], 1] + p[EYES[1], 1]) / 2
    mouth_mid_y = (p[UPPER_LIP, 1] + p[LOWER_LIP, 1]) / 2
    return {
        "corner_lift": (mouth_mid_y - p[list(MOUTH_CORNERS), 1].mean()) / iod,  # + when corners go up
        "inner_brow_height": (eye_y - p[list(INNER_BROWS), 1].mean()) / iod,
        "eye_open": np.mean([abs(p[a, 1] - p[b, 1]) for a, b in EYE_LIDS]) / iod,
        "mouth_open": (p[LOWER_LIP, 1] - p[UPPER_LIP, 1]) / iod,
        "mouth_width": np.linalg.norm(p[MOUTH_CORNERS[0]] - p[MOUTH_CORNERS[1]]) / iod,
        "upper_lip_to_nose": (p[UPPER_LIP_TOP, 1] - p[NOSE_BASE, 1]) / iod,
        "lip_height": (p[LOWER_LIP_BOTTOM, 1] - p[UPPER_LIP_TOP, 1]) / iod,  # outer lip contour
    }


# emotion -> {feature: expected sign of (emotion - neutral)}
CHARACTERISTIC = {
    "happiness": {"corner_lift": +1, "mouth_width": +1},
    "sadness": {"inner_brow_height": +1, "corner_lift": -1},
    "anger": {"inner_brow_height": -1, "lip_height": -1},  # brows down, lips pressed thin
    "surprise": {"eye_open": +1, "mouth_open": +1, "inner_brow_height": +1},
    "fear": {"eye_open": +1, "inner_brow_height": +1, "mouth_width": +1},
    "disgust": {"upper_lip_to_nose": -1},
}


def test_landmark_direction_checks_read_the_right_signs():
    """The closed-loop measurements on a synthetic landmark set (so they are ready for the real loop)."""
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 400, size=(478, 2))
    base[33], base[263] = (200, 250), (300, 250)
    base[13], base[14], base[61], base[291], base[2] = (250, 380), (250, 385), (215, 385), (285, 385), (250, 340)
    base[107], base[336] = (235, 215), (265, 215)
    smile = base.copy()
    smile[[61, 291], 1] -= 8
    smile[61, 0] -= 3
    smile[291, 0] += 3
    d = {k: landmark_features(smile)[k] - landmark_features(base)[k] for k in CHARACTERISTIC["happiness"]}
    assert all(np.sign(d[k]) == s for k, s in CHARACTERISTIC["happiness"].items())
    brows_up = base.copy()
    brows_up[[107, 336], 1] -= 6
    assert landmark_features(brows_up)["inner_brow_height"] > landmark_features(base)["inner_brow_height"]


def test_cli_emotion_prints_weights_and_poses_a_saved_character(ff, tmp_out, capsys):
    import json

    import bpy

    from faceforge import cli
    from faceforge.api import scene

    assert cli.main(["emotion", "happy", "--intensity", "0.5", "--blend", "surprised:0.2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    want = emotions.blend_emotions({"happy": 0.8, "surprised": 0.2}, intensity=0.5)
    assert printed["mouthSmileLeft"] == pytest.approx(want[INDEX["mouthSmileLeft"]], abs=1e-4)
    assert "mouthFrownLeft" not in printed
    make_character("Hero")
    src = scene.save_blend(str(tmp_out / "hero.blend"))
    assert cli.main(["emotion", "anger", "--character", src, "--object", "Hero", "--scale", "Brows=0.5",
                     "--out", str(tmp_out / "angry.blend")]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(tmp_out / "angry.blend"))
    assert bpy.data.objects["Hero"].data.shape_keys.key_blocks["browDownLeft"].value == pytest.approx(0.5)
    assert cli.main(["emotion", "smug"]) == 2
    assert cli.main(["emotion", "happy", "--scale", "Mouth"]) == 2


def test_store_scales_operator_changes_every_later_pose(ff):
    import bpy

    obj = make_character()
    words = bpy.context.scene.faceforge.animate.expressions
    words.scale_mouth, words.scale_brows = 0.5, 1.0
    assert bpy.ops.faceforge.store_expression_scales() == {"FINISHED"}
    from faceforge.api import expressions

    assert expressions.character_scales(obj) == {"Mouth": 0.5}
    words.emotion, words.intensity, words.blend_with = "happiness", 1.0, "NONE"
    bpy.ops.faceforge.pose_emotion()
    blocks = obj.data.shape_keys.key_blocks
    assert blocks["mouthSmileLeft"].value == pytest.approx(0.5)
    assert blocks["cheekSquintLeft"].value == pytest.approx(emotions.EMOTION_POSES["happiness"][INDEX["cheekSquintLeft"]])
    words.scale_mouth = 1.0
    bpy.ops.faceforge.store_expression_scales()
    assert len(obj.faceforge.animate.expression_scales) == 0 and "faceforge_shape_scales" not in obj


def test_pose_onto_an_animated_character_is_keyed_and_survives_saving(ff, tmp_path):
    """A character whose shape keys play an action would drop a plain pose at the next frame
    change and in the saved file: the pose is keyed at the current frame, and the result says so."""
    import bpy

    from faceforge.api import actions, expressions, scene

    obj = make_character()
    key = obj.data.shape_keys
    take = bpy.data.actions.new("Take")
    bag = actions.channels_for(take, key, slot_name=key.name)
    actions.write_curves(bag, actions.shape_key_channels(["mouthSmileLeft"]), np.array([1.0, 50.0]),
                         np.array([[0.0], [0.0]]))
    bpy.context.scene.frame_set(20)
    r = expressions.pose_emotion(obj, "surprise")
    assert r["key_frame"] == 20 and "keyed at frame 20" in r["note"] and "'Take'" in r["note"]
    path = scene.save_blend(str(tmp_path / "posed.blend"))
    scene.open_blend(path)
    bpy.context.scene.frame_set(20)
    blocks = bpy.data.objects["Face"].data.shape_keys.key_blocks
    assert blocks["browInnerUp"].value > 0.5 and blocks["jawOpen"].value > 0.3
    bpy.context.scene.frame_set(1)  # the take's own frames are untouched (frame 1: the pose was keyed at 20)
    assert blocks["mouthSmileLeft"].value < 0.01
    result, applied = expressions.pose_from_text(bpy.data.objects["Face"], "very happy")
    assert applied.key_frame == 1 and "keyed at frame 1" in applied.note and result.emotion == "happiness"
    # without an action nothing is keyed
    obj2 = make_character("Still")
    r2 = expressions.pose_emotion(obj2, "happy")
    assert r2["key_frame"] is None and r2["note"] == "" and obj2.data.shape_keys.animation_data is None


def test_surprise_and_fear_read_apart_on_the_scan_head(ff):
    """On the scan-based head (face model, untextured but for painted brows and lips), the face
    tracker tells the surprise and fear presets apart by their brows and mouths: surprise raises
    the brows more and opens a round mouth; fear raises the inner brows and stretches the lips."""
    from faceforge.api import contact_sheet, facemodel, scene
    from faceforge.core.arkit import ARKIT_NAMES
    from faceforge.inference.face_mesh import FaceMeshDetector

    scene.clear_scene()
    obj = facemodel.build_face_object(None, None, name="Head", shape_keys=True)
    det = FaceMeshDetector(video=False)

    def seen(pose):
        extra = {ARKIT_NAMES[i]: float(pose[i]) for i in np.flatnonzero(pose)}
        img, _cam = contact_sheet.render_shape(obj, None, size=384, extra=extra)
        rgb = np.ascontiguousarray(img[..., :3]) if img.dtype == np.uint8 else \
            (np.clip(img[..., :3], 0, 1) * 255).astype(np.uint8)
        p = det.detect(rgb).points[:, :2]
        iod = np.linalg.norm(p[468] - p[473])
        eye_y = (p[159, 1] + p[386, 1]) / 2
        return {"inner": (eye_y - (p[107, 1] + p[336, 1]) / 2) / iod,
                "outer": (eye_y - (p[70, 1] + p[300, 1]) / 2) / iod,
                "width": np.linalg.norm(p[61] - p[291]) / iod, "open": np.linalg.norm(p[13] - p[14]) / iod}

    rest = seen(np.zeros(len(ARKIT_NAMES)))
    s = {k: v - rest[k] for k, v in seen(emotions.EMOTION_POSES["surprise"]).items()}
    f = {k: v - rest[k] for k, v in seen(emotions.EMOTION_POSES["fear"]).items()}
    print(f"\nsurprise {s}\nfear     {f}")
    assert s["inner"] > 0.04 and f["inner"] > 0.015  # both raise the inner brows
    assert s["outer"] > f["outer"] + 0.02  # surprise lifts the whole brow
    assert f["width"] > 0.05 and f["width"] > s["width"] + 0.08  # fear stretches the lips
    assert s["open"] > 0.2 and f["open"] > 0.1  # both part the lips (surprise wider)
