"""The logic of the pure packages, exercised without Blender.

``test_pure_layers.py`` runs this file again in a fresh process with ``bpy``,
``mathutils`` and the other Blender modules blocked (``FACEFORGE_BLOCK_BLENDER=1``):
everything here must work in a plain Python.  No test here may import ``bpy``.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


def read_obj(path: Path):
    """Vertices (N, 3) and fan-triangulated faces (T, 3) of an OBJ file (v and f lines only)."""
    opener = gzip.open if path.suffix == ".gz" else open
    verts, tris = [], []
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("f "):
                ids = [int(p.split("/")[0]) - 1 for p in line.split()[1:]]
                tris += [(ids[0], ids[k], ids[k + 1]) for k in range(1, len(ids) - 1)]
    return np.array(verts), np.array(tris, dtype=np.int64)


# --- rigging.binding: the binding step of landmark detection ----------------------------

def test_binding_landmarks_seen_from_a_camera_puts_them_back_on_the_ict_head(data):
    """The ICT head's snapshot landmarks, seen by a pinhole camera in front of the face and bound
    again: they land where they were, the irises on the eyeballs, the result made symmetric."""
    from faceforge.rigging import binding
    from faceforge.rigging.camera import PinholeCamera, look_at
    from faceforge.rigging.regions import FACE_OVAL

    verts, tris = read_obj(data / "mesh/ict_neutral/generic_neutral_mesh.obj")
    lm = np.load(HERE / "snapshots" / "ict_landmarks.npz")["positions"].astype(np.float64)
    iod = float(np.linalg.norm(lm[33] - lm[263]))
    centre = lm[:468].mean(0)
    cam = PinholeCamera(look_at(centre + [0.0, 0.0, 8 * iod], centre, [0.0, 1.0, 0.0]), 1400.0, 1024, 1024)
    pixels, _depth = cam.project(lm)
    bound, mirrored = binding.bind_landmarks(cam, pixels, verts, tris, symmetric=True)
    assert mirrored and bound.verts.shape == (478, 3)
    np.testing.assert_allclose(bound.bary.sum(1), 1.0, atol=1e-6)
    off = np.linalg.norm(bound.positions(verts) - lm, axis=1) / iod
    # Nine in ten land where they were; the rest are grazing points (the outline, which the contour
    # snap places from this view, lids, temples) and their mirror twins.
    assert np.median(off) < 1e-3 and np.percentile(off, 90) < 0.01 and off.max() < 0.35, np.percentile(off, 90)
    assert np.isin(FACE_OVAL, np.flatnonzero(off > 0.01)).any()  # the outline did move to this view's contour
    # bind_to_skin (edited or hand-placed points) snaps to the nearest skin: the face's own points stay
    again = binding.bind_to_skin(bound.positions(verts)[:468], verts, tris, np.ones(468))
    assert np.linalg.norm(again.positions(verts) - bound.positions(verts)[:468], axis=1).max() < 1e-6 * iod


def test_rough_positions_frame_the_face_in_front_of_the_centre():
    from faceforge.rigging.binding import rough_positions

    origins = np.zeros((3, 3))
    dirs = np.array([[0.0, 0.0, -1.0], [0.1, 0.0, -1.0], [-0.1, 0.0, -1.0]])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    p = rough_positions(origins, dirs, np.array([0.0, 0.0, -10.0]), radius=2.0)
    assert np.allclose(p[0], [0.0, 0.0, -9.0]) and p[1, 0] > 0 > p[2, 0]


# --- animation.retime: a solved take on scene frames --------------------------------------

def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def test_retime_resamples_on_whole_frames_and_moves_rotations_into_the_characters_axes():
    from faceforge.animation.retime import retime_take

    times = np.arange(31) / 30.0  # one second of video at 30 fps
    weights = np.stack([times, 1.0 - times], axis=1)  # linear ramps
    angles = 0.3 * times
    take = SimpleNamespace(times=times, weights=weights, head_rotation=np.stack([_rot_y(a) for a in angles]),
                           eye_rotation=np.zeros((31, 2, 2)))
    face_axes = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # columns: left +X, up +Z, out -Y (Blender)
    timed = retime_take(take, face_axes, fps=24.0, start_frame=10)
    assert timed.frames.tolist() == list(range(10, 35))  # 1 s at 24 fps, both ends
    np.testing.assert_allclose(timed.weights[:, 0], timed.times, atol=1e-12)
    # a turn about the camera's up axis is a turn about the character's up (+Z) axis
    for rot, t in zip(timed.head, timed.times):
        a = 0.3 * t
        want = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        np.testing.assert_allclose(rot, want, atol=1e-9)
    np.testing.assert_allclose(timed.eyes, np.broadcast_to(np.eye(3), (25, 2, 3, 3)), atol=1e-12)


def test_eye_rotations_yaw_turns_about_up_and_pitch_looks_up():
    from faceforge.animation.retime import eye_rotations

    r = eye_rotations(np.array([[0.2, 0.0], [0.0, 0.3]]))
    np.testing.assert_allclose(r[0], _rot_y(0.2), atol=1e-12)
    assert (r[1] @ [0.0, 0.0, 1.0])[1] > 0  # looking up: the gaze (+z, out of the face) rises


# --- rigging.camera: which way the face looks -------------------------------------------

def test_axis_direction_and_facing_rotation():
    from faceforge.rigging.camera import axis_direction, facing_rotation

    assert axis_direction("-Y").tolist() == [0, -1, 0] and axis_direction("NEG_Z").tolist() == [0, 0, -1]
    with pytest.raises(ValueError):
        axis_direction("sideways")
    rot = facing_rotation(np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rot[:, 2], [0, -1, 0])  # the camera's back points where the face looks
    np.testing.assert_allclose(rot[:, 1], [0, 0, 1])  # world up stays up


# --- formats.preview_video: composing the preview ----------------------------------------

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def _frames(folder: Path, count: int, size: int = 64):
    import cv2

    for i in range(count):
        img = np.full((size, size, 3), 40, np.uint8)
        img[:, : (i + 1) * size // count] = 200
        cv2.imwrite(str(folder / f"f_{i:06d}.png"), img)


def _streams(path: Path) -> list[str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True).stdout
    return out.split()


@needs_ffmpeg
def test_compose_beside_audio_draws_a_waveform_and_keeps_the_sound(tmp_path):
    import cv2
    import soundfile

    from faceforge.formats.preview_video import compose_video

    _frames(tmp_path, 12)
    wav = tmp_path / "voice.wav"
    t = np.arange(16000) / 16000.0
    soundfile.write(str(wav), 0.5 * np.sin(2 * np.pi * 220 * t) * (t < 0.5), 16000)
    seen = []
    info = compose_video(str(tmp_path), 12, 24.0, tmp_path / "out.mp4", side=str(wav), label="Take",
                         report=lambda f, m: seen.append(f))
    assert info["size"] == (128, 64) and info["side"] == "audio" and info["audio"]
    assert sorted(_streams(tmp_path / "out.mp4")) == ["audio", "video"] and seen[-1] == 1.0
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    ok, frame = cap.read()
    assert ok and frame.shape == (64, 128, 3)
    assert frame[:, :64].std() > 5  # the waveform panel on the left is drawn


@needs_ffmpeg
def test_compose_beside_a_video_and_refuses_other_files(tmp_path):
    import cv2

    from faceforge.core.errors import FaceForgeError
    from faceforge.formats.preview_video import compose_video, side_kind

    _frames(tmp_path, 6)
    clip = tmp_path / "drive.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (128, 64))
    for i in range(6):
        writer.write(np.full((64, 128, 3), 30 * i, np.uint8))
    writer.release()
    info = compose_video(str(tmp_path), 6, 24.0, tmp_path / "out.mp4", side=str(clip))
    assert info["side"] == "video" and info["size"] == (192, 64) and not info["audio"]  # a silent video
    assert _streams(tmp_path / "out.mp4") == ["video"]
    with pytest.raises(FaceForgeError, match="Can't show '.txt' files"):
        side_kind(str(tmp_path / "notes.txt"))


# --- core.batch: the process pool ----------------------------------------------------------

WORKER = r"""
import json, os, sys, time
spec = json.load(open(sys.argv[sys.argv.index("--spec") + 1]))
take = spec["take"]
if take["name"] == "crash":
    print("worker log line"); sys.exit(3)
