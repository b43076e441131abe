"""The batch on Ray (``faceforge batch --ray``): the same takes, outputs and reports as local processes.

Ray is optional (``requirements-ray.txt``, installed by ``scripts/setup_env.sh``); without it these
tests are skipped.  Each Ray instance here is local, with 2 CPUs and no dashboard, and is shut down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from faceforge.core import batch, batch_ray
from faceforge.core.errors import FaceForgeError
from faceforge.formats.jobfile import BatchPlan, TakeSpec

ROOT = Path(__file__).resolve().parents[1]
ray = pytest.importorskip("ray")


# --- the launcher with a stand-in worker (no Blender): shipping, retries, cancelling ----------

WORKER = r"""
import json, os, signal, sys, time
spec_path = sys.argv[sys.argv.index("--spec") + 1]
spec = json.load(open(spec_path))
plan, take = spec["plan"], spec["take"]
with open(os.path.join(sys.argv[1], take["name"] + ".attempts"), "a") as fh:
    fh.write(f"{os.getpid()} {os.path.basename(spec_path)}\n")
if take["name"] == "crash":
    print("worker log line"); sys.exit(3)
if take["name"] == "hang":
    time.sleep(60)
if take["name"] == "killed" and len(open(os.path.join(sys.argv[1], "killed.attempts")).readlines()) == 1:
    os.kill(os.getpid(), signal.SIGKILL)  # lost mid-take, the first time only
out = os.path.join(plan["out"], take["name"])
os.makedirs(os.path.join(out, "sub"), exist_ok=True)
with open(os.path.join(out, "sub", "copy.txt"), "w") as fh:
    fh.write(open(take["path"]).read() + "|" + open(plan["character"]).read())
json.dump({"take": take["name"], "status": "ok", "source": take["path"], "frames": 7,
           "error": f"none for {take['path']}", "outputs": {"txt": [os.path.join(out, "sub", "copy.txt")]}},
          open(os.path.join(out, "report.json"), "w"))
