"""Bad input, every subcommand: one clear line, the documented exit status, nothing written outside
the output folder, nothing half-written, the user's files unchanged, memory bounded (issue #23).

The cases are the ones a hostile or careless user tried, by kind, and their neighbours:

1. path traversal (batch take names);            5. wrong or missing messages;
2. tiny input, huge cost (take limits);          6. user data (replace, parallel in-place edits);
3. unchecked numbers (core/params.py);           7. leftovers (temp folders, half-saved files);
4. unwritable outputs (checked before the work); 8. safety margins (autoexec, safetensors).

Most run in-process through ``cli.main([...])`` (cheap: they fail before loading anything);
a few run the real ``./faceforge`` under a memory limit (``RLIMIT_AS``) with a private TMPDIR.
Every in-process case checks that the inputs are byte-for-byte unchanged and that a refused
run left nothing in the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from faceforge import cli
from faceforge.core import limits, params, paths
from faceforge.core.errors import FaceForgeError, FaceForgeFailure
from faceforge.formats import jobfile
from faceforge.formats import livelink as llf
from fixtures_character import known_weights, make_character, scene_settings_kept

ROOT = Path(__file__).resolve().parents[1]
GRID_CLIP = "video/grid/bbaf2n.mpg"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- inputs (made once) and the sandbox each case runs in ---------------------------------------

def _save_copy(path):
    bpy.ops.wm.save_as_mainfile(filepath=str(path), check_existing=False, copy=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, data):
    """Read-only inputs: a rigged fixture head (30 fps), the canonical face with landmarks and
    hand-made ARKit keys, Live Link CSVs (fine, 99-hour), a video with a 10-hour timestamp gap,
    junk files, job files."""
    from faceforge.api import scene

    d = tmp_path_factory.mktemp("inputs")
    with scene_settings_kept():
        scene.clear_scene()
        bpy.context.scene.render.fps = 30
        make_character()
        _save_copy(d / "head.blend")
        scene.clear_scene()
        from test_video import fixture_character

        fixture_character(data)
        _save_copy(d / "canon.blend")
        scene.clear_scene()
    llf.write_csv(d / "ok.csv", known_weights(12, 1), 30)
    header, first = (d / "ok.csv").read_text().splitlines()[:2]
    late = ",".join(["99:00:00:00.000", *first.split(",")[1:]])
    (d / "h99.csv").write_text("\n".join([header, first, late]) + "\n")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-t", "2.4", "-i", str(data / GRID_CLIP), "-an", "-vf",
                    "setpts='if(gte(N,30),PTS+36000/TB,PTS)'", "-fps_mode", "passthrough", "-c:v", "libx264",
                    "-preset", "ultrafast", str(d / "gap.mp4")], check=True, timeout=120)
    (d / "junk.bin").write_bytes(bytes(range(256)) * 8)
    (d / "a_file").write_text("a plain file, not a folder")
    (d / "list.json").write_text(json.dumps([{"character": "head.blend"}]))
    (d / "junk.json").write_bytes(b"\xff\xfe\x00garbage")
    (d / "happy.txt").write_text("happy 0.5 s -> neutral")
    (d / "long.wav").write_bytes(_wav_header_claiming(10 * 3600))
    return d


def _wav_header_claiming(seconds: float, rate: int = 1) -> bytes:
    """A 72 KB 16-bit mono WAV of ``seconds`` at ``rate`` Hz: resampled to 16 kHz it would be
    ``seconds * 16000`` samples (10 h: 2.3 GB of floats)."""
    import struct

    data = (np.sin(np.arange(int(seconds * rate)) / 5.0) * 8000).astype("<i2").tobytes()
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", len(data)) + data)


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def box(inputs, tmp_path, monkeypatch):
    """The sandbox: ``out/`` for outputs, a cwd of its own, and afterwards: the inputs unchanged
    and nothing written beside ``out/``."""
    before = _digest(inputs)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(tmp_path)
    yield {"in": inputs, "out": out, "tmp": tmp_path}
    assert _digest(inputs) == before, "an input file was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "something was written outside out/"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    with scene_settings_kept():
        rc = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_one_clear_line(rc: int, err: str, status: int, needle: str):
    """Exit ``status``; stderr holds no traceback and one error line (progress lines, ``[faceforge]
    12.5%  ...``, may come before it: stdout stays for results such as ``text --json``)."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[faceforge] ")]
    assert len(lines) == 1, err
    assert rc == status, (rc, err)
    assert lines[0].startswith("faceforge") and "error:" in lines[0], err
    assert needle.lower() in lines[0].lower(), (needle, err)
    assert "internal error" not in lines[0]


def _fill(argv: list[str], box) -> list[str]:
    return [a.format(i=box["in"], o=box["out"]) for a in argv]


# --- 3. unchecked numbers: every subcommand, refused while the arguments are read ------------------

