"""The batch's parent process: many takes, each in its own worker process (pure: no Blender).

:func:`run_batch` starts one fresh worker per take (:func:`worker_command` +
``batch-take --spec FILE``), at most ``plan.jobs`` at a time, and collects each
take's ``report.json`` - or, when a worker dies before writing it, a failure
report made from its log.  Where a worker runs is the launcher's business
(:class:`LocalProcess` here; ``core/batch_ray.py`` runs it as a Ray task): the
specs, the command, the reports and the summary are the same.  One broken take never stops the others;
``<out>/batch_report.json`` sums up.  The worker itself (open the character,
animate, export, preview) is ``api/batch.py``; the plan comes from
``formats/jobfile.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Callable

from . import params, paths
from .errors import FaceForgeError

if TYPE_CHECKING:
    from ..formats.jobfile import BatchPlan, TakeSpec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_json(path: str, data) -> None:
    """Write ``data`` as JSON, whole or not at all (``core.paths.writing``)."""
    paths.write_text(path, json.dumps(data, indent=2, default=str))


_BOOTSTRAP = """
import importlib.util, json, sys
root, path = sys.argv[1], json.loads(sys.argv[2])
del sys.argv[1:3]
sys.path[:0] = [p for p in path if p not in sys.path]
import bpy
spec = importlib.util.spec_from_file_location('faceforge', root + '/__init__.py', submodule_search_locations=[root])
ff = importlib.util.module_from_spec(spec); sys.modules['faceforge'] = ff; spec.loader.exec_module(ff)
ff.register()
try:
    from faceforge import cli
    status = cli.main(sys.argv[1:])
finally:
    ff.unregister()
    import os, shutil
    tmp = os.path.normpath(bpy.app.tempdir)
    if os.path.basename(tmp).startswith('blender_'):
        shutil.rmtree(tmp, ignore_errors=True)
