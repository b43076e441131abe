"""Headless batch: several takes in parallel processes; a broken take fails alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES
from faceforge.core.errors import FaceForgeError
from faceforge.formats import jobfile
from faceforge.formats import livelink as llf
from fixtures_character import known_weights, make_character, scene_settings_kept

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_scene_settings():
    with scene_settings_kept():
        yield


@pytest.fixture
def batch_inputs(ff, tmp_path):
    """head.blend (the fixture character at 30 fps) and a takes/ folder: 2 good CSVs, 1 corrupt, 1 stray."""

    bpy.context.scene.render.fps = 30
    make_character()
    blend = str(tmp_path / "head.blend")
    # copy=True: the test session's own file path stays as it was
    bpy.ops.wm.save_as_mainfile(filepath=blend, check_existing=False, copy=True)
    takes = tmp_path / "takes"
    takes.mkdir()
    good = {"hello": known_weights(12, 1), "smile": known_weights(9, 2)}
    for name, w in good.items():
        llf.write_csv(takes / f"{name}.csv", w, 30)
    (takes / "broken.csv").write_bytes(b"\x00\x01 this is not a csv \xff\xfe" * 20)
    (takes / "notes.md").write_text("not a take")
    return Path(blend), takes, good


@pytest.mark.slow
def test_batch_finishes_good_takes_reports_the_broken_one_and_exits_nonzero(batch_inputs, tmp_path):
    from test_export import assimp_weights, read_with_assimp

    blend, takes, good = batch_inputs
    out = tmp_path / "out"
    proc = subprocess.run([str(ROOT / "faceforge"), "batch", "--character", str(blend), "--takes", str(takes),
                           "--out", str(out), "--jobs", "2", "--preset", "unreal", "--preview-size", "96"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED broken" in proc.stdout and "2/3 take(s) succeeded" in proc.stdout
    summary = json.loads((out / "batch_report.json").read_text())
    assert summary["failed"] == ["broken"] and summary["succeeded"] == 2
    assert [Path(p).name for p in summary["skipped"]] == ["notes.md"]
    assert len({r["pid"] for r in summary["reports"] if "pid" in r}) == 3  # one process per take
    broken = json.loads((out / "broken" / "report.json").read_text())
    assert broken["status"] == "failed" and "broken.csv" in broken["error"]
    for name, weights in good.items():
        report = json.loads((out / name / "report.json").read_text())
        assert report["status"] == "ok", report
        assert report["frames"] == len(weights) and report["fps"] == 30
        assert {"load", "animate", "export_fbx", "export_glb", "preview", "total"} <= set(report["timings"])
        glb, fbx = Path(report["outputs"]["glb"][0]), Path(report["outputs"]["fbx"][0])
        assert Path(report["outputs"]["preview"][0]).stat().st_size > 1000
        for path in (glb, fbx):
            info = read_with_assimp(path)
            assert list(info["anims"]) == [name]
            seconds, got = assimp_weights(info, name, None)
            np.testing.assert_allclose(got, weights, atol=1e-4)  # what the CSV said, every frame


def test_job_file_plans_and_overrides(tmp_path, batch_inputs):
    blend, takes, _ = batch_inputs
    job = tmp_path / "job.toml"
    job.write_text('character = "head.blend"\nout = "o"\njobs = 2\nformats = ["glb"]\npreset = "godot"\n'
                   'preview = false\n[[takes]]\npath = "takes/hello.csv"\nname = "hi"\n'
                   '[[takes]]\npath = "takes/smile.csv"\n')
    plan = jobfile.make_plan(jobfile.load_job_file(str(job)), str(tmp_path))
    assert plan.character == str(blend) and plan.out == str(tmp_path / "o") and plan.jobs == 2
    assert [(t.name, t.kind) for t in plan.takes] == [("hi", "livelink"), ("smile", "livelink")]
    assert plan.formats == ["glb"] and plan.preset == "godot" and plan.preview is False
    plan = jobfile.make_plan(jobfile.load_job_file(str(job)), str(tmp_path), jobs=1, formats="fbx,glb",
                             takes=[str(takes)])
    assert plan.jobs == 1 and plan.formats == ["fbx", "glb"] and len(plan.takes) == 3
    (tmp_path / "job.json").write_text(json.dumps({"character": "head.blend", "takes": "takes"}))
    assert len(jobfile.make_plan(jobfile.load_job_file(str(tmp_path / "job.json")), str(tmp_path)).takes) == 3
    with pytest.raises(FaceForgeError, match="Character file not found"):
        jobfile.make_plan({"character": "nope.blend", "takes": "takes"}, str(tmp_path))
    with pytest.raises(FaceForgeError, match="Unknown setting"):
        jobfile.make_plan({"character": "head.blend", "take": "x"}, str(tmp_path))
    with pytest.raises(FaceForgeError, match="preset"):
        jobfile.make_plan({"character": "head.blend", "takes": "takes", "preset": "maya"}, str(tmp_path))


def test_a_take_no_stage_animates_fails_cleanly(batch_inputs, tmp_path):
    """A take of a kind no stage animates fails with a clear report, in-process."""
    from faceforge.api import batch
    from faceforge.formats.jobfile import TakeSpec

    blend, takes, _ = batch_inputs
    plan = jobfile.make_plan({}, ".", character=str(blend), takes=[str(takes / "hello.csv")],
                             out=str(tmp_path / "o"), preview=False)
    report = batch.run_take(plan, TakeSpec(str(tmp_path / "clip.holo"), "clip", "hologram"))
    assert report["status"] == "failed" and "No stage animates 'hologram' takes" in report["error"]
    assert json.loads((tmp_path / "o" / "clip" / "report.json").read_text())["status"] == "failed"


def test_a_worker_that_dies_is_reported_from_its_log(batch_inputs, tmp_path):
    """A take whose process is killed (here: by the timeout) still gets a failed report."""
    from faceforge.api import batch

    blend, takes, _ = batch_inputs
    plan = jobfile.make_plan({}, ".", character=str(blend), takes=[str(takes / "hello.csv")],
                             out=str(tmp_path / "o"), preview=False)
    summary = batch.run_batch(plan, on_event=lambda m: None, timeout=1.0)
    assert summary["failed"] == ["hello"]
    report = summary["reports"][0]
    assert report["error"] == "stopped after the --timeout of 1 s" and report["exit_code"] != 0
    assert json.loads((tmp_path / "o" / "hello" / "report.json").read_text())["status"] == "failed"


def test_speech_takes_are_named_after_the_take(ff, tmp_path):
    """A speech take's action (so its glTF clip and files) carries the take's name, not the object's."""
    import soundfile as sf

    from faceforge.api import batch
    from faceforge.core.jobs import run_sync

    bpy.context.scene.render.fps = 30
    obj = make_character()
    sr = 16000
    t = np.arange(int(1.2 * sr)) / sr
    voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)  # syllable-like bursts
    sf.write(tmp_path / "line_04.wav", voice, sr)
    spec = jobfile.TakeSpec(str(tmp_path / "line_04.wav"), "line_04", "speech")
    result = run_sync(batch.TAKE_STAGES["speech"](obj, spec.path, spec), on_progress=None)
    assert result["action"] == "line_04" and "line_04" in bpy.data.actions
    assert not any(a.name.startswith(obj.name) for a in bpy.data.actions)