CHAR = ["--character", "{i}/head.blend"]
NUMBERS = [
    ("rig-intensity-nan", ["rig", *CHAR, "--out", "{o}/r.blend", "--intensity", "nan"], "finite number"),
    ("rig-intensity-100", ["rig", *CHAR, "--out", "{o}/r.blend", "--intensity", "100"], "between 0.1 and 2"),
    ("rig-intensity-neg", ["rig", *CHAR, "--out", "{o}/r.blend", "--intensity", "-1"], "between 0.1 and 2"),
    ("rig-intensity-inf", ["rig", *CHAR, "--out", "{o}/r.blend", "--intensity", "inf"], "finite number"),
    ("rig-intensity-word", ["rig", *CHAR, "--out", "{o}/r.blend", "--intensity", "lots"], "expected a number"),
    ("landmarks-resolution-0", ["landmarks", "--mesh", "{i}/x.obj", "--out", "{o}/l.blend", "--resolution", "0"],
     "between 128 and 2048"),
    ("animate-video-smoothing-neg", ["animate-video", *CHAR, "--video", "{i}/gap.mp4", "--out", "{o}/v.blend",
                                     "--smoothing", "-1"], "between 0 and 1"),
    ("animate-video-smoothing-100", ["animate-video", *CHAR, "--video", "{i}/gap.mp4", "--out", "{o}/v.blend",
                                     "--smoothing", "100"], "between 0 and 1"),
    ("animate-video-first-neg", ["animate-video", *CHAR, "--video", "{i}/gap.mp4", "--out", "{o}/v.blend",
                                 "--first", "-10"], "between 0 and"),
    ("animate-video-last-before-first", ["animate-video", *CHAR, "--video", "{i}/gap.mp4", "--out", "{o}/v.blend",
                                         "--first", "10", "--last", "5"], "comes before"),
    ("animate-video-start-huge", ["animate-video", *CHAR, "--video", "{i}/gap.mp4", "--out", "{o}/v.blend",
                                  "--start-frame", "-1000000000"], "between -1,048,574 and 1,048,574"),
    ("animate-image-frame", ["animate-image", *CHAR, "--image", "{i}/x.png", "--out", "{o}/i.blend",
                             "--frame", "99999999"], "between"),
    ("lipsync-fps-neg", ["lipsync", *CHAR, "--audio", "{i}/long.wav", "--out", "{o}/s.blend", "--fps", "-24"],
     "between 1 and 1000 fps"),
    ("lipsync-fps-0", ["lipsync", *CHAR, "--audio", "{i}/long.wav", "--out", "{o}/s.blend", "--fps", "0"],
     "between 1 and 1000 fps"),
    ("lipsync-fps-100000", ["lipsync", *CHAR, "--audio", "{i}/long.wav", "--out", "{o}/s.blend", "--fps", "100000"],
     "between 1 and 1000 fps"),
    ("lipsync-start-huge", ["lipsync", *CHAR, "--audio", "{i}/long.wav", "--out", "{o}/s.blend",
                            "--start-frame", "-1000000000"], "between"),
    ("lipsync-intensity", ["lipsync", *CHAR, "--audio", "{i}/long.wav", "--out", "{o}/s.blend",
                           "--intensity", "3"], "between 0 and 2"),
    ("emotion-intensity-nan", ["emotion", "happy", "--intensity", "nan"], "finite number"),
    ("emotion-blend-nan", ["emotion", "happy", "--blend", "surprised:nan"], "share of 'surprised'"),
    ("emotion-blend-5", ["emotion", "happy", "--blend", "surprised:5"], "share of 'surprised'"),
    ("emotion-blend-neg", ["emotion", "happy", "--blend", "surprised:-0.2"], "share of 'surprised'"),
    ("emotion-blend-no-name", ["emotion", "happy", "--blend", ":0.3"], "EMOTION:SHARE"),
    ("emotion-scale-nan", ["emotion", "happy", "--scale", "Mouth=nan"], "--scale Mouth"),
    ("emotion-scale-99", ["emotion", "happy", "--scale", "Mouth=99"], "between 0 and 2"),
    ("emotion-scale-novalue", ["emotion", "happy", "--scale", "Mouth"], "SHAPE=VALUE"),
    ("emotion-key-frame", ["emotion", "happy", "--key-frame", "99999999"], "between"),
    ("text-key-frame", ["text", "a smile", "--key-frame", "-99999999"], "between"),
    ("timeline-fps-1e6", ["timeline", *CHAR, "--timeline", "happy 1 s", "--fps", "1000000"], "between 1 and 1000"),
    ("timeline-fps-0", ["timeline", *CHAR, "--timeline", "happy 1 s", "--fps", "0"], "between 1 and 1000"),
    ("timeline-transition-neg", ["timeline", *CHAR, "--timeline", "happy 1 s", "--transition", "-1"], "between 0 and 5"),
    ("timeline-seed-neg", ["timeline", *CHAR, "--timeline", "happy 1 s", "--seed", "-1"], "between 0 and"),
    ("export-frames-reversed", ["export", *CHAR, "--out", "{o}/e.glb", "--frames", "10", "1"], "comes before"),
    ("export-frames-huge", ["export", *CHAR, "--out", "{o}/e.glb", "--frames", "1", "99999999"], "between"),
    ("preview-size-0", ["preview", *CHAR, "--out", "{o}/p.mp4", "--size", "0"], "between 64 and 2048"),
    ("preview-size-huge", ["preview", *CHAR, "--out", "{o}/p.mp4", "--size", "100000"], "between 64 and 2048"),
    ("livelink-fps-neg", ["livelink-import", *CHAR, "--csv", "{i}/ok.csv", "--save", "{o}/l.blend", "--fps", "-30"],
     "between 0 and 240"),
    ("livelink-fps-nan", ["livelink-import", *CHAR, "--csv", "{i}/ok.csv", "--save", "{o}/l.blend", "--fps", "nan"],
     "finite number"),
    ("livelink-start-huge", ["livelink-import", *CHAR, "--csv", "{i}/ok.csv", "--save", "{o}/l.blend",
                             "--start", "2000000"], "between"),
    ("batch-timeout-neg", ["batch", *CHAR, "--takes", "{i}/ok.csv", "--out", "{o}", "--timeout", "-1"], "between 1 and"),
    ("batch-timeout-nan", ["batch", *CHAR, "--takes", "{i}/ok.csv", "--out", "{o}", "--timeout", "nan"],
     "finite number"),
    ("batch-jobs-0", ["batch", *CHAR, "--takes", "{i}/ok.csv", "--out", "{o}", "--jobs", "0"], "between 1 and 64"),
    ("batch-preview-size", ["batch", *CHAR, "--takes", "{i}/ok.csv", "--out", "{o}", "--preview-size", "0"],
     "between 64"),
    ("max-seconds-neg", ["emotion", "happy", "--max-seconds", "-1"], "between 1 and"),
    ("max-frames-0", ["emotion", "happy", "--max-frames", "0"], "between 1 and"),
    ("unknown-option", ["rig", *CHAR, "--out", "{o}/r.blend", "--intensty", "1"], "unrecognized arguments"),
    ("missing-required", ["lipsync", *CHAR, "--out", "{o}/s.blend"], "--audio"),
]