"""


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the stand-in tests (the launcher joins it and leaves it running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _plan(tmp_path, names, jobs=2):
    (tmp_path / "head.blend").write_text("CHAR")
    takes = []
    for n in names:
        (tmp_path / f"{n}.txt").write_text(f"take {n}")
        takes.append(TakeSpec(str(tmp_path / f"{n}.txt"), n, "text"))
    return BatchPlan(character=str(tmp_path / "head.blend"), out=str(tmp_path / "out"), takes=takes, jobs=jobs)


def _attempts(tmp_path, name):
    path = tmp_path / f"{name}.attempts"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_ray_ships_inputs_retries_lost_takes_and_reports_like_the_pool(local_ray, tmp_path):
    plan = _plan(tmp_path, ["good", "crash", "killed", "hang"])
    events = []
    summary = batch_ray.run_batch(plan, [sys.executable, "-c", WORKER, str(tmp_path)],
                                  batch_ray.RayOptions(retries=1, cpus=1), on_event=events.append, timeout=5.0)
    by_name = {r["take"]: r for r in summary["reports"]}
    assert summary["failed"] == ["crash", "hang"] and summary["succeeded"] == 2
    assert summary["scheduler"].startswith("ray") and any(e.startswith("started good (text) [ray task]")
                                                          for e in events)
    # shipped: the worker ran on copies in a node folder; outputs and report came back with our paths
    good = json.loads((tmp_path / "out" / "good" / "report.json").read_text())
    copy = tmp_path / "out" / "good" / "sub" / "copy.txt"
    assert copy.read_text() == "take good|CHAR"
    assert good["source"] == str(tmp_path / "good.txt") and good["outputs"]["txt"] == [str(copy)]
    assert good["error"] == f"none for {tmp_path / 'good.txt'}" and by_name["good"]["exit_code"] == 0
    assert _attempts(tmp_path, "good")[0][1] == "good.json"  # the spec keeps the take's name
    # a take failing on its own is not retried; its log comes back like a local worker's
    assert len(_attempts(tmp_path, "crash")) == 1
    assert "ended with status 3" in by_name["crash"]["error"] and "worker log line" in by_name["crash"]["log_tail"]
    # killed mid-take by a signal: retried, and the second attempt's report is the take's
    assert len(_attempts(tmp_path, "killed")) == 2 and by_name["killed"]["status"] == "ok"
    # over --timeout: the task is cancelled, its process does not survive, no retry
    hang = _attempts(tmp_path, "hang")
    assert len(hang) == 1 and by_name["hang"]["exit_code"] != 0 and "cancelled" in by_name["hang"]["log_tail"]
    pid = int(hang[0][0])
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the timed-out take's process outlived its cancelled Ray task")
    assert json.loads((tmp_path / "out" / "batch_report.json").read_text())["failed"] == ["crash", "hang"]


def test_ray_retries_run_out_and_shared_inputs_missing_on_a_node(local_ray, tmp_path):
    plan = _plan(tmp_path, ["killed", "good", "gone"])
    (tmp_path / "gone.txt").unlink()  # not on the node (shared paths)
    summary = batch_ray.run_batch(plan, [sys.executable, "-c", WORKER, str(tmp_path)],
                                  batch_ray.RayOptions(inputs="shared", retries=0), on_event=lambda m: None)
    by_name = {r["take"]: r for r in summary["reports"]}
    assert summary["failed"] == ["killed", "gone"]
    assert by_name["killed"]["exit_code"] == -signal.SIGKILL
    assert "killed (status -9) on each of 1 attempt(s)" in by_name["killed"]["log_tail"]
    assert by_name["gone"]["error"].startswith("the take is not on Ray node ")
    assert "same paths" in by_name["gone"]["error"]
    # shared: the worker wrote straight into the output folder, with the same paths
    assert json.loads((tmp_path / "out" / "good" / "report.json").read_text())["source"] == str(tmp_path / "good.txt")


def test_ray_options_are_checked_and_a_missing_ray_is_one_clear_line(monkeypatch):
    with pytest.raises(FaceForgeError, match="--ray-inputs is one of ship, shared"):
        batch_ray.RayOptions(inputs="nfs").check()
    with pytest.raises(FaceForgeError, match="--ray-retries"):
        batch_ray.RayOptions(retries=-1).check()
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(FaceForgeError, match=r"--ray needs Ray, which is not installed here: pip install ray=="):
        batch_ray.import_ray()


def test_ray_arguments_without_ray_or_a_cluster_nobody_answers_are_one_line_and_exit_2(capsys, tmp_path):
    from faceforge import cli

    assert cli.main(["batch", "--character", "nope.blend", "--takes", ".", "--ray-retries", "3"]) == 2
    assert "need --ray" in capsys.readouterr().err
    (tmp_path / "head.blend").write_text("x")
    (tmp_path / "a.csv").write_text("x")
    args = ["batch", "--character", tmp_path / "head.blend", "--takes", tmp_path / "a.csv", "--out", tmp_path / "o"]
    assert cli.main([*map(str, args), "--ray", "127.0.0.1:1"]) == 2  # Ray itself would wait forever
    assert "faceforge batch: error: Can't reach the Ray cluster at 127.0.0.1:1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written


# --- the real thing: ./faceforge batch --ray against local processes -------------------------

@pytest.fixture
def six_takes(ff, tmp_path):
    """head.blend (the fixture character at 30 fps) and 6 takes: 5 Live Link CSVs and a corrupt one."""
    import bpy

    from faceforge.formats import livelink as llf
    from fixtures_character import known_weights, make_character, scene_settings_kept

    with scene_settings_kept():
        bpy.context.scene.render.fps = 30
        make_character()
        blend = tmp_path / "head.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend), check_existing=False, copy=True)
    takes = tmp_path / "takes"
    takes.mkdir()
    good = {f"take{i}": known_weights(24 + 6 * i, i) for i in range(5)}
    for name, w in good.items():
        llf.write_csv(takes / f"{name}.csv", w, 30)
    (takes / "broken.csv").write_bytes(b"\x00\x01 this is not a csv \xff\xfe" * 20)
    return blend, takes, good


def _faceforge(*args, timeout=600):
    return subprocess.run([str(ROOT / "faceforge"), "batch", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _comparable(report: dict, out: Path) -> dict:
    """A take's report without what differs between any two runs (process ids, seconds, the out folder)."""
    text = json.dumps({k: v for k, v in report.items() if k not in ("pid", "timings", "log_tail")})
    return json.loads(text.replace(str(out), "<out>"))


