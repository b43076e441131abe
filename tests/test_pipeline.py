"""The stages together: a head from a photo with its 52 keys, then a batch of real takes
(a GRID talking-face video, real speech, a text timeline) and a broken file."""

import json
import os
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest
from skimage import data as skdata

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def character(tmp_path_factory):
    import cv2

    from faceforge.api import photo_face, scene

    tmp = tmp_path_factory.mktemp("pipeline")
    scene.clear_scene()
    photo = tmp / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    obj = bpy.data.objects[photo_face.face_from_photo(str(photo), name="Hero")["object"]]
    assert len(obj.data.shape_keys.key_blocks) == 53  # the head comes with the face model's 52 keys
    bpy.context.scene.render.fps = 25
    blend = tmp / "hero.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), check_existing=False, copy=True)
    return tmp, blend


def test_video_on_the_real_rig_follows_the_mouth(character, data):
    """GRID clip -> the photo head's 52 keys: jawOpen follows the lip gap."""
    from faceforge.api import animate_video
    from faceforge.api.actions import sample_shape_key_curves
    from faceforge.core.jobs import run_sync
    from faceforge.inference.face_mesh import FaceMeshDetector
    from faceforge.inference.metrics import face_metrics
    from faceforge.formats.video import VideoReader

    tmp, blend = character
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj = bpy.data.objects["Hero"]
    clip = str(data / "video/grid/bbaf2n.mpg")
    result = run_sync(animate_video.animate_from_video_job(obj, clip, add_reference=False), on_progress=None)
    frames = np.arange(result["first_frame"], result["first_frame"] + result["frames"])
    jaw = sample_shape_key_curves(obj, ["jawOpen"], frames)[:, 0]
    gaps = []
    with FaceMeshDetector(video=True) as det:
        with VideoReader(clip) as reader:
            for item in reader.frames():
                rgb = item[-1]
                face = det.detect(rgb, with_score=False)
                gaps.append(face_metrics(face.points)["mouth_open"] if face else np.nan)
    n = min(len(gaps), len(jaw))
    gaps, jaw = np.array(gaps[:n]), jaw[:n]
    ok = ~np.isnan(gaps)
    r = np.corrcoef(jaw[ok], gaps[ok])[0, 1]
    print(f"GRID bbaf2n on the generated rig: corr(jawOpen, lip gap) = {r:.2f}, residual {result.get('residual')}")
    assert r > 0.6


@pytest.mark.slow
def test_batch_of_real_takes(character, data):
    tmp, blend = character
    takes = tmp / "takes"
    takes.mkdir()
    os.symlink(data / "video/grid/bbaf2n.mpg", takes / "talk.mpg")
    os.symlink(data / "audio/mfa/mfa_the.flac", takes / "speech.flac")
    (takes / "mood.txt").write_text("neutral 0.3 s -> happy 0.6 s -> surprised 0.5 s -> neutral\n")
    (takes / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 definitely not a movie" * 10)
    out = tmp / "out"
    proc = subprocess.run([str(ROOT / "faceforge"), "batch", "--character", str(blend), "--takes", str(takes),
                           "--out", str(out), "--jobs", "2", "--preview-size", "96"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "batch_report.json").read_text())
    assert summary["failed"] == ["broken"] and summary["succeeded"] == 3, summary
    for take in ("talk", "speech", "mood"):
        report = json.loads((out / take / "report.json").read_text())
        assert report["status"] == "ok" and report["frames"] > 5, report
        for fmt in ("fbx", "glb", "preview"):
            assert report["outputs"].get(fmt), (take, fmt, report["outputs"])
            assert all(Path(p).stat().st_size > 1000 for p in report["outputs"][fmt])
    talk = json.loads((out / "talk" / "report.json").read_text())
    assert talk["faces_found"] and talk["faces_found"] >= 70  # GRID: 75 frames, all with a face
