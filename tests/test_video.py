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
    clip = data / GRID / "bbaf2n.mpg"
    res = run_sync(animate_video.animate_from_video_job(obj, str(clip), smoothing=0.3, start_frame=1),
                   on_progress=None)
    assert res["frames"] >= 70 and res["bridged"] == 0
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
    strips = getattr(se, "strips", None) or se.sequences
    assert any(s.type == "MOVIE" for s in strips)
