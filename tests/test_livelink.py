"""Live Link Face CSV: the app's layout, timecodes, and a lossless round trip through Blender."""

from __future__ import annotations

import csv

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES
from faceforge.core.errors import FaceForgeError
from faceforge.formats import livelink as llf
from fixtures_character import bake_take, known_weights, make_character, scene_settings_kept


@pytest.fixture(autouse=True)
def _keep_scene_settings():
    with scene_settings_kept():
        yield


def test_columns_follow_live_link_face():
    assert len(llf.HEADER) == 2 + 52 + 9 and llf.BLENDSHAPE_COUNT == 61
    assert llf.HEADER[:4] == ("Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft")
    assert llf.HEADER[-9:] == ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                               "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
    assert sorted(llf.to_arkit(n) for n in llf.LLF_NAMES) == sorted(ARKIT_NAMES)
    assert llf.to_llf("eyeBlinkLeft") == "EyeBlinkLeft" and llf.to_arkit("JawOpen") == "jawOpen"
    assert llf.LLF_NAMES[14:18] == ("JawForward", "JawRight", "JawLeft", "JawOpen")


@pytest.mark.parametrize("fps", [24, 30, 60])
def test_timecode_round_trip(fps):
    for seconds in (0.0, 1 / fps, 59 / fps + 12.0, 3725.5, 0.999999):
        tc = llf.format_timecode(seconds, fps)
        assert len(tc.split(":")) == 4
        assert llf.parse_timecode(tc, fps) == pytest.approx(seconds, abs=1e-3 / fps)
    assert llf.format_timecode(3661 + 2 / fps, fps) == "01:01:01:02.000"


def test_csv_round_trip_pure(tmp_path):
    rng = np.random.default_rng(3)
    w = rng.random((90, 52))
    rot = rng.normal(0, 0.2, (90, 9))
    path = tmp_path / "take.csv"
    llf.write_csv(path, w, 60, rotations=rot)
    rows = list(csv.reader(open(path)))
    assert tuple(rows[0]) == llf.HEADER and rows[1][1] == "61" and rows[1][0] == "00:00:00:00.000"
    assert rows[2][0] == "00:00:00:01.000" and rows[61][0] == "00:00:01:00.000"
    assert float(rows[1][2]) == pytest.approx(w[0, ARKIT_NAMES.index("eyeBlinkLeft")], abs=1e-6)
    take = llf.read_csv(path)
    assert take.fps == 60 and take.frames == 90 and not take.warnings
    np.testing.assert_allclose(take.weights, w, atol=1e-6)
    np.testing.assert_allclose(take.rotations, rot, atol=1e-6)
    np.testing.assert_allclose(take.seconds, np.arange(90) / 60, atol=1e-9)


def test_reads_other_spellings_and_orders():
    """camelCase headers, shuffled columns, wall-clock timecodes, missing rotations."""
    names = list(reversed(ARKIT_NAMES))
    lines = ["Timecode,BlendShapeCount," + ",".join(names)]
    for i in range(3):
        vals = [f"{(k + i) / 100:.2f}" for k in range(52)]
        lines.append(f"14:03:52:{28 + i}.500,52," + ",".join(vals))
    take = llf.read_csv("\n".join(lines) + "\n", fps=30)
    assert take.weights[0, ARKIT_NAMES.index("tongueOut")] == pytest.approx(0.0)
    assert take.weights[2, ARKIT_NAMES.index("browDownLeft")] == pytest.approx(0.53)
    np.testing.assert_allclose(take.seconds, [0, 1 / 30, 2 / 30])
    assert take.start_seconds == pytest.approx(14 * 3600 + 3 * 60 + 52 + 28.5 / 30)
    # crossing a second boundary keeps time increasing
    text = "Timecode,JawOpen\n00:00:00:59.000,0\n00:00:01:00.000,1\n"
    take = llf.read_csv(text, fps=60)
    np.testing.assert_allclose(take.seconds, [0, 1 / 60])
    assert any("missing" in w for w in take.warnings)
    # resampling 60 -> 30 fps keeps every other row
    w = np.linspace(0, 1, 61)[:, None] * np.ones(52)
    t = llf.LiveLinkTake(np.arange(61) / 60, w, np.zeros((61, 9)), 60)
    np.testing.assert_allclose(t.resample(30), w[::2], atol=1e-9)


