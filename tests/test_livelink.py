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