if take["name"] == "hang":
    time.sleep(30)
out = os.path.join(spec["plan"]["out"], take["name"])
os.makedirs(out, exist_ok=True)
json.dump({"take": take["name"], "status": "ok", "frames": 7}, open(os.path.join(out, "report.json"), "w"))
"""


def test_batch_pool_runs_each_take_in_its_process_and_reports_the_failures(tmp_path):
    from faceforge.core import batch
    from faceforge.formats.jobfile import BatchPlan, TakeSpec

    takes = [TakeSpec(str(tmp_path / f"{n}.txt"), n, "text") for n in ("good", "crash", "hang")]
    plan = BatchPlan(character="head.blend", out=str(tmp_path / "out"), takes=takes, jobs=2)
    events = []
    summary = batch.run_batch(plan, [sys.executable, "-c", WORKER], on_event=events.append, timeout=3.0)
    assert summary["succeeded"] == 1 and summary["failed"] == ["crash", "hang"]
    by_name = {r["take"]: r for r in summary["reports"]}
    assert by_name["good"]["frames"] == 7 and by_name["good"]["exit_code"] == 0
    assert "ended with status 3" in by_name["crash"]["error"] and "worker log line" in by_name["crash"]["log_tail"]
    assert by_name["hang"]["exit_code"] != 0 and by_name["hang"]["error"] == "stopped after the --timeout of 3 s"
    written = json.loads((tmp_path / "out" / "batch_report.json").read_text())
    assert written["failed"] == ["crash", "hang"] and any(e.startswith("started good") for e in events)


def test_worker_command_for_a_blender_binary_or_the_bpy_module():
    from faceforge.core import batch

    # a character file's own scripts never run in a worker
    assert batch.worker_command("/opt/blender") == ["/opt/blender", "--background", "--disable-autoexec",
                                                    "--command", "faceforge"]
    assert batch.worker_command(None, module=False, binary="/usr/bin/blender")[0] == "/usr/bin/blender"
    cmd = batch.worker_command(None, module=True)
    assert cmd[0] == sys.executable and cmd[1].endswith("launch.py")


def test_ray_is_imported_only_when_a_batch_runs_on_it():
    """The Ray launcher and the batch command import Ray lazily (it is optional, never bundled)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import launch; launch.load_package(); "
            "import faceforge.core.batch_ray, faceforge.core.batch, faceforge.cli.batch; "
            "print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(HERE.parent / "scripts")], capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr


