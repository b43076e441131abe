"""Animate from video / image, in Blender: the rig basis, the bake, the operators, the CLI.

The character is a fixture: MediaPipe's canonical face (vertex i = landmark i,
identity binding) with the hand-made ARKit shape keys of test_solve.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import bpy
from test_solve import SHAPES, canonical_face, make_shapes, pad_iris, rotation, to_image

from faceforge.animation import solve
from faceforge.core.errors import FaceForgeError

GRID = "video/grid"


@pytest.fixture(autouse=True)
def _no_reference_strips_left():
    """The jobs add the video as a sequencer strip; conftest's reset does not clear the sequencer."""
    yield
    if bpy.context.scene.sequence_editor is not None:
        bpy.context.scene.sequence_editor_clear()


def fixture_character(data, name="Face"):
    """Canonical face with ARKit shape keys and an identity landmark binding."""
    from faceforge.api import binding, mesh, scene

    obj = scene.import_mesh(str(data / "mesh" / "mediapipe_canonical" / "canonical_face_model.obj"), name=name)
    v = mesh.mesh_arrays(obj).verts
    assert np.allclose(v, canonical_face(data), atol=1e-5)  # local = OBJ coordinates (the importer rotates the object)
    mesh.ensure_basis(obj)
    for n, d in make_shapes(v).items():
        mesh.set_shape_key(obj, n, v + d)
    n = len(v)
    b = binding.Binding(np.repeat(np.arange(n)[:, None], 3, axis=1).astype(np.int32),
                        np.tile([1.0, 0.0, 0.0], (n, 1)), np.ones(n))
    binding.write_binding(obj, b, source="PHOTO")
    bpy.context.view_layer.objects.active = obj
    return obj


def synthetic_track(data, truth, fps=30.0, rots=None):
    v = canonical_face(data)
    shapes = make_shapes(v)
    faces = v[None] + np.einsum("fk,kld->fld", truth, np.stack([shapes[n] for n in SHAPES]))
    if rots is not None:
        faces = np.einsum("fij,flj->fli", rots, faces)
    img = to_image(pad_iris(faces))
    f = len(truth)
    return solve.Track(np.arange(f) / fps, np.arange(f), img.astype(np.float32), (512, 512), fps, "synthetic")


def test_rig_basis_reads_the_characters_shape_keys(ff, data):
    from faceforge.api import animate_video

    obj = fixture_character(data)
    basis, frame = animate_video.rig_basis(obj)
    assert basis.names == tuple(n for n in ff.core.arkit.ARKIT_NAMES if n in SHAPES)
    assert np.allclose(frame, np.eye(3), atol=0.05)  # the canonical face's local axes are camera axes
    v = canonical_face(data)
    jaw = make_shapes(v)["jawOpen"]
    assert np.allclose(basis.deltas[basis.names.index("jawOpen")], jaw @ frame, atol=1e-5)


def test_rig_basis_errors_say_what_to_do(data):
    from faceforge.api import animate_video, mesh, scene

    obj = scene.import_mesh(str(data / "mesh" / "mediapipe_canonical" / "canonical_face_model.obj"))
    with pytest.raises(FaceForgeError, match="no landmarks"):
        animate_video.rig_basis(obj)
    obj2 = fixture_character(data, "F2")
    for kb in list(obj2.data.shape_keys.key_blocks)[1:]:
        obj2.shape_key_remove(kb)
    with pytest.raises(FaceForgeError, match="no ARKit shape keys"):
        animate_video.rig_basis(obj2)
    assert mesh  # noqa