sys.stdout.flush(); sys.stderr.flush()
os._exit(int(status))
"""


def worker_command(blender: str | None = None, module: bool = True, binary: str = "") -> list[str]:
    """How to start a FaceForge process: a Blender binary, or this Python with the bpy module.

    ``blender``: a Blender binary the user chose (the extension must be installed there);
    else ``module`` (this process runs the bpy module) or the ``binary`` of the Blender
    running this process.  For the bpy module from the repository that is
    ``scripts/launch.py`` (what ``./faceforge`` runs); from an installed copy, a small
    bootstrap that loads this very package the same way.  A Blender binary always gets
    ``--disable-autoexec``: a character file's own scripts never run in a worker (the
    bpy module opens files with ``use_scripts=False``).
    """
    if blender:
        return [blender, "--background", "--disable-autoexec", "--command", "faceforge"]
    if module:
        launcher = os.path.join(ROOT, "scripts", "launch.py")
        if os.path.isfile(launcher):
            return [sys.executable, launcher]
        return [sys.executable, "-c", _BOOTSTRAP, ROOT, json.dumps(sys.path)]
    if binary:
        return [binary, "--background", "--disable-autoexec", "--command", "faceforge"]
    raise FaceForgeError("Can't start worker processes here: pass --blender /path/to/blender")


class LocalProcess:
    """A take's worker as a local process: the launcher :func:`run_batch` uses by default.

    A launcher is ``launch(cmd, spec, log_path) -> handle`` that starts
    ``cmd + ["batch-take", "--spec", spec]`` somewhere, with the worker's output
    in ``log_path`` (on this machine) by the time it ends; the handle has
    ``where`` (for messages), ``poll() -> exit status or None``, ``terminate()`` (ask it to
    stop), ``kill()`` and
    ``wait() -> exit status``.  The Ray backend (``core/batch_ray.py``) is the
    other one: only where the command runs differs.
    """

    def __init__(self, cmd: list[str], spec: str, log_path: str):
        self._log = open(log_path, "w")
        self._proc = subprocess.Popen([*cmd, "batch-take", "--spec", spec], stdout=self._log,
                                      stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.where = f"pid {self._proc.pid}"

    def poll(self) -> int | None:
        code = self._proc.poll()
        if code is not None:
            self._log.close()
        return code

    def terminate(self) -> None:
        self._proc.terminate()  # SIGTERM: the worker removes its temporary files

    def kill(self) -> None:
        self._proc.kill()

    def wait(self) -> int:
        code = self._proc.wait()
        self._log.close()
        return code


def run_batch(plan: BatchPlan, cmd: list[str], on_event: Callable[[str], None] = print,
              timeout: float | None = None, launch: Callable = LocalProcess, scheduler: str = "local") -> dict:
    """Run every take of ``plan`` in worker processes ``cmd + ["batch-take", "--spec", FILE]``, at
    most ``plan.jobs`` at a time; a take running longer than ``timeout`` seconds is stopped
    (``terminate()``: SIGTERM for a local process, so it removes its temporary files; ``kill()``
    5 s later).  ``launch`` starts one worker (see :class:`LocalProcess`; ``scheduler`` names it
    in the report).  Every per-take path is ``core.paths.inside(plan.out, ...)``.  Returns (and
    writes) the batch report."""
    if timeout is not None:
        timeout = params.check("batch.timeout", timeout, "The take timeout")
    paths.check_output_dir(plan.out)
    os.makedirs(plan.out, exist_ok=True)
    spec_dir = os.path.join(plan.out, ".specs")
    os.makedirs(spec_dir, exist_ok=True)
    pending = list(plan.takes)
    running: dict = {}
    reports: dict[str, dict] = {}
    t0 = time.perf_counter()
    plan_dict = {k: v for k, v in plan.to_dict().items() if k not in ("takes", "skipped")}
    for path in plan.skipped:
        on_event(f"skipped {os.path.basename(path)} (no stage reads this kind of file)")
    while pending or running:
        while pending and len(running) < plan.jobs:
            take = pending.pop(0)
            spec = paths.inside(spec_dir, f"{take.name}.json")
            stale = paths.inside(plan.out, take.name, "report.json")
            if os.path.isfile(stale):  # an earlier run's: never mistaken for this one's
                os.remove(stale)
            write_json(spec, {"plan": plan_dict, "take": take.__dict__})
            log_path = paths.inside(spec_dir, f"{take.name}.log")
            handle = launch(cmd, spec, log_path)
            running[handle] = [take, log_path, time.perf_counter(), None]
            on_event(f"started {take.name} ({take.kind}) [{handle.where}]")
        time.sleep(0.05)
        for handle in list(running):
            take, log_path, started, stopped = running[handle]
            code = handle.poll()
            if code is None and timeout is not None:
                now = time.perf_counter()
                if stopped is None and now - started > timeout:
                    handle.terminate()  # the worker's cleanup runs
                    running[handle][3] = stopped = now
                elif stopped is not None and now - stopped > 5.0:
                    handle.kill()
                    code = handle.wait()
            if code is None:
                continue
            del running[handle]
            why = f"stopped after the --timeout of {timeout:g} s" if stopped is not None else None
            reports[take.name] = collect_report(plan, take, code, log_path, why)
            r = reports[take.name]
            on_event(f"{'done  ' if r['status'] == 'ok' else 'FAILED'} {take.name}"
                     + (f": {r['error']}" if r["status"] != "ok" else f" ({r.get('frames', 0)} frames)"))
    ordered = [reports[t.name] for t in plan.takes]
    failed = [r["take"] for r in ordered if r["status"] != "ok"]
    summary = {"character": plan.character, "out": plan.out, "jobs": plan.jobs, "takes": len(ordered),
               "succeeded": len(ordered) - len(failed), "failed": failed,
               "skipped": plan.skipped, "seconds": time.perf_counter() - t0,
               "worker": cmd[0], "scheduler": scheduler, "reports": ordered}
    write_json(os.path.join(plan.out, "batch_report.json"), summary)
    return summary


def collect_report(plan: BatchPlan, take: TakeSpec, code: int, log_path: str, stopped: str | None = None) -> dict:
    """The take's report.json, or a failure report made from the worker's log when it died
    (``stopped``: why the parent stopped it, e.g. the timeout)."""
    path = paths.inside(plan.out, take.name, "report.json")
    report = None
    if os.path.isfile(path):
        try:
            with open(path) as fh:
                report = json.load(fh)
        except (OSError, json.JSONDecodeError):
            report = None
    if stopped and report is not None and report.get("status") == "ok":
        stopped = None  # it finished just as it was stopped
    if report is None or stopped or (code != 0 and report.get("status") == "ok"):
        try:
            with open(log_path, errors="replace") as fh:
                tail = fh.read()[-1500:]
        except OSError:
            tail = ""
        report = failure_report(take, stopped or f"the worker process ended with status {code} before reporting",
                                log_tail=tail)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json(path, report)
    report["exit_code"] = code
    return report


def failure_report(take: TakeSpec, error: str, **extra) -> dict:
    """The report of a take whose worker could not write its own (the keys a worker's report has)."""
    return {"take": take.name, "source": take.path, "kind": take.kind, "status": "failed", "error": error,
            **extra, "outputs": {}, "timings": {}, "warnings": []}