# --- small helpers ---------------------------------------------------------------------------

def test_safe_filename_and_lipsync_frame_count():
    from faceforge.animation.lipsync_track import frame_count
    from faceforge.core.paths import safe_filename

    assert safe_filename("Face take 1/2:é") == "Face_take_1_2_é"
    assert frame_count(1.0, 24.0) == 25 and frame_count(0.99, 24.0) == 25


# --- core.units and rigging.armature.evaluate_driver: what the export needs ----------------------

def test_units_are_told_from_the_eye_distance_or_the_height():
    from faceforge.core.units import guess_unit

    assert [guess_unit(e) for e in (0.063, 0.055, 6.3, 7.1, 63.0)] == ["M", "M", "CM", "CM", "MM"]
    assert guess_unit(None, 33.8) == "CM" and guess_unit(None, 0.34) == "M" and guess_unit(None, 1.8) == "M"
    assert guess_unit(None, 338.0) == "MM" and guess_unit(6300.0) is None and guess_unit(None, None) is None


def test_drivers_evaluate_on_arrays_as_blender_would():
    from faceforge.rigging.armature import evaluate_driver

    k = np.linspace(0, 1, 5)
    np.testing.assert_allclose(evaluate_driver("SCRIPTED", "+0.296706*k0-0.383972*k1", {"k0": k, "k1": k[::-1]}, 5),
                               0.296706 * k - 0.383972 * k[::-1])
    np.testing.assert_allclose(evaluate_driver("SCRIPTED", "0.0", {}, 3), 0.0)  # held at rest
    np.testing.assert_allclose(evaluate_driver("SCRIPTED", "clamp(sin(a) * 2, 0, 1)", {"a": k}, 5),
                               np.clip(np.sin(k) * 2, 0, 1))
    np.testing.assert_allclose(evaluate_driver("AVERAGE", "", {"a": k, "b": 1 - k}, 5), 0.5)
    with pytest.raises(ValueError):
        evaluate_driver("SCRIPTED", "__import__('os')", {}, 2)


