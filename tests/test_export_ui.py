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
               str(tmp_path / "x" / "head.glb"), "--jaw-eyes", "shape-keys", "--unit", "cm")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "scaled x0.01 to metres" in proc.stdout
    assert "take Hi: frames 1-8 at 30 fps" in proc.stdout and (tmp_path / "x" / "head.glb").is_file()
    proc = run("livelink-export", "--character", blend, "--out", str(tmp_path / "hi.csv"), "--fps", "60")
    assert proc.returncode == 0 and (tmp_path / "hi.csv").is_file(), proc.stderr[-2000:]
    proc = run("livelink-import", "--character", blend, "--csv", str(tmp_path / "hi.csv"), "--start", "20",
               "--save", str(tmp_path / "again.blend"))
    assert proc.returncode == 0 and "frames 20-27" in proc.stdout, proc.stderr[-2000:]  # 60 fps rows -> 30 fps
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


def test_file_import_export_menu_entries(ff, face, tmp_path):
    """File > Export: FaceForge Character, Live Link Face CSV; File > Import: Live Link Face CSV -
    the same calls as the sidebar, through the file browser (run here as it runs them: execute)."""
    from faceforge.formats import livelink as llf
    from faceforge.operators import deliver
    from test_export import read_with_assimp

    drawn = {}
    for menu, draw in ((bpy.types.TOPBAR_MT_file_export, deliver.menu_export),
                       (bpy.types.TOPBAR_MT_file_import, deliver.menu_import)):
        assert draw in menu.draw._draw_funcs
        layout = LayoutRecorder()
        draw(type("M", (), {"layout": layout})(), bpy.context)
        drawn[menu.__name__] = [c[1][0] for c in layout.calls if c[0] == "operator"]
    assert drawn == {"TOPBAR_MT_file_export": ["faceforge.export_file", "faceforge.export_livelink_file"],
                     "TOPBAR_MT_file_import": ["faceforge.import_livelink_file"]}
    assert "PRESET" in deliver.FACEFORGE_OT_export_file.bl_options  # Blender's operator presets
    fbx = tmp_path / "menu.fbx"
    assert bpy.ops.faceforge.export_file(filepath=str(fbx), export_format="FBX", export_preset="UNITY",
                                         export_motion="SHAPE_KEYS") == {"FINISHED"}
    assert list(read_with_assimp(fbx)["anims"]) == ["Hi"]
    csv = tmp_path / "menu.csv"
    assert bpy.ops.faceforge.export_livelink_file(filepath=str(csv), rows_fps=60) == {"FINISHED"}
    assert llf.read_csv(csv).row_fps == 60
    before = set(bpy.data.actions)
    assert bpy.ops.faceforge.import_livelink_file(filepath=str(csv), start_frame=40) == {"FINISHED"}
    (new,) = set(bpy.data.actions) - before
    assert new.frame_range[0] == 40
    ff.unregister()
    try:
        assert deliver.menu_export not in bpy.types.TOPBAR_MT_file_export.draw._draw_funcs
        assert deliver.menu_import not in bpy.types.TOPBAR_MT_file_import.draw._draw_funcs
    finally:
        ff.register()
    assert deliver.menu_import in bpy.types.TOPBAR_MT_file_import.draw._draw_funcs