def test_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(FaceForgeError, match="not found"):
        llf.read_csv(tmp_path / "none.csv")
    bad = tmp_path / "corrupt.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe garbage")
    with pytest.raises(FaceForgeError, match="corrupt.csv"):
        llf.read_csv(bad)
    with pytest.raises(FaceForgeError, match="no 'Timecode'"):
        llf.read_csv("a,b\n1,2\n")
    with pytest.raises(FaceForgeError, match="line 3"):
        llf.read_csv("Timecode,JawOpen\n00:00:00:00.000,0.5\n00:00:00:01.000,oops\n")
    with pytest.raises(FaceForgeError, match="no frames"):
        llf.read_csv("Timecode,JawOpen\n")


def test_blender_round_trip_reproduces_the_weights(ff, tmp_path):
    """Baked take -> CSV -> a fresh action on the character: same weights every frame."""
    from faceforge.api import actions, livelink

    bpy.context.scene.render.fps = 30
    obj = make_character(armature=False)
    baked = known_weights(75, 4)
    take = bake_take(obj, baked, "Perf", start=1)
    users = bpy.data.actions.new("UserAction")
    path = livelink.export_livelink(obj, tmp_path / "perf", action="Perf")
    assert path.suffix == ".csv"
    result = livelink.import_livelink(obj, path, start_frame=101)
    assert result.frames == 75 and result.frame_start == 101 and result.source_fps == 30
    assert result.action != take.name and take.name in bpy.data.actions and users.name in bpy.data.actions
    got = actions.sample_shape_key_curves(obj, ARKIT_NAMES, np.arange(101, 176))
    np.testing.assert_allclose(got, baked, atol=1e-5)
    # and back out again: identical CSV values
    again = livelink.export_livelink(obj, tmp_path / "again.csv", action=result.action)
    np.testing.assert_allclose(llf.read_csv(again).weights, llf.read_csv(path).weights, atol=1e-6)


def test_import_resamples_to_the_scene_rate(ff, tmp_path):
    from faceforge.api import actions, livelink

    bpy.context.scene.render.fps = 30
    obj = make_character(armature=False)
    w60 = known_weights(121, 9)
    llf.write_csv(tmp_path / "sixty.csv", w60, 60)
    result = livelink.import_livelink(obj, tmp_path / "sixty.csv")
    assert result.source_fps == 60 and result.frames == 61  # 2 s at 30 fps
    got = actions.sample_shape_key_curves(obj, ARKIT_NAMES, np.arange(1, 62))
    np.testing.assert_allclose(got, w60[::2], atol=1e-5)
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(FaceForgeError, match="Rig stage"):
        livelink.import_livelink(bpy.context.active_object, tmp_path / "sixty.csv")


def test_timecodes_tell_the_real_time_at_any_row_rate(tmp_path):
    """A 24 fps take: a row every 1/24 s, timecodes at the app's 60 fps - a reader that assumes
    60 fps timecodes (as tools do) times every row right; ours reads the rows' rate back."""
    w = known_weights(50, 2)
    path = tmp_path / "t24.csv"
    llf.write_csv(path, w, 24)
    rows = list(csv.reader(open(path)))
    assert rows[2][0] == "00:00:00:02.500" and rows[25][0] == "00:00:01:00.000"
    assert [llf.parse_timecode(r[0], 60) for r in rows[1:]] == pytest.approx(np.arange(50) / 24, abs=1e-6)
    take = llf.read_csv(path)
    assert take.fps == 60 and take.row_fps == 24 and take.frames == 50
    np.testing.assert_allclose(take.seconds, np.arange(50) / 24, atol=1e-6)


def test_yaw_pitch_roll_convention():
    ypr = np.array([[0.3, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]])
    r = llf.matrices_from_ypr(ypr)
    assert (r[0] @ [0, 0, 1])[0] > 0.29  # yaw > 0: the nose turns to the subject's left (+x)
    assert (r[1] @ [0, 0, 1])[1] < -0.29  # pitch > 0: the nose goes down
    assert (r[2] @ [0, 1, 0])[0] < -0.29  # roll > 0: the top of the head tilts to the subject's right
    rng = np.random.default_rng(1).normal(0, 0.4, (40, 3))
    np.testing.assert_allclose(llf.ypr_from_matrices(llf.matrices_from_ypr(rng)), rng, atol=1e-12)