def test_bake_one_action_retimed_head_on_object_and_old_actions_kept(ff, data):
    from faceforge.api import actions, animate_video

    obj = fixture_character(data)
    key = obj.data.shape_keys
    old = bpy.data.actions.new("hand animation")
    actions.bake_shape_keys(obj, ["jawOpen"], [1, 10], np.array([[0.0], [1.0]]), "hand animation", replace=True)
    old = key.animation_data.action
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    f = 60  # 2 s at 30 fps
    truth = np.zeros((f, len(SHAPES)))
    truth[20:40, 0] = np.sin(np.linspace(0, np.pi, 20))  # jawOpen
    truth[30:33, 1] = [0.6, 1.0, 0.6]  # a blink
    rots = np.stack([rotation(0.3 * np.sin(t), 0, 0) for t in np.linspace(0, 3, f)])
    trk = synthetic_track(data, truth, rots=rots)
    basis, frame = animate_video.rig_basis(obj)
    take = solve.solve_take(trk, basis, smoothing=0.5)
    res = animate_video.bake_take(obj, take, frame, start_frame=101)
    action = key.animation_data.action
    assert action.name == res["action"] and action != old
    assert old.name in bpy.data.actions and old.use_fake_user  # the hand animation survives
    assert res["first_frame"] == 101 and res["last_frame"] == 101 + 47  # 59/30 s at 24 fps
    # Same action drives the object's rotation (one action, two slots).
    assert obj.animation_data.action == action
    got = actions.sample_shape_key_curves(obj, list(basis.names), [101 + 24 * 29 / 30, 101 + 24 * 31 / 30])
    jaw = basis.names.index("jawOpen")
    blink = basis.names.index("eyeBlinkLeft")
    assert abs(got[0, jaw] - truth[29, 0]) < 0.1
    assert got[1, blink] > 0.75  # the blink survived smoothing and retiming
    # Head yaw: the object turns toward its left at the peak of sin.
    scene.frame_set(101 + int(24 * np.pi / 2 / 3 * 2))
    fwd = np.array(obj.matrix_world)[:3, :3] @ np.array([0, 0, 1.0])  # face forward (local +z)
    assert fwd[0] > 0.2  # yawed toward +X (the subject's left)


def test_video_job_on_real_grid_clip_jaw_follows_lip_gap(ff, data, tmp_path):
    """GRID: the solved jawOpen follows the visible mouth opening; the rig reproduces the landmarks."""
    from faceforge.animation import neutral, pose
    from faceforge.api import actions, animate_video
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 24, 1.0
    clip = data / GRID / "bbaf2n.mpg"
    res = run_sync(animate_video.animate_from_video_job(obj, str(clip), smoothing=0.3, start_frame=1),
                   on_progress=None)
    assert res["video_frames"] == 75 and res["frames"] == 72 and res["bridged"] == 0  # 3 s at 24 fps
    print({k: res[k] for k in ("neutral_frame", "residual_median_iod", "residual_p95_iod", "action")})
    assert res["residual_median_iod"] < 0.05
    # Lip gap straight from MediaPipe on the same clip.
    trk = solve.track_file(str(clip))
    cam = pose.to_camera_frame(trk.points)
    gap = neutral.mouth_gap(cam) / pose.interocular(cam)
    frames = 1 + np.arange(len(gap)) * bpy.context.scene.render.fps / 25.0
    jaw = actions.sample_shape_key_curves(obj, ["jawOpen"], frames)[:, 0]
    r = np.corrcoef(jaw, gap)[0, 1]
    print("jawOpen vs lip gap correlation:", round(r, 3))
    assert r > 0.7
    # The video is there to compare.
    se = bpy.context.scene.sequence_editor
    strips = ff.api.animate_video.sequencer_strips(se)
    assert any(s.type == "MOVIE" for s in strips)


