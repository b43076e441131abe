"""Deliver operators (what the panel buttons run) and the export/livelink command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES
from fixtures_character import bake_take, known_weights, make_character, scene_settings_kept
from ui_recorder import LayoutRecorder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_scene_settings():
    with scene_settings_kept():
        yield


@pytest.fixture
def face(ff, tmp_path):
    bpy.context.scene.render.fps = 30
    obj = make_character()
    bake_take(obj, known_weights(8, 5), "Hi")
    bpy.context.view_layer.objects.active = obj
    bpy.context.scene.faceforge.deliver.output_dir = str(tmp_path) + "/"
    return obj


def test_export_and_preview_operators_write_files(face, tmp_path):
    from test_export import read_with_assimp

    s = bpy.context.scene.faceforge.deliver
    s.export_format, s.export_preset = "FBX", "UNREAL"
    assert bpy.ops.faceforge.export() == {"FINISHED"}
    info = read_with_assimp(tmp_path / "Face.fbx")
    assert list(info["anims"]) == ["Hi"] and sorted(next(iter(info["meshes"].values()))) == sorted(ARKIT_NAMES)
    s.preview_size, s.use_frame_range, s.frame_first, s.frame_last = 64, True, 2, 4
    assert bpy.ops.faceforge.render_preview() == {"FINISHED"}
    assert (tmp_path / "Face_Hi_preview.mp4").stat().st_size > 500
    assert s.last_output == str(tmp_path / "Face_Hi_preview.mp4")  # the panel offers to open it


def test_livelink_operators_round_trip(face, tmp_path):
    from faceforge.api import actions

    assert bpy.ops.faceforge.livelink_export() == {"FINISHED"}
    csv = tmp_path / "Hi.csv"
    assert csv.is_file()
    s = bpy.context.scene.faceforge.deliver
    s.livelink_csv = str(csv)
    bpy.context.scene.faceforge.animate.start_frame = 50
    assert bpy.ops.faceforge.livelink_import() == {"FINISHED"}
    action = face.data.shape_keys.animation_data.action
    assert action.name != "Hi" and "Hi" in bpy.data.actions
    got = actions.sample_shape_key_curves(face, ARKIT_NAMES, np.arange(50, 58))
    np.testing.assert_allclose(got, known_weights(8, 5), atol=1e-5)


def test_operators_explain_what_is_missing(ff):
    assert not bpy.ops.faceforge.export.poll()  # nothing selected
    bpy.ops.mesh.primitive_cube_add()
    bpy.context.scene.faceforge.deliver.output_dir = "//out/"
    assert bpy.ops.faceforge.export.poll()
    # Unsaved file + relative folder: an error, not a file in some random folder.
    if not bpy.data.filepath:  # (another test may have saved the session's file)
        with pytest.raises(RuntimeError, match="Save the .blend file first"):
            bpy.ops.faceforge.export()
    with pytest.raises(RuntimeError, match="no shape keys"):  # a cube has no ARKit keys
        bpy.context.scene.faceforge.deliver.output_dir = "/tmp/faceforge-never-written/"
        bpy.ops.faceforge.export()


@pytest.mark.slow
def test_cli_export_and_livelink(face, tmp_path):

    blend = str(tmp_path / "head.blend")
    # copy=True: the test session's own file path stays as it was
    bpy.ops.wm.save_as_mainfile(filepath=blend, check_existing=False, copy=True)
    run = lambda *a: subprocess.run([str(ROOT / "faceforge"), *a], capture_output=True, text=True, timeout=300)
    proc = run("export", "--character", blend, "--format", "glb", "--preset", "godot", "--out",
               str(tmp_path / "x" / "head.glb"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "take Hi: frames 1-8 at 30 fps" in proc.stdout and (tmp_path / "x" / "head.glb").is_file()
    proc = run("livelink-export", "--character", blend, "--out", str(tmp_path / "hi.csv"))
    assert proc.returncode == 0 and (tmp_path / "hi.csv").is_file(), proc.stderr[-2000:]
    proc = run("livelink-import", "--character", blend, "--csv", str(tmp_path / "hi.csv"), "--start", "20",
               "--save", str(tmp_path / "again.blend"))
    assert proc.returncode == 0 and "frames 20-27" in proc.stdout, proc.stderr[-2000:]
    proc = run("export", "--character", str(tmp_path / "nope.blend"), "--out", str(tmp_path / "n.glb"))
    assert proc.returncode == 2 and "Character file not found" in proc.stderr


def test_deliver_panels_draw(face):
    from faceforge.panels import deliver

    drawn = {}
    for cls in deliver.classes:
        layout = LayoutRecorder()
        cls.draw(type("P", (), {"layout": layout})(), bpy.context)
        drawn[cls.__name__] = layout.calls
        assert cls.bl_parent_id == "VIEW3D_PT_faceforge_deliver"
    ops = {c[1][0] for calls in drawn.values() for c in calls if c[0] == "operator"}
    assert ops - {"wm.path_open"} == {"faceforge.export", "faceforge.render_preview", "faceforge.livelink_import",
                   "faceforge.livelink_export"}
    labels = [c[2].get("text", "") for c in drawn["VIEW3D_PT_faceforge_deliver_export"] if c[0] == "label"]
    assert "1 take(s): Hi" in labels