@pytest.mark.slow
def test_the_same_job_through_ray_gives_the_same_files_curves_and_reports(six_takes, tmp_path):
    from test_export import assimp_weights, read_with_assimp

    blend, takes, good = six_takes
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray"])):
        out = tmp_path / name
        proc = _faceforge("--character", blend, "--takes", takes, "--out", out, "--jobs", 2, "--preview-size", 64,
                          "--formats", "fbx,glb", *extra)
        assert proc.returncode == 1, proc.stdout + proc.stderr  # the corrupt take fails: exit 1 both ways
        assert "FAILED broken" in proc.stdout and "5/6 take(s) succeeded" in proc.stdout
        runs[name] = (out, proc.stdout, json.loads((out / "batch_report.json").read_text()))
    (lo, lo_stdout, lsum), (ro, ro_stdout, rsum) = runs["local"], runs["ray"]
    assert rsum["scheduler"].startswith("ray (local instance") and lsum["scheduler"] == "local"
    for key in ("character", "jobs", "takes", "succeeded", "failed", "skipped", "worker"):
        assert rsum[key] == lsum[key], key
    # progress as takes finish, the same lines (pids aside)
    finished = lambda s: sorted(l for l in s.splitlines() if l.startswith(("done", "FAILED")))  # noqa: E731
    assert finished(ro_stdout) == finished(lo_stdout)
    assert [_comparable(r, ro) for r in rsum["reports"]] == [_comparable(r, lo) for r in lsum["reports"]]
    broken = json.loads((ro / "broken" / "report.json").read_text())
    assert broken["status"] == "failed" and "broken.csv" in broken["error"]
    assert _comparable(broken, ro) == _comparable(json.loads((lo / "broken" / "report.json").read_text()), lo)
    for name, weights in good.items():
        files = sorted(p.name for p in (lo / name).iterdir())
        assert sorted(p.name for p in (ro / name).iterdir()) == files == sorted(
            ["report.json", f"{name}.fbx", f"{name}.glb", f"{name}_preview.mp4"])
        assert (ro / name / f"{name}.glb").read_bytes() == (lo / name / f"{name}.glb").read_bytes()
        for fmt in ("glb", "fbx"):
            curves = [assimp_weights(read_with_assimp(out / name / f"{name}.{fmt}"), name, None)
                      for out in (lo, ro)]
            np.testing.assert_array_equal(curves[0][0], curves[1][0])
            np.testing.assert_array_equal(curves[0][1], curves[1][1])
            np.testing.assert_allclose(curves[1][1], weights, atol=1e-4)
        sizes = [(out / name / f"{name}_preview.mp4").stat().st_size for out in (lo, ro)]
        assert min(sizes) > 1000 and abs(sizes[0] - sizes[1]) <= 0.02 * sizes[0]


def _kill_when_running(take: str, which: str, killed: list, stop: threading.Event):
    """Kill the bpy process of ``take`` (or the Ray worker above it) once it has run a moment."""
    seen = None
    while not stop.is_set() and not killed:
        ps = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            pid, ppid, args = line.split(None, 2)
            if "batch-take" in args and "faceforge-take-" in args and f"/{take}.json" in args:
                if seen is None:
                    seen = time.perf_counter()
                elif time.perf_counter() - seen > 0.2:
                    os.kill(int(pid if which == "bpy" else ppid), signal.SIGKILL)
                    killed.append(int(pid))
        time.sleep(0.1)


def _long_takes(takes: Path, names) -> dict:
    """Three takes, the ones to kill 30 s long (a few seconds of work: they are caught mid-take)."""
    from faceforge.formats import livelink as llf
    from fixtures_character import known_weights

    for path in takes.iterdir():
        if path.stem not in ("take0", "take1", "take2"):
            path.unlink()
    frames = {}
    for i, name in enumerate(("take0", "take1", "take2")):
        frames[name] = 900 if name in names else 24
        llf.write_csv(takes / f"{name}.csv", known_weights(frames[name], i), 30)
    return frames


def _run_with_a_kill(blend, takes, out, kills: dict, *extra):
    stop, threads, killed = threading.Event(), [], {}
    for take, which in kills.items():
        killed[take] = []
        threads.append(threading.Thread(target=_kill_when_running, args=(take, which, killed[take], stop)))
    for t in threads:
        t.start()
    try:
        proc = _faceforge("--character", blend, "--takes", takes, "--out", out, "--jobs", 2, "--no-preview",
                          "--formats", "glb", "--ray", *extra)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return proc, {k: v[0] if v else None for k, v in killed.items()}


@pytest.mark.slow
def test_a_worker_killed_mid_take_is_retried_and_the_others_finish(six_takes, tmp_path):
    blend, takes, _ = six_takes
    frames = _long_takes(takes, ("take0", "take1"))
    out = tmp_path / "out"
    # take0's bpy process is killed (as the OOM killer would); take1's Ray worker dies (a lost node)
    proc, killed = _run_with_a_kill(blend, takes, out, {"take0": "bpy", "take1": "ray"}, "--ray-retries", 1)
    assert killed["take0"] and killed["take1"], proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "batch_report.json").read_text())
    assert summary["succeeded"] == 3 and not summary["failed"]
    for name in ("take0", "take1"):
        report = summary["reports"][int(name[-1])]
        assert report["status"] == "ok" and report["pid"] != killed[name]  # a second attempt did it
        assert report["frames"] == frames[name]
    with pytest.raises(ProcessLookupError):  # the lost worker's bpy process died with it
        os.kill(killed["take1"], 0)


@pytest.mark.slow
def test_a_worker_killed_with_no_retries_left_is_reported_failed(six_takes, tmp_path):
    blend, takes, _ = six_takes
    _long_takes(takes, ("take1",))
    out = tmp_path / "out"
    proc, killed = _run_with_a_kill(blend, takes, out, {"take1": "bpy"}, "--ray-retries", 0)
    assert killed["take1"], proc.stdout + proc.stderr
    assert proc.returncode == 1 and "FAILED take1: the worker process ended with status -9" in proc.stdout
    assert "2/3 take(s) succeeded" in proc.stdout
    report = json.loads((out / "take1" / "report.json").read_text())
    assert report["status"] == "failed" and "killed (status -9) on each of 1 attempt(s)" in report["log_tail"]