def test_operator_runs_headless_and_shows_the_neutral_used(ff, data):
    obj = fixture_character(data)
    v = bpy.context.scene.faceforge.animate.video
    v.path = ""
    assert not bpy.ops.faceforge.animate_from_video.poll()  # no video chosen yet
    v.path = str(data / GRID / "lbax4n.mpg")
    v.neutral_mode = "FRAME"
    v.neutral_frame = 3
    v.use_range, v.range_first, v.range_last = True, 0, 39
    bpy.context.scene.faceforge.animate.start_frame = 10
    assert bpy.ops.faceforge.animate_from_video() == {"FINISHED"}
    assert v.last_neutral_frame == 3 and "neutral: video frame 3 (chosen)" in v.last_summary
    fcurves = ff.api.actions.all_fcurves(obj.data.shape_keys.animation_data.action)
    jaw = next(fc for fc in fcurves if fc.data_path == 'key_blocks["jawOpen"].value')
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    assert jaw.keyframe_points[0].co[0] == 10
    assert len(jaw.keyframe_points) == int(39 / 25 * fps) + 1
    # A bad neutral frame is an error report, not a crash, and nothing is baked.
    n_actions = len(bpy.data.actions)
    v.neutral_frame = 60  # outside the range 0-39
    with pytest.raises(RuntimeError, match="outside the solved range"):
        bpy.ops.faceforge.animate_from_video()
    assert len(bpy.data.actions) == n_actions


def _grid_frame(data, tmp_path, index, name):
    from faceforge.formats.video import VideoReader

    import cv2

    with VideoReader(str(data / GRID / "bbaf2n.mpg")) as r:
        for _t, _i, rgb in r.frames(start=index, end=index + 1):
            path = tmp_path / name
            cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            return path


def test_image_pose_opens_the_jaw_for_an_open_mouth_and_keys(ff, data, tmp_path):
    from faceforge.animation import neutral, pose
    from faceforge.api import animate_video
    from faceforge.core.jobs import run_sync

    trk = solve.track_file(str(data / GRID / "bbaf2n.mpg"))
    gap = neutral.mouth_gap(trk.points) / pose.interocular(trk.points)
    shut, wide = int(np.argmin(gap[5:]) + 5), int(np.argmax(gap))
    obj = fixture_character(data)
    results = {}
    for label, idx in (("shut", shut), ("wide", wide)):
        img = _grid_frame(data, tmp_path, idx, f"{label}.png")
        results[label] = run_sync(animate_video.animate_from_image_job(obj, str(img), key=(label == "wide"),
                                                                       frame=7, head=False), on_progress=None)
    jaw_shut, jaw_wide = results["shut"]["weights"]["jawOpen"], results["wide"]["weights"]["jawOpen"]
    print("image jawOpen shut/wide:", round(jaw_shut, 3), round(jaw_wide, 3))
    assert jaw_wide > jaw_shut + 0.2
    assert obj.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(jaw_wide, abs=1e-6)
    fcurves = ff.api.actions.all_fcurves(obj.data.shape_keys.animation_data.action)
    assert any(fc.data_path == 'key_blocks["jawOpen"].value' and fc.keyframe_points[0].co[0] == 7 for fc in fcurves)
    # With a rest photo of the same person, face-shape differences no longer read as expression.
    rel = run_sync(animate_video.animate_from_image_job(obj, str(tmp_path / "wide.png"), head=False,
                                                        neutral_path=str(tmp_path / "shut.png")), on_progress=None)
    same = run_sync(animate_video.animate_from_image_job(obj, str(tmp_path / "shut.png"), head=False,
                                                         neutral_path=str(tmp_path / "shut.png")), on_progress=None)
    print("with rest photo:", {k: round(v, 2) for k, v in rel["weights"].items()})
    assert rel["weights"]["jawOpen"] > 0.3 and rel["neutral"] == "image"
    assert max(same["weights"].values()) < 0.02  # the rest photo itself is neutral
    with pytest.raises(FaceForgeError, match="not an image"):
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"not a png at all")
        run_sync(animate_video.animate_from_image_job(obj, str(bad)), on_progress=None)


