"""Bad and awkward inputs for the video path: each ends in a clear FaceForgeError or a correct result.

Clips are made from a GRID clip with ffmpeg into a temp folder (a few frames each).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import bpy
from test_video import fixture_character

from faceforge.core.errors import FaceForgeError
from faceforge.formats import video

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is needed to make test clips")


@pytest.fixture(autouse=True)
def _no_reference_strips_left():
    """The jobs add the video as a sequencer strip; conftest's reset does not clear the sequencer."""
    yield
    if bpy.context.scene.sequence_editor is not None:
        bpy.context.scene.sequence_editor_clear()


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("clips")
    grid = data / "video" / "grid" / "bbaf2n.mpg"
    out = {"grid": grid}
    out["empty"] = d / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["corrupt"] = d / "corrupt.mp4"
    out["corrupt"].write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    out["audio"] = d / "speech.m4a"
    ffmpeg("-i", grid, "-vn", "-c:a", "aac", out["audio"])
    out["audio_mp4"] = d / "speech_only.mp4"
    ffmpeg("-i", grid, "-vn", "-c:a", "aac", out["audio_mp4"])
    mp4 = d / "grid.mp4"
    ffmpeg("-i", grid, "-c:v", "libx264", "-preset", "ultrafast", "-an", mp4)
    out["truncated"] = d / "truncated.mp4"
    out["truncated"].write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 3])
    # The face leaves the frame (black) for frames 30..44.
    out["leaves"] = d / "leaves.mp4"
    ffmpeg("-i", grid, "-vf", "drawbox=enable='between(n,30,44)':x=0:y=0:w=iw:h=ih:color=black:t=fill",
           "-c:v", "libx264", "-preset", "ultrafast", "-an", out["leaves"])
    out["noface"] = d / "noface.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "1", "-c:v", "libx264", "-preset",
           "ultrafast", out["noface"])
    # A 4K portrait phone clip: stored landscape 3840x2160, rotation metadata makes it portrait.
    raw = d / "p4k_raw.mp4"
    ffmpeg("-i", grid, "-t", "0.6", "-vf", "scale=2160:-2,pad=2160:3840:0:(oh-ih)/2,transpose=1",
           "-c:v", "libx264", "-preset", "ultrafast", "-an", raw)
    out["phone4k"] = d / "phone4k.mp4"
    ffmpeg("-i", raw, "-metadata:s:v:0", "rotate=90", "-c", "copy", out["phone4k"])
    # Variable frame rate: frames at irregular times (mkv keeps the timestamps).
    out["vfr"] = d / "vfr.mkv"
    ffmpeg("-i", grid, "-vf", "setpts='PTS+if(gte(N,40),0.5/TB,0)'", "-fps_mode", "passthrough",
           "-c:v", "libx264", "-preset", "ultrafast", "-an", out["vfr"])
    return out


@pytest.mark.parametrize("name, message", [
    ("empty", "is empty"),
    ("corrupt", "could not be opened as a video"),
    ("audio", "no picture"),
    ("audio_mp4", "no picture"),
    ("truncated", "could not be opened|no readable video frames"),
])
def test_bad_files_fail_clearly_and_change_nothing(clips, data, name, message):
    from faceforge.api import animate_video
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)
    actions_before = set(bpy.data.actions)
    with pytest.raises(FaceForgeError, match=message):
        run_sync(animate_video.animate_from_video_job(obj, str(clips[name])), on_progress=None)
    assert set(bpy.data.actions) == actions_before
    assert obj.data.shape_keys.animation_data is None


def test_missing_file(data, tmp_path):
    with pytest.raises(FaceForgeError, match="not found"):
        video.VideoReader(str(tmp_path / "nope.mp4"))


def test_video_without_a_face_fails_with_a_clear_message(clips, data):
    from faceforge.api import animate_video
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)
    with pytest.raises(FaceForgeError, match="No face was found in any of the 25 frames"):
        run_sync(animate_video.animate_from_video_job(obj, str(clips["noface"])), on_progress=None)
    assert obj.data.shape_keys.animation_data is None