def test_rasterizer_covers_pixel_centres_and_keeps_the_nearest():
    from faceforge.facemodel.texture import rasterize

    # two triangles over the same 4 x 4 pixels; the second is nearer
    sq = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0]])
    tri, bary, z = rasterize(np.stack([sq, sq]), 6, 5, depth=np.array([[2.0] * 3, [1.0] * 3]))
    j, i = np.arange(6)[None, :], np.arange(5)[:, None]
    inside = (j + 0.5 <= 4) & (i <= j)  # y <= x, x <= 4 (centres on an edge count)
    assert (tri >= 0).sum() == inside.sum() and (tri[inside] == 1).all() and np.allclose(z[inside], 1.0)
    np.testing.assert_allclose(bary[tri >= 0].sum(1), 1.0, atol=1e-6)
    # the barycentrics put each pixel centre back where it is
    centres = np.stack(np.meshgrid(np.arange(6) + 0.5, np.arange(5) + 0.5), -1)[tri >= 0]
    np.testing.assert_allclose(bary[tri >= 0] @ sq, centres, atol=1e-9)


def test_photo_fit_camera_is_the_projection_it_fits():
    """PhotoFit.project (the fit's perspective model) and PhotoFit.blender_camera (a pinhole camera in
    the head's Blender object space) see every model point at the same pixel."""
    from faceforge.facemodel import to_blender
    from faceforge.facemodel.model import Pose, rot_x, rot_y
    from faceforge.facemodel.photo import PhotoFit, check_face, photo_camera
    from faceforge.core.errors import FaceForgeError

    cam = photo_camera((640, 480))
    # the head turned 0.3 rad toward its own left, seen by a camera (observation: y down, z away)
    pose = Pose(1500.0, rot_x(np.pi) @ rot_y(0.3), np.array([320.0, 240.0, 40.0]))
    fit = PhotoFit(np.zeros(100), np.zeros(52), pose, cam, (640, 480), np.zeros((478, 3)), np.zeros((478, 3)))
    pts = np.random.default_rng(0).normal(scale=0.08, size=(50, 3))
    px, depth = fit.project(pts)
    px2, depth2 = fit.blender_camera().project(to_blender(pts))
    np.testing.assert_allclose(px2, px, atol=1e-6)
    np.testing.assert_allclose(depth2 * pose.scale, depth, rtol=1e-9)  # metres vs the fit's pixels
    angle, yaw, pitch = fit.turn()
    assert 15 < angle < 20 and yaw < -15  # the camera sees more of the subject's right cheek
    with pytest.raises(FaceForgeError, match="only 40 px across"):
        check_face(np.c_[np.random.default_rng(1).uniform(0, 40, size=(478, 2)), np.zeros(478)], (640, 480))


def test_skin_likeness_leaves_out_hair_but_not_the_features():
    """A flat skin-coloured face with dark hair over its forehead: hair is not skin, the brows are kept."""
    from faceforge.facemodel.texture import iod_px, photo_mask, skin_likeness
    from faceforge.rigging.landmark_edit import template

    pts = template()[0][:, [0, 2]] * [1, -1]  # the template face (Blender's x, z) in an image, y down
    pts = (pts - pts.min(0)) / np.ptp(pts, axis=0).max() * 200 + 28
    img = np.zeros((256, 256, 3), np.float32)
    img[:] = (0.85, 0.65, 0.55)
    img[:int(pts[:, 1].min()) + 30] = (0.15, 0.1, 0.08)  # a fringe down over the forehead
    iod = iod_px(pts)
    like = skin_likeness(img, pts, iod)
    brow = pts[[105, 52]].mean(0).astype(int)  # inside the right brow
    cheek = pts[205].astype(int)
    assert like[int(pts[:, 1].min()) + 5, int(pts[10, 0])] < 0.1  # hair
    assert like[cheek[1], cheek[0]] > 0.9 and like[brow[1], brow[0]] > 0.9
    m = photo_mask(img.shape[:2], pts, iod, img)
    eye = pts[[159, 145]].mean(0).astype(int)  # the middle of the right eye's opening
    assert m[cheek[1], cheek[0]] > 0.9 and m[eye[1], eye[0]] < 0.1 and m[2, 2] == 0.0
