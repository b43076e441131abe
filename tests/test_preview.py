"""Preview MP4s: they show the baked motion, where it happens, beside the driving video/audio."""

from __future__ import annotations

import json
import shutil
import subprocess

import bpy
import cv2
import numpy as np
import pytest

from faceforge.core.arkit import INDEX
from faceforge.core.errors import FaceForgeError
from fixtures_character import bake_take, make_character, scene_settings_kept


@pytest.fixture(autouse=True)
def _keep_scene_settings():
    with scene_settings_kept():
        yield


def probe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def frames_of(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return out
        out.append(frame.astype(np.int16))


@pytest.fixture
def blink_take(ff):
    """10 frames at 25 fps: rest, then eyeBlinkLeft fully on from frame 6."""
    bpy.context.scene.render.fps = 25
    obj = make_character()
    w = np.zeros((10, 52))
    w[5:, INDEX["eyeBlinkLeft"]] = 1.0
    bake_take(obj, w, "Blink")
    return obj


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg/ffprobe not installed")


@needs_ffmpeg
def test_preview_shows_the_baked_motion_on_the_subjects_left(blink_take, tmp_path):
    from faceforge.api import preview
    from faceforge.core.jobs import run_sync

    obj = blink_take
    key = obj.data.shape_keys
    action = key.animation_data.action
    key.key_blocks["jawOpen"].value = 0.25  # the user's current pose comes back afterwards
    scenes, objects = len(bpy.data.scenes), len(bpy.data.objects)
    result = run_sync(preview.render_preview_job(obj, tmp_path / "blink", size=192), on_progress=None)
    assert result.path.suffix == ".mp4" and result.frames == 10 and result.engine in ("WORKBENCH", "CYCLES")
    video = probe(result.path)["video"]
    assert video["codec_name"] == "h264" and int(video["nb_frames"]) == 10 and video["r_frame_rate"] == "25/1"
    frames = frames_of(result.path)
    assert len(frames) == 10
    body = slice(30, None)  # below the caption
    still = np.abs(frames[1][body] - frames[3][body]).mean()
    moved = np.abs(frames[1][body] - frames[8][body]).sum(2)
    assert still < 0.5 and moved.mean() > 5 * still + 0.5
    # eyeBlinkLeft is on the subject's left: the image's right in a front view.
    half = moved.shape[1] // 2
    assert moved[:, half:].sum() > 2 * moved[:, :half].sum()
    # The user's file is as it was.
    assert (len(bpy.data.scenes), len(bpy.data.objects)) == (scenes, objects)
    assert key.animation_data.action == action and key.key_blocks["jawOpen"].value == pytest.approx(0.25)
    assert not any(c.name.startswith("FaceForgePreview") for c in bpy.data.cameras)


@needs_ffmpeg
def test_preview_beside_the_driving_video_and_its_sound(blink_take, tmp_path, data):
    from faceforge.api import preview
    from faceforge.core.jobs import run_sync

    clip = data / "video" / "grid" / "bbaf2n.mpg"
    result = run_sync(preview.render_preview_job(blink_take, tmp_path / "sbs.mp4", side_by_side=clip, size=192),
                      on_progress=None)
    assert result.side_by_side == "video" and result.has_audio
    streams = probe(result.path)
    assert "audio" in streams and int(streams["video"]["width"]) > 192 + 200
    # The left panel is the driving video at the same time.
    cap = cv2.VideoCapture(str(clip))
    for _ in range(8):
        ok, src = cap.read()
    frame = frames_of(result.path)[7]
    left = frame[:, : frame.shape[1] - 192].astype(np.uint8)
    src = cv2.resize(src, (left.shape[1], left.shape[0]))
    assert np.abs(left[40:].astype(int) - src[40:].astype(int)).mean() < 12


@needs_ffmpeg
def test_preview_beside_audio_with_cycles(blink_take, tmp_path, data):
    from faceforge.api import preview
    from faceforge.core.jobs import run_sync

    result = run_sync(preview.render_preview_job(blink_take, tmp_path / "a.mp4", frame_range=(4, 7), size=128,
                                                 side_by_side=data / "audio" / "jfk" / "jfk.flac",
                                                 engine="CYCLES", samples=2), on_progress=None)
    assert result.engine == "CYCLES" and result.frames == 4 and result.side_by_side == "audio"
    streams = probe(result.path)
    assert "audio" in streams and int(streams["video"]["width"]) == 256
    assert float(streams["audio"]["duration"]) == pytest.approx(4 / 25, abs=0.05)


def test_preview_errors(ff, tmp_path):
    from faceforge.api import preview

    obj = make_character(armature=False)
    with pytest.raises(FaceForgeError, match="no baked take"):
        preview.render_preview(obj, tmp_path / "x.mp4")
    with pytest.raises(FaceForgeError, match="not found"):
        preview.render_preview(obj, tmp_path / "x.mp4", (1, 2), side_by_side=tmp_path / "none.mp4")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(FaceForgeError, match="beside"):
        preview.render_preview(obj, tmp_path / "x.mp4", (1, 2), side_by_side=tmp_path / "notes.txt")


@needs_ffmpeg
def test_preview_faces_a_character_that_looks_along_z(blink_take, tmp_path):
    """A head turned to look along +Z (like the ICT mesh) is still seen from the front, left on the right."""
    from faceforge.api import preview
    from faceforge.core.jobs import run_sync

    obj = blink_take
    obj.parent.rotation_euler = (-np.pi / 2, 0, 0)  # -Y -> +Z, Z up -> Y up
    bpy.context.view_layer.update()
    obj.faceforge.landmarks.view_axis = "+Z"
    result = run_sync(preview.render_preview_job(obj, tmp_path / "z.mp4", size=160), on_progress=None)
    frames = frames_of(result.path)
    moved = np.abs(frames[1][30:] - frames[8][30:]).sum(2)
    half = moved.shape[1] // 2
    assert moved.mean() > 1.0 and moved[:, half:].sum() > 2 * moved[:, :half].sum()
    with pytest.raises(FaceForgeError, match="which way"):
        preview.render_preview(obj, tmp_path / "bad.mp4", facing="sideways")