@pytest.mark.slow
def test_cli_animate_video_writes_an_animated_blend(ff, data, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from faceforge.api import scene

    root = Path(__file__).resolve().parents[1]
    fixture_character(data)
    char = scene.save_blend(str(tmp_path / "char.blend"))
    out = tmp_path / "out.blend"
    proc = subprocess.run([str(root / "faceforge"), "animate-video", "--character", char, "--object", "Face",
                           "--video", str(data / GRID / "bbaf2n.mpg"), "--last", "24", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "frames:" in proc.stdout and out.is_file()
    check = subprocess.run(
        [sys.executable, "-c",
         "import bpy,sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
         "k=bpy.data.objects['Face'].data.shape_keys; print(k.animation_data.action.name)", str(out)],
        capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and check.stdout.split()[-1].startswith("Face_video")
    bad = subprocess.run([str(root / "faceforge"), "animate-video", "--character", char, "--object", "Face",
                          "--video", str(tmp_path / "missing.mp4"), "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "not found" in bad.stderr


def _armature_for(obj):
    """An armature with head and eye bones, deforming ``obj`` (the canonical face, world faces -Y)."""
    arm_data = bpy.data.armatures.new("Rig")
    arm = bpy.data.objects.new("Rig", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail in (("head", (0, 0, -5), (0, 0, 5)), ("eye.L", (3.2, -3, 2.6), (3.2, -5, 2.6)),
                             ("eye.R", (-3.2, -3, 2.6), (-3.2, -5, 2.6))):
        b = arm_data.edit_bones.new(name)
        b.head, b.tail = head, tail
    bpy.ops.object.mode_set(mode="OBJECT")
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    bpy.context.view_layer.objects.active = obj
    return arm


def _world_delta(arm, pb):
    pose = np.array(arm.matrix_world @ pb.matrix)[:3, :3]
    rest = np.array(arm.matrix_world @ pb.bone.matrix_local)[:3, :3]
    return pose @ rest.T


def test_head_and_eye_bones_are_keyed_in_the_same_action(ff, data):
    from faceforge.animation import pose
    from faceforge.api import animate_video

    obj = fixture_character(data)
    arm = _armature_for(obj)
    f = 40
    truth = np.zeros((f, len(SHAPES)))
    yaw = 0.4 * np.sin(np.linspace(0, np.pi, f))
    rots = np.stack([rotation(y, 0, 0) for y in yaw])
    trk = synthetic_track(data, truth, rots=rots)
    # Irises look toward the subject's left in the second half.
    trk.points[20:, 468:473, 0] += 3.0  # image +x = subject's left
    trk.points[20:, 473:478, 0] += 3.0
    basis, frame = animate_video.rig_basis(obj)
    take = solve.solve_take(trk, basis, neutral_frame=0, smoothing=0.0)
    res = animate_video.bake_take(obj, take, frame, start_frame=1)
    assert res["head"] == "bone head" and res["eyes"] == 2
    action = obj.data.shape_keys.animation_data.action
    assert arm.animation_data.action == action  # one action: Key slot + armature slot
    scene = bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    scene.frame_set(1 + int(round(19 / 30 * fps)))  # peak yaw
    fwd = _world_delta(arm, arm.pose.bones["head"]) @ np.array([0, -1.0, 0])  # the face looks down -Y
    assert fwd[0] > 0.3  # turned toward +X, the subject's left
    scene.frame_set(1 + int(round(35 / 30 * fps)))
    eye = _world_delta(arm, arm.pose.bones["eye.L"]) @ _world_delta(arm, arm.pose.bones["head"]).T
    look = eye @ np.array([0, -1.0, 0])
    assert look[0] > 0.1  # the eye turned toward +X relative to the head
    assert pose  # noqa


def test_cancel_leaves_the_scene_as_it_was(ff, data):
    from faceforge.api import animate_video
    from faceforge.core.errors import Cancelled
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)
    before = (set(bpy.data.actions), obj.data.shape_keys.animation_data, bpy.context.scene.sequence_editor)
    with pytest.raises(Cancelled):
        run_sync(animate_video.animate_from_video_job(obj, str(data / GRID / "bbaf2n.mpg")),
                 on_progress=None, cancelled=lambda: True)
    assert (set(bpy.data.actions), obj.data.shape_keys.animation_data, bpy.context.scene.sequence_editor) == before


def test_neutral_from_the_current_frame_of_the_reference_strip(ff, data):
    obj = fixture_character(data)
    scene = bpy.context.scene
    v = scene.faceforge.animate.video
    v.path = str(data / GRID / "bbaf2n.mpg")
    v.neutral_mode = "AUTO"
    assert not bpy.ops.faceforge.video_neutral_from_frame.poll()  # no reference strip yet
    scene.faceforge.animate.start_frame = 1
    assert bpy.ops.faceforge.animate_from_video() == {"FINISHED"}
    scene.frame_set(31)
    assert bpy.ops.faceforge.video_neutral_from_frame() == {"FINISHED"}
    assert v.neutral_mode == "FRAME" and v.neutral_frame == 30
    assert bpy.ops.faceforge.animate_from_video() == {"FINISHED"}
    assert v.last_neutral_frame == 30
    strips = ff.api.animate_video.sequencer_strips(scene.sequence_editor)
    assert len(strips) == 1  # the same video's strip is reused, not stacked
    assert obj


@pytest.mark.slow
def test_all_grid_clips_jaw_tracks_lip_gap_and_rig_fits(ff, data):
    """Every GRID clip: solved jawOpen vs MediaPipe's lip gap, and the rig's landmark residual."""
    from faceforge.animation import neutral, pose
    from faceforge.api import animate_video

    obj = fixture_character(data)
    basis, _frame = animate_video.rig_basis(obj)
    jaw = basis.names.index("jawOpen")
    corr, resid = {}, {}
    clips = sorted((data / GRID).glob("*.mpg"))
    assert len(clips) >= 10
    for clip in clips:
        trk = solve.track_file(str(clip))
        take = solve.solve_take(trk, basis, smoothing=0.3)
        cam = pose.to_camera_frame(trk.points)
        gap = neutral.mouth_gap(cam) / pose.interocular(cam)
        ok = trk.found
        corr[clip.stem] = float(np.corrcoef(take.weights[ok, jaw], gap[ok])[0, 1])
        resid[clip.stem] = take.stats["residual_median_iod"]
    print("jawOpen/lip-gap correlation:", {k: round(v, 2) for k, v in corr.items()})
    print("median landmark residual (IOD):", {k: round(v, 4) for k, v in resid.items()})
    assert min(corr.values()) > 0.55 and np.mean(list(corr.values())) > 0.75
    assert max(resid.values()) < 0.03


def test_grid_take_matches_the_snapshot(ff, data):
    """One solved GRID take (bbaf2n, the fixture rig, 25 fps = the video's): the baked shape-key
    weights and head rotation per frame stay as they were (tests/snapshots/)."""
    import snapshot

    from faceforge.api import actions, animate_video
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 25, 1.0
    res = run_sync(animate_video.animate_from_video_job(obj, str(data / GRID / "bbaf2n.mpg"), add_reference=False),
                   on_progress=None)
    frames = np.arange(res["first_frame"], res["last_frame"] + 1)
    names = [n for n in ff.core.arkit.ARKIT_NAMES if n in SHAPES]
    weights = actions.sample_shape_key_curves(obj, names, frames)
    curves = {(fc.data_path, fc.array_index): fc for fc in actions.all_fcurves(obj.animation_data.action)}
    head = np.stack([actions.evaluate_curve(curves["rotation_euler", i], frames) for i in range(3)], axis=1)
    worst = snapshot.check("grid_bbaf2n_take", {"names": np.array(names), "weights": weights, "head": head},
                           {"names": 0, "weights": 0.01, "head": 0.005})
    print("largest change: weight", worst["weights"], "head (rad)", worst["head"])