def test_face_leaving_the_frame_is_bridged_and_counted(clips, data):
    from faceforge.api import actions, animate_video
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)
    res = run_sync(animate_video.animate_from_video_job(obj, str(clips["leaves"]), smoothing=0.0), on_progress=None)
    assert 13 <= res["bridged"] <= 17 and res["faces_found"] == res["video_frames"] - res["bridged"]
    names = list(obj.data.shape_keys.key_blocks.keys())[1:]
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    w = actions.sample_shape_key_curves(obj, names, 1 + np.arange(75) * fps / 25.0)
    assert np.all((w >= -1e-6) & (w <= 1 + 1e-6))
    # Inside the gap the solved weights are interpolated between the frames on either side.
    from faceforge.animation import solve

    take = solve.solve_take(solve.track_file(str(clips["leaves"])), smoothing=0.0)
    gap = np.flatnonzero(~take.found)
    a, b = gap[0] - 1, gap[-1] + 1
    assert take.found[a] and take.found[b] and len(gap) == b - a - 1  # one hole
    tt = (take.times[gap] - take.times[a]) / (take.times[b] - take.times[a])
    expected = take.weights[a] + tt[:, None] * (take.weights[b] - take.weights[a])
    assert np.allclose(take.weights[gap], expected, atol=1e-9)


def test_4k_portrait_phone_clip_is_upright_and_tracked(clips, data):
    from faceforge.animation import solve

    info = video.probe(str(clips["phone4k"]))
    assert (info.width, info.height) == (2160, 3840)
    trk = solve.track_file(str(clips["phone4k"]), max_side=1280)
    assert trk.image_size == (720, 1280)
    assert trk.found.all()
    p = trk.points[0]
    assert p[152, 1] > p[10, 1]  # chin below forehead: upright


def test_variable_frame_rate_uses_real_timestamps(clips):
    with video.VideoReader(str(clips["vfr"])) as r:
        times = np.array([t for t, _i, _rgb in r.frames()])
    gaps = np.diff(times)
    assert np.all(gaps > 0)
    assert gaps.max() > 0.4  # the half-second hole is kept, not spread over the frames


def test_frame_range_and_reader_streams(clips):
    with video.VideoReader(str(clips["grid"])) as r:
        got = [(i, rgb.shape) for _t, i, rgb in r.frames(start=10, end=20)]
    assert [i for i, _ in got] == list(range(10, 20))
    with pytest.raises(FaceForgeError, match="no frames from frame 500"):
        with video.VideoReader(str(clips["grid"])) as r:
            list(r.frames(start=500))


@pytest.mark.parametrize("ext, codec", [("mov", "libx264"), ("avi", "mpeg4"), ("mkv", "libx264"),
                                        ("webm", "libvpx"), ("mpg", None)])
def test_common_containers_are_read_and_tracked(data, tmp_path, ext, codec):
    from faceforge.animation import solve

    grid = data / "video" / "grid" / "bbaf2n.mpg"
    if codec is None:
        path = grid  # GRID itself is MPEG-1 in .mpg
    else:
        path = tmp_path / f"clip.{ext}"
        ffmpeg("-i", grid, "-frames:v", 10, "-c:v", codec, "-an", path)
    trk = solve.track_file(str(path), end=10)
    assert len(trk.times) == 10 and trk.found.all()
    assert np.allclose(np.diff(trk.times), 0.04, atol=1e-3)


def test_abandoning_a_reader_mid_way_stops_its_decode_thread(clips):
    import threading

    r = video.VideoReader(str(clips["grid"]))
    it = r.frames(prefetch=2)
    next(it)
    assert any(t.name == "faceforge-decode" for t in threading.enumerate())
    r.close()  # without closing the generator first
    assert not any(t.name == "faceforge-decode" and t.is_alive() for t in threading.enumerate())