@pytest.mark.parametrize("argv,needle", [c[1:] for c in NUMBERS], ids=[c[0] for c in NUMBERS])
def test_numbers_out_of_range_are_refused_with_one_line(box, capsys, argv, needle):
    rc, _out, err = run_cli(capsys, *_fill(argv, box))
    assert_one_clear_line(rc, err, 2, needle)
    assert not any(box["out"].iterdir())


# --- 4. unwritable outputs: every subcommand that writes, refused before the work starts ----------

WRITERS = {
    "rig": ["rig", "--mesh", "{i}/missing.obj", "--out", "{bad}.blend"],
    "rig-contact-sheet": ["rig", *CHAR, "--out", "{o}/r.blend", "--contact-sheet", "{bad}.png"],
    "landmarks": ["landmarks", "--mesh", "{i}/missing.obj", "--out", "{bad}.blend"],
    "face-from-photo": ["face-from-photo", "--image", "{i}/missing.png", "--out", "{bad}.blend"],
    "armature": ["armature", "--mesh", "{i}/missing.obj", "--out", "{bad}.blend"],
    "animate-video": ["animate-video", *CHAR, "--video", "{i}/missing.mp4", "--out", "{bad}.blend"],
    "animate-image": ["animate-image", *CHAR, "--image", "{i}/missing.png", "--out", "{bad}.blend"],
    "lipsync": ["lipsync", *CHAR, "--audio", "{i}/missing.wav", "--out", "{bad}.blend"],
    "emotion": ["emotion", "happy", *CHAR, "--out", "{bad}.blend"],
    "text": ["text", "a smile", *CHAR, "--out", "{bad}.blend"],
    "timeline": ["timeline", *CHAR, "--timeline", "happy 1 s", "--out", "{bad}.blend"],
    "export": ["export", *CHAR, "--out", "{bad}.glb"],
    "preview": ["preview", *CHAR, "--out", "{bad}.mp4"],
    "livelink-import": ["livelink-import", *CHAR, "--csv", "{i}/ok.csv", "--save", "{bad}.blend"],
    "livelink-export": ["livelink-export", *CHAR, "--out", "{bad}.csv"],
    "batch": ["batch", *CHAR, "--takes", "{i}/ok.csv", "--out", "{bad}"],
    "demo": ["demo", "--out", "{bad}"],
}
BAD_OUTPUTS = {
    "under-a-file": ("{i}/a_file/x", "a file, not a folder"),
    "in-proc": ("/proc/faceforge/x", "nothing can be created"),
    "missing-root-file": ("/proc/self/status/x", "a file, not a folder"),
}


@pytest.mark.parametrize("where", list(BAD_OUTPUTS))
@pytest.mark.parametrize("command", list(WRITERS))
def test_unwritable_outputs_are_refused_before_the_work(box, capsys, command, where):
    bad, needle = BAD_OUTPUTS[where]
    argv = [a.replace("{bad}", bad) for a in WRITERS[command]]
    rc, _out, err = run_cli(capsys, *_fill(argv, box))
    assert_one_clear_line(rc, err, 2, needle)


@pytest.mark.parametrize("command", ["rig", "emotion", "export", "preview", "livelink-export"])
def test_an_output_that_is_a_folder_is_refused(box, capsys, command):
    argv = [a.replace("{bad}.blend", "{o}").replace("{bad}.glb", "{o}").replace("{bad}.mp4", "{o}")
            .replace("{bad}.csv", "{o}") for a in WRITERS[command]]
    if command in ("export", "preview", "livelink-export"):  # their writers add an extension: a folder with it
        ext = {"export": ".glb", "preview": ".mp4", "livelink-export": ".csv"}[command]
        (box["out"] / f"taken{ext}").mkdir()
        argv = [a.replace("{o}", "{o}/taken" + ext) if a == "{o}" else a for a in argv]
    rc, _out, err = run_cli(capsys, *_fill(argv, box))
    assert_one_clear_line(rc, err, 2, "is a folder")


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(box, capsys):
    ro = box["out"] / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, _out, err = run_cli(capsys, *_fill(["emotion", "happy", *CHAR, "--out", "{o}/ro/x.blend"], box))
        assert_one_clear_line(rc, err, 2, "nothing can be created")
    finally:
        ro.chmod(0o755)