def _head_take(obj, frames):
    """Key the fixture rig's head bone: a nod and a turn (rotation_euler, in the take's action)."""
    from faceforge.api import actions

    arm = obj.parent
    action = obj.data.shape_keys.animation_data.action
    t = np.arange(frames)
    rot = np.stack([0.25 * np.sin(t / 9.0), 0.1 * np.sin(t / 5.0), 0.2 * np.cos(t / 7.0) - 0.2], 1)
    bag = actions.channels_for(action, arm)
    actions.write_curves(bag, [('pose.bones["head"].rotation_euler', i) for i in range(3)],
                         np.arange(1, frames + 1), rot)
    arm.pose.bones["head"].rotation_mode = "XYZ"
    return rot


@pytest.mark.parametrize("rows_fps", [None, 60])
def test_round_trip_keeps_curves_and_head_rotation_in_time(ff, tmp_path, rows_fps):
    """24 fps take with a keyed head -> CSV (at the take's rate, or resampled to 60 fps rows) ->
    imported again: the same shape curves and head rotation at the same times."""
    from faceforge.api import actions, livelink

    bpy.context.scene.render.fps = 24
    obj = make_character()
    baked = known_weights(72, 11)
    bake_take(obj, baked, "Perf", start=1)
    head = _head_take(obj, 72)
    path = livelink.export_livelink(obj, tmp_path / "perf.csv", action="Perf", fps=rows_fps)
    take = llf.read_csv(path)
    assert take.row_fps == (rows_fps or 24) and 71 / 24 <= take.seconds[-1] + 1e-9 < 71 / 24 + 1 / 60
    assert np.abs(take.rotations[:, :3]).max() > 0.15 and not np.any(take.rotations[:, 3:])
    result = livelink.import_livelink(obj, path, start_frame=101)
    assert result.source_fps == (rows_fps or 24) and result.rotations == ["head"]
    assert result.frames == 72  # 60 fps rows cover the take's end (2.958 s): one more row, held
    frames = np.arange(101, 101 + result.frames)
    got = actions.sample_shape_key_curves(obj, ARKIT_NAMES, frames)
    baked, head = baked[:result.frames], head[:result.frames]
    err = np.abs(got - baked).max()
    assert err < (1e-5 if rows_fps is None else 0.01), err  # 60 fps rows: linear resampling both ways
    action = bpy.data.actions[result.action]
    curves = {fc.array_index: fc for fc in actions.all_fcurves(action)
              if fc.data_path == 'pose.bones["head"].rotation_euler'}
    rot = np.stack([actions.evaluate_curve(curves[i], frames) for i in range(3)], 1)
    np.testing.assert_allclose(rot, head, atol=1e-5 if rows_fps is None else 5e-3)


def test_generated_rig_exports_eye_rotations_and_does_not_key_them_twice(ff, data, tmp_path):
    """The rig stage's Bones mode: eyeLook* shapes drive the eye bones, so the CSV carries the eye
    rotation they give; importing it keys the head but leaves the eyes to the shapes."""
    import rig_fixtures as RF
    from faceforge.api import actions, armature, livelink, shape_keys

    bpy.context.scene.render.fps = 30
    obj = RF.import_ict(data)
    shape_keys.generate_shape_keys(obj)
    armature.generate_armature(obj)
    w = np.zeros((30, 52))
    w[:, ARKIT_NAMES.index("eyeLookOutLeft")] = np.linspace(0, 1, 30)  # the left eye turns to its left
    w[:, ARKIT_NAMES.index("eyeLookInRight")] = np.linspace(0, 1, 30)  # and the right eye follows
    actions.bake_shape_keys(obj, ARKIT_NAMES, np.arange(1, 31), w, "Look")
    path = livelink.export_livelink(obj, tmp_path / "look.csv", action="Look")
    take = llf.read_csv(path)
    yaw_l, yaw_r = take.rotations[-1, 3], take.rotations[-1, 6]
    assert yaw_l > np.radians(15) and yaw_r > np.radians(15)  # both look to the subject's left
    assert abs(take.rotations[-1, 4]) < np.radians(2) and not np.any(take.rotations[:, :3])
    take.rotations[:, 0] = np.linspace(0, 0.3, 30)  # and the head turns
    llf.write_csv(tmp_path / "turn.csv", take.weights, 30, rotations=take.rotations)
    result = livelink.import_livelink(obj, tmp_path / "turn.csv")
    assert result.rotations == ["head"] and any("eyeLook" in w for w in result.warnings)