def test_writing_is_whole_or_nothing(tmp_path):
    """A writer that fails half-way leaves the old file as it was and no temporary file."""
    target = tmp_path / "take.csv"
    target.write_text("the user's file")
    with pytest.raises(RuntimeError):
        with paths.writing(str(target)) as tmp:
            Path(tmp).write_text("half a fi")
            raise RuntimeError("disk full")
    assert target.read_text() == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.csv"]
    with paths.writing(str(target)) as tmp:
        Path(tmp).write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["take.csv"]
    # several files (a .gltf and its .bin): all or none
    with pytest.raises(FaceForgeFailure, match="Nothing was written"):
        with paths.writing_files(str(tmp_path / "a.gltf")) as tmp:
            Path(tmp).with_suffix(".bin").write_text("bin only")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.csv"]
    with paths.writing_files(str(tmp_path / "a.gltf")) as tmp:
        Path(tmp).with_suffix(".bin").write_text("bin")
        Path(tmp).write_text("gltf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "a.gltf", "take.csv"]


def test_save_blend_writes_a_whole_file_and_says_why_it_cannot(tmp_path):
    from faceforge.api import scene

    make_character()
    out = scene.save_blend(str(tmp_path / "sub" / "face.blend"))
    assert Path(out).is_file() and sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["face.blend"]
    assert bpy.data.filepath != out  # a copy: the session keeps its own file
    for bad, why in ((tmp_path / "sub", "is a folder"), (tmp_path / "sub" / "face.blend" / "x.blend", "a file"),
                     (Path("/proc/ff/x.blend"), "nothing can be created")):
        with pytest.raises(FaceForgeError, match=why):
            scene.save_blend(str(bad))


# --- 2. tiny input, huge cost: limits from the input, stated in the message -------------------------

LIMITS = [
    ("livelink-99-hours", ["livelink-import", *CHAR, "--csv", "{i}/h99.csv", "--save", "{o}/l.blend"],
     "h99.csv spans 99 h 0 min"),
    ("video-10-hour-gap", ["animate-video", "--character", "{i}/canon.blend", "--video", "{i}/gap.mp4",
                           "--out", "{o}/v.blend", "--no-reference"], "gap.mp4"),
    ("timeline-days", ["timeline", *CHAR, "--timeline", "happy 99999 s -> neutral", "--out", "{o}/t.blend"],
     "The timeline spans 27 h"),
    ("timeline-too-many-frames", ["timeline", *CHAR, "--timeline", "happy 3000 s -> neutral", "--fps", "1000",
                                  "--out", "{o}/t.blend"], "3,000,001 frames at 1000 fps"),
    ("timeline-lowered-limit", ["timeline", *CHAR, "--timeline", "happy 10 s -> neutral", "--max-frames", "100",
                                "--out", "{o}/t.blend"], "at most 1 h 0 min / 100 frames"),
    ("lipsync-header-10-hours", ["lipsync", *CHAR, "--audio", "{i}/long.wav", "--out", "{o}/s.blend"],
     "long.wav lasts 10 h 0 min"),
    ("livelink-past-blender-frames", ["livelink-import", *CHAR, "--csv", "{i}/ok.csv", "--save", "{o}/l.blend",
                                      "--start", "1048570"], "outside Blender's frames"),
    ("preview-a-million-frames", ["preview", *CHAR, "--out", "{o}/p.mp4", "--frames", "1", "1000000"],
     "1,000,000 frames"),
]


@pytest.mark.parametrize("argv,needle", [c[1:] for c in LIMITS], ids=[c[0] for c in LIMITS])
def test_takes_longer_than_the_limits_are_refused_before_allocating(box, capsys, argv, needle):
    rc, _out, err = run_cli(capsys, *_fill(argv, box))
    assert_one_clear_line(rc, err, 2, needle)
    assert "--max-seconds" in err or "Blender's frames" in err  # a limit says how to raise it
    assert not any(box["out"].iterdir())


def test_the_limit_flag_raises_the_limit(box, capsys):
    """The same timeline that --max-seconds 5 refuses bakes with the default limits."""
    argv = _fill(["timeline", *CHAR, "--timeline", "happy 10 s -> neutral", "--no-life", "--out", "{o}/t.blend"], box)
    rc, _out, err = run_cli(capsys, *argv, "--max-seconds", "5")
    assert_one_clear_line(rc, err, 2, "at most 5 s")
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 0 and "error" not in err and (box["out"] / "t.blend").is_file(), err
    assert limits.current() == limits.Limits()  # a run's limits end with it


def test_limits_message_names_the_gap():
    with pytest.raises(FaceForgeError) as exc:
        limits.check_take(36002.36, 30.0, "gap.mp4", samples=60, times=np.r_[np.arange(30) / 25, 36001.2 + np.arange(30) / 25],
                          unit="frame")
    msg = str(exc.value)
    assert "in 60 frames, most of it one jump of 10 h 0 min between frames 30 and 31" in msg
    assert limits.check_take(2.4, 30.0, "clip") == 73


def _limited_env(tmpdir: Path) -> dict:
    return {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1"}


def _under_memory_limit(gib: float):
    def limit():
        cap = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return limit


@pytest.mark.parametrize("case", ["livelink-99-hours", "video-10-hour-gap"])
def test_blow_up_inputs_stay_in_bounded_memory_in_a_real_process(box, case):
    """The real command line, capped at 2 GiB of address space (the cases once took 5-16 GB):
    one line, exit 2, and no Blender session folder left in TMPDIR."""
    argv = dict((c[0], c[1]) for c in LIMITS)[case]
    tmpdir = box["out"] / "tmpdir"
    tmpdir.mkdir()
    proc = subprocess.run([str(ROOT / "faceforge"), *_fill(argv, box)], capture_output=True, text=True, timeout=300,
                          env=_limited_env(tmpdir), preexec_fn=_under_memory_limit(2.0))
    assert_one_clear_line(proc.returncode, proc.stderr, 2, "spans")
    assert list(tmpdir.iterdir()) == []  # the bpy module's blender_XXXXXX folder went too
    tmpdir.rmdir()
    assert not any(box["out"].iterdir())


# --- 1. path traversal: take names become safe file names inside --out ----------------------------

HOSTILE_NAMES = ["../../escape", "/tmp/absolute", "..", ".", "", "a/b\\c", "CON", ".specs", "batch_report.json",
                 "x" * 400, "take", "TAKE"]


def test_take_names_become_safe_unique_file_names_inside_out(tmp_path, inputs):
    takes = [{"path": str(inputs / "ok.csv"), "name": n} for n in HOSTILE_NAMES]
    plan = jobfile.make_plan({"character": str(inputs / "head.blend"), "takes": takes, "out": "out"}, str(tmp_path))
    names = [t.name for t in plan.takes]
    assert len({n.lower() for n in names}) == len(names)  # unique, also where case does not count
    out = tmp_path / "out"
    for n in names:
        assert n and not n.startswith(".") and "/" not in n and "\\" not in n and len(n) <= paths.MAX_NAME + 4
        assert n.lower() != "batch_report.json" and n.upper() != "CON"
        assert Path(paths.inside(str(out), n, f"{n}.glb")).parent.parent == out


def test_inside_refuses_paths_that_climb_out(tmp_path):
    for part in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(FaceForgeError, match="outside"):
            paths.inside(str(tmp_path), part)
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(FaceForgeError, match="outside"):
        paths.inside(str(tmp_path), "link", "x")
    assert paths.inside(str(tmp_path), "a", "b.glb") == str(tmp_path / "a" / "b.glb")


def test_the_pool_refuses_a_plan_whose_names_escape(tmp_path, inputs):
    """Defence in depth: a plan made by hand (not by make_plan) can't write outside its folder."""
    from faceforge.core import batch as pool

    plan = jobfile.BatchPlan(character=str(inputs / "head.blend"), out=str(tmp_path / "out"),
                             takes=[jobfile.TakeSpec(str(inputs / "ok.csv"), "../../escape", "livelink")])
    with pytest.raises(FaceForgeError, match="outside"):
        pool.run_batch(plan, [sys.executable, "-c", "pass"], on_event=lambda m: None)
    assert not (tmp_path.parent / "escape.json").exists() and not list(tmp_path.parent.glob("escape*"))


@pytest.mark.slow
def test_a_real_batch_with_hostile_take_names_writes_only_inside_out(tmp_path, inputs):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "character": str(inputs / "head.blend"), "out": "out", "formats": ["glb"], "preview": False, "jobs": 2,
        "takes": [{"path": str(inputs / "ok.csv"), "name": "../../escape"},
                  {"path": str(inputs / "ok.csv"), "name": str(tmp_path / "abs" / "x")}]}))
    before = set(tmp_path.parent.rglob("*"))
    proc = subprocess.run([str(ROOT / "faceforge"), "batch", "--job", str(job)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    created = set(tmp_path.parent.rglob("*")) - before
    out = tmp_path / "out"
    assert created and all(p == out or out in p.parents for p in created), sorted(map(str, created))
    glbs = sorted(p.name for p in out.rglob("*.glb"))
    assert glbs == sorted(["_.._escape.glb", f"{paths.safe_filename(str(tmp_path / 'abs' / 'x'))}.glb"])


# --- 5. wrong or missing messages ------------------------------------------------------------------

MESSAGES = [
    ("job-file-list", ["batch", "--job", "{i}/list.json", "--out", "{o}"], "holds a list", 2),
    ("job-file-binary", ["batch", "--job", "{i}/junk.json", "--out", "{o}"], "Can't read the job file", 2),
    ("job-file-missing", ["batch", "--job", "{i}/nope.toml", "--out", "{o}"], "Job file not found", 2),
    ("batch-take-missing-spec", ["batch-take", "--spec", "{i}/nope.json"], "spec not found", 2),
    ("batch-take-binary-spec", ["batch-take", "--spec", "{i}/junk.bin"], "Can't read the batch take spec", 2),
    ("batch-take-wrong-spec", ["batch-take", "--spec", "{i}/list.json"], "is not one 'faceforge batch' wrote", 2),
    ("emotion-unknown", ["emotion", "joyous-ish"], "Unknown emotion 'joyous-ish'", 2),
    ("emotion-blend-unknown", ["emotion", "happy", "--blend", "smug:0.3"], "Unknown emotion 'smug'", 2),
    ("timeline-negative-duration", ["timeline", *CHAR, "--timeline", "happy -5 s -> neutral", "--out", "{o}/t.blend"],
     "negative duration", 2),
    ("timeline-missing-file", ["timeline", *CHAR, "--file", "{i}/nope.txt", "--out", "{o}/t.blend"],
     "Timeline file not found", 2),
    ("livelink-binary-csv", ["livelink-import", *CHAR, "--csv", "{i}/junk.bin", "--save", "{o}/l.blend"],
     "not a text CSV", 2),
    ("character-binary", ["emotion", "happy", "--character", "{i}/junk.bin", "--out", "{o}/e.blend"],
     "could not open junk.bin", 2),
    ("character-missing", ["timeline", "--character", "{i}/nope.blend", "--timeline", "happy 1 s", "--out",
                           "{o}/t.blend"], "Character file not found", 2),
    ("livelink-export-no-take", ["livelink-export", *CHAR, "--out", "{o}/x.csv"], "has no baked take", 2),
    ("export-missing-take", ["export", *CHAR, "--out", "{o}/e.glb", "--takes", "nope"], "no action named 'nope'", 2),
    ("blender-binary-missing", ["batch", *CHAR, "--takes", "{i}/ok.csv", "--out", "{o}/b", "--blender",
                                "/nope/blender"], "not an executable", 2),
    ("take-kind-unknown", ["batch", *CHAR, "--takes", "{i}/a_file", "--out", "{o}/b"], "Don't know how to animate", 2),
]


@pytest.mark.parametrize("argv,needle,status", [c[1:] for c in MESSAGES], ids=[c[0] for c in MESSAGES])
def test_wrong_inputs_get_the_right_message(box, capsys, argv, needle, status):
    rc, _out, err = run_cli(capsys, *_fill(argv, box))
    assert_one_clear_line(rc, err, status, needle)
    assert not any(box["out"].iterdir())


def test_a_job_file_with_a_json_list_or_bad_values(tmp_path, inputs):
    with pytest.raises(FaceForgeError, match="holds a list"):
        jobfile.load_job_file(str(inputs / "list.json"))
    base = {"character": str(inputs / "head.blend"), "takes": str(inputs / "ok.csv")}
    for bad, needle in (({"jobs": "many"}, "'jobs' must be a number"), ({"jobs": 1e9}, "between 1 and 64"),
                        ({"preview_size": -3}, "'preview_size' must be between"), ({"formats": "obj"}, "obj"),
                        ({"formats": 7}, "'formats' must list"), ({"preview": "yes"}, "true or false"),
                        ({"takes": [{"path": str(inputs / "ok.csv"), "kind": "hologram"}]}, "Unknown take kind"),
                        ({"takes": [3]}, "A take must be a path"), ({"takes": [{"name": "x"}]}, "no 'path'"),
                        ({"character": ["a"]}, "'character' in the job file must be a path")):
        with pytest.raises(FaceForgeError, match=needle):
            jobfile.make_plan({**base, **bad}, str(tmp_path))


def test_a_photo_with_several_faces_poses_from_the_largest():
    """The face mesh detector misses faces that fill little of the picture (it said "No face was
    found" for two people side by side); the image stage then looks in crops, takes the largest
    face and says how many it saw."""
    import cv2
    from skimage import data as skdata

    from faceforge.api.animate_video import _detect_image

    face = skdata.astronaut()
    alone = _detect_image(face)
    pair = np.concatenate([face, face[:, ::-1]], axis=1)  # two people, side by side
    found = _detect_image(pair)
    assert found is not None and found.num_faces == 2 and found.image_size == (1024, 512)
    small = np.pad(cv2.resize(face, (300, 300)), ((106, 106), (106, 106), (0, 0)))
    found = _detect_image(np.concatenate([small, face, small], axis=1))  # the middle one is the largest
    assert found is not None and 512 <= found.points[:, 0].min() < 1024
    np.testing.assert_allclose(found.points[:, :2] - [512, 0], alone.points[:, :2], atol=6.0)


def test_cli_errors_never_show_a_traceback_even_for_a_bug(box, capsys, monkeypatch):
    from faceforge.animation import emotions

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(emotions, "blend_emotions", boom)
    rc, _out, err = run_cli(capsys, "emotion", "happy")
    assert rc == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "internal error: ZeroDivisionError: a bug" in err


# --- 6. user data ---------------------------------------------------------------------------------

def test_rig_replace_keeps_the_users_own_arkit_named_keys(box, capsys):
    """The canonical face's ARKit keys were made by hand (not by FaceForge): --replace adds the
    missing ones and leaves those exactly as they were; without --replace it asks."""
    from faceforge.api import mesh
    from test_solve import SHAPES

    rc, _out, err = run_cli(capsys, "rig", "--character", box["in"] / "canon.blend", "--out", box["out"] / "r.blend")
    assert_one_clear_line(rc, err, 2, "Replace Existing")
    rc, out, err = run_cli(capsys, "rig", "--character", box["in"] / "canon.blend", "--out", box["out"] / "r.blend",
                           "--replace")
    assert rc == 0, err
    assert "kept 8 shape key(s) FaceForge did not make" in out
    ours = {}
    bpy.ops.wm.open_mainfile(filepath=str(box["in"] / "canon.blend"))
    obj = bpy.data.objects["Face"]
    for n in SHAPES:
        ours[n] = mesh.shape_key_coords(obj, n)
    bpy.ops.wm.open_mainfile(filepath=str(box["out"] / "r.blend"))
    obj = bpy.data.objects["Face"]
    for n in SHAPES:
        np.testing.assert_array_equal(mesh.shape_key_coords(obj, n), ours[n])
    generated = obj.faceforge.rig.generated.split(",")
    assert len(generated) >= 40 and not set(generated) & set(SHAPES)


def test_an_in_place_edit_waits_for_the_file_lock(tmp_path):
    target = tmp_path / "face.blend"
    target.write_text("v1")
    order = []

    def second():
        with paths.editing(str(target), on_wait=lambda m: order.append("waited")):
            order.append("second:" + target.read_text())

    with paths.editing(str(target)):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.4)
        order.append("first")
        paths.write_text(str(target), "v2")  # the file is replaced (a new inode) while the other waits
    t.join(5)
    assert order == ["waited", "first", "second:v2"]


@pytest.mark.slow
def test_four_processes_editing_one_file_in_place_keep_all_their_keys(tmp_path, inputs):
    """emotion in place by four processes at once: each waits its turn, no key is lost."""
    char = tmp_path / "head.blend"
    char.write_bytes((inputs / "head.blend").read_bytes())
    procs = [subprocess.Popen([str(ROOT / "faceforge"), "emotion", "happy", "--character", str(char),
                               "--key-frame", str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in (1, 5, 9, 13)]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    check = subprocess.run(
        [sys.executable, "-c", "import bpy,sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
         "a=bpy.data.objects['Face'].data.shape_keys.animation_data.action;"
         "fc=[c for c in a.fcurves if 'mouthSmileLeft' in c.data_path][0];"
         "print(sorted(int(k.co[0]) for k in fc.keyframe_points))", str(char)],
        capture_output=True, text=True, timeout=120)
    assert check.stdout.strip().splitlines()[-1] == "[1, 5, 9, 13]", check.stdout + check.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.blend"]  # no lock or temporary files


# --- 7. leftovers ---------------------------------------------------------------------------------

def test_temporary_files_of_a_killed_process_are_removed_by_the_next_save(tmp_path):
    from faceforge.api import scene

    dead = 2**22 + 12345  # above pid_max's default: no such process
    stale = [tmp_path / f".face.faceforge-tmp-{dead}-deadbeef.blend@", tmp_path / f".x.faceforge-tmp-{dead}-0000"]
    stale[0].write_bytes(b"half a blend")
    stale[1].mkdir()
    alive = tmp_path / f".face.faceforge-tmp-{os.getpid()}-cafe.blend"  # ours, still being written
    alive.write_bytes(b"x")
    make_character()
    scene.save_blend(str(tmp_path / "face.blend"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "face.blend"])


def test_sigterm_during_a_save_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "face.blend"
    target.write_bytes(b"the user's file")
    script = f"""
import sys, time
sys.path.insert(0, {str(ROOT / 'scripts')!r}); import launch
ff = launch.load_package()
from faceforge import cli
from faceforge.core import paths
with cli._terminate_cleanly():
    try:
        with paths.writing({str(target)!r}) as tmp:
            open(tmp, "wb").write(b"half")
            print("writing", flush=True)
            time.sleep(60)
    except SystemExit as stop:
        print("stopped", stop.code, flush=True)
launch.remove_session_tempdir()
"""
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=_limited_env(tmp_path / "tmp"))
    assert proc.stdout.readline().strip() == "writing"
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    assert "stopped 143" in out
    assert target.read_bytes() == b"the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.blend", "tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_batch_timeout_is_reported_as_a_timeout(tmp_path, inputs):
    from faceforge.core import batch as pool

    plan = jobfile.make_plan({}, ".", character=str(inputs / "head.blend"), takes=[str(inputs / "ok.csv")],
                             out=str(tmp_path / "o"), preview=False)
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    summary = pool.run_batch(plan, slow, on_event=lambda m: None, timeout=1.0)
    report = summary["reports"][0]
    assert report["status"] == "failed" and report["error"] == "stopped after the --timeout of 1 s"
    with pytest.raises(FaceForgeError, match="between 1 and"):
        pool.run_batch(plan, slow, on_event=lambda m: None, timeout=-1)


# --- 8. safety margins ----------------------------------------------------------------------------

def test_workers_started_with_a_blender_binary_never_run_file_scripts():
    from faceforge.core import batch as pool

    for cmd in (pool.worker_command("/opt/blender/blender"), pool.worker_command(None, module=False,
                                                                                  binary="/usr/bin/blender")):
        assert cmd[1:] == ["--background", "--disable-autoexec", "--command", "faceforge"]


def test_opening_a_character_never_runs_its_scripts(tmp_path):
    from faceforge.api import character, scene

    marker = tmp_path / "ran"
    make_character()
    text = bpy.data.texts.new("evil.py")
    text.write(f"open({str(marker)!r}, 'w').write('x')\n")
    text.use_module = True  # Blender runs such a text when a file is loaded with scripts trusted
    _save_copy(tmp_path / "evil.blend")
    bpy.data.texts.remove(text)
    obj = character.load_character(blend=str(tmp_path / "evil.blend"))
    assert obj.name == "Face" and not marker.exists()
    scene.clear_scene()


def test_the_diffusion_worker_loads_safetensors_only_and_wants_a_recent_diffusers(monkeypatch):
    import types

    from faceforge.inference import diffusion_worker as w

    calls = {}

    class Pipe:
        @classmethod
        def from_pretrained(cls, folder, **kw):
            calls.update(kw)
            return cls()

        def to(self, device):
            pass

        def set_progress_bar_config(self, **kw):
            pass

    fake = types.SimpleNamespace(__version__="0.30.0", DiffusionPipeline=Pipe)
    monkeypatch.setitem(sys.modules, "diffusers", fake)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace())
    w.Editor("/models/x")
    assert calls["use_safetensors"] is True and calls["local_files_only"] is True
    fake.__version__ = "0.19.3"
    with pytest.raises(RuntimeError, match="diffusers>=0.21.0"):
        w.Editor("/models/x")


# --- the same rules in the UI: the sliders' ranges are the table's; operators report, change nothing

PROPERTY_SPECS = [
    ("FACEFORGE_PG_rig_settings", "intensity", "rig.intensity"),
    ("FACEFORGE_PG_landmarks_settings", "render_resolution", "landmarks.resolution"),
    ("FACEFORGE_PG_animate_video", "smoothing", "video.smoothing"),
    ("FACEFORGE_PG_animate_video", "neutral_frame", "video.frame"),
    ("FACEFORGE_PG_animate_lipsync", "intensity", "lipsync.intensity"),
    ("FACEFORGE_PG_animate_expressions", "intensity", "emotion.intensity"),
    ("FACEFORGE_PG_animate_expressions", "blend", "emotion.blend"),
    ("FACEFORGE_PG_animate_expressions", "transition", "timeline.transition"),
    ("FACEFORGE_PG_animate_expressions", "seed", "seed"),
    ("FACEFORGE_PG_animate_expressions", "scale_mouth", "expression.scale"),
    ("FACEFORGE_PG_shape_scale", "value", "expression.scale"),
    ("FACEFORGE_PG_animate_settings", "start_frame", "start_frame"),
    ("FACEFORGE_PG_deliver_settings", "preview_size", "preview.size"),
    ("FACEFORGE_PG_deliver_settings", "frame_first", "frame"),
    ("FACEFORGE_PG_deliver_settings", "livelink_fps", "livelink.fps"),
]


@pytest.mark.parametrize("group,prop,key", PROPERTY_SPECS)
def test_panel_sliders_have_the_command_lines_ranges(ff, group, prop, key):
    from faceforge import properties

    cls = next(c for c in properties.classes if c.__name__ == group)
    rna = cls.bl_rna.properties[prop]
    spec = params.PARAMS[key]
    assert (rna.hard_min, rna.hard_max) == pytest.approx((spec.min, spec.max))
    assert rna.default == pytest.approx(spec.default) or prop in ("neutral_frame",)


def _scene_state():
    scene = bpy.context.scene
    state = {"objects": sorted(o.name for o in bpy.data.objects), "actions": sorted(a.name for a in bpy.data.actions),
             "frames": (scene.frame_start, scene.frame_end, scene.frame_current), "fps": scene.render.fps,
             "strips": len(scene.sequence_editor.strips_all) if scene.sequence_editor else 0}
    for o in bpy.data.objects:
        key = getattr(o.data, "shape_keys", None)
        if key is not None:
            state[o.name] = [(kb.name, round(kb.value, 6)) for kb in key.key_blocks]
            state[o.name + ".action"] = key.animation_data.action.name if key.animation_data and \
                key.animation_data.action else None
    return state


@pytest.fixture
def ui_character(ff, inputs):
    with scene_settings_kept():
        obj = make_character()
        bpy.context.view_layer.objects.active = obj
        yield obj


def _set(group, **values):
    for k, v in values.items():
        setattr(group, k, v)


UI_CASES = [
    ("livelink-99-hours", "livelink_import", lambda s, i: _set(s.deliver, livelink_csv=str(i / "h99.csv")),
     "spans 99 h"),
    ("livelink-binary", "livelink_import", lambda s, i: _set(s.deliver, livelink_csv=str(i / "junk.bin")),
     "not a text CSV"),
    ("lipsync-10-hour-header", "lipsync", lambda s, i: _set(s.animate.lipsync, audio_path=str(i / "long.wav")),
     "lasts 10 h"),
    ("lipsync-missing", "lipsync", lambda s, i: _set(s.animate.lipsync, audio_path=str(i / "nope.wav")),
     "not found"),
    ("timeline-negative", "bake_timeline", lambda s, i: _set(s.animate.expressions, timeline="happy -5 s"),
     "negative duration"),
    ("timeline-days", "bake_timeline", lambda s, i: _set(s.animate.expressions, timeline="happy 99999 s -> sad"),
     "spans 27 h"),
    ("export-folder-under-a-file", "export", lambda s, i: _set(s.deliver, output_dir=str(i / "a_file" / "sub")),
     "a file, not a folder"),
    ("preview-folder-in-proc", "render_preview", lambda s, i: _set(s.deliver, output_dir="/proc/faceforge/"),
     "nothing can be created"),
    ("emotion-nan-intensity", "pose_emotion", lambda s, i: _set(s.animate.expressions, intensity=float("nan")),
     "finite number"),
]


@pytest.mark.parametrize("op,setup,needle", [c[1:] for c in UI_CASES], ids=[c[0] for c in UI_CASES])
def test_operators_report_bad_input_and_leave_the_scene_as_it_was(ui_character, inputs, op, setup, needle):
    scene = bpy.context.scene
    try:
        setup(scene.faceforge, inputs)
    except (ValueError, TypeError) as exc:  # Blender itself refused the value
        assert needle == "finite number", exc
        return
    if op == "pose_emotion" and not (scene.faceforge.animate.expressions.intensity !=
                                     scene.faceforge.animate.expressions.intensity):
        pytest.skip("Blender clamped NaN to the slider's range itself")
    before = _scene_state()
    operator = getattr(bpy.ops.faceforge, op)
    assert operator.poll(), op
    with pytest.raises(RuntimeError, match=needle):
        operator()
    assert _scene_state() == before
    from faceforge.api import scene as scene_api

    scene_api.reset_settings(scene.faceforge)


def test_a_batch_hands_its_limits_to_the_workers(tmp_path, inputs):
    """--max-seconds given to `batch` reaches each worker through the plan."""
    from faceforge.api import batch

    plan = jobfile.make_plan({}, ".", character=str(inputs / "head.blend"), takes=[str(inputs / "ok.csv")],
                             out=str(tmp_path / "o"), preview=False, limits={"seconds": 1.0, "frames": 5})
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"plan": {k: v for k, v in plan.to_dict().items() if k not in ("takes", "skipped")},
                                "take": plan.takes[0].__dict__}))
    with scene_settings_kept():
        assert batch.run_worker(str(spec)) == 1
    report = json.loads((tmp_path / "o" / "ok" / "report.json").read_text())
    assert "ok.csv spans" in report["error"] and "12 frames" in report["error"] and "/ 5 frames" in report["error"]
    assert limits.current() == limits.Limits()


def test_a_save_that_fails_after_the_work_is_a_failure_with_one_line(box, capsys, monkeypatch):
    """The input was fine but the disk filled up while saving: exit status 1, one line, no file."""
    import errno
    from contextlib import contextmanager

    real = paths.writing

    @contextmanager
    def disk_fills(path):
        with real(path) as tmp:
            yield tmp
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(paths, "writing", disk_fills)
    rc, _out, err = run_cli(capsys, *_fill(["emotion", "happy", *CHAR, "--out", "{o}/e.blend"], box))
    assert_one_clear_line(rc, err, 1, "No space left on device")
    assert list(box["out"].iterdir()) == []
