"""The batch on a Ray cluster: each take is a Ray task (pure; Ray is optional and imported lazily).

``faceforge batch ... --ray [ADDRESS]`` runs the same batch as the local pool
(:func:`core.batch.run_batch`: the same spec files, the same
``batch-take --spec FILE`` command in one fresh bpy process per take, the same
report collection, summary and exit statuses); only the launcher differs:
:class:`RayLauncher` runs each take's command in a Ray task on some node
instead of a local process.

* **Resources**: each task declares ``cpus`` CPUs and ``memory_gb`` GiB (Ray
  schedules by them; Ray also sets ``OMP_NUM_THREADS`` to the CPUs).
* **Worker loss**: a task whose Ray worker or node dies, or whose bpy process
  is killed by a signal (out of memory, crash) before finishing, is retried up
  to ``retries`` times (Ray's ``max_retries``); after that it is reported
  failed like a local worker that died.  A take that fails on its own (exit 1,
  with its report) is not retried.  A take over ``--timeout`` is cancelled
  (the task and its bpy process) and not retried.
* **Inputs and outputs**: ``inputs="ship"`` (the default) sends the character
  .blend and the take file through Ray's object store; the take runs in a
  temporary folder on the node and its output folder comes back and is written
  under ``plan.out`` here (``report.json`` with this machine's paths).
  ``inputs="shared"``: every node reads the inputs and writes the outputs at
  the same paths as this machine (a shared file system); nothing is copied.
* **Code on the nodes**: the worker command (``./faceforge``'s Python and
  launcher, or ``--blender BINARY``) must exist at the same path on every
  node; a node without it reports the take failed, saying so.

Without an address a private local Ray instance is started (and stopped);
with one (``auto``, ``HOST:6379`` or ``ray://HOST:10001``) the cluster is
joined.  The Ray task itself (:func:`_run_take`) uses only the standard
library, so a node needs Ray and the worker command, not this package on its
``sys.path``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Callable

from .errors import FaceForgeError

RAY_VERSION = "2.60.0"  # the version requirements-ray.txt pins (and the tests run)
INPUTS = ("ship", "shared")
INSTALL_HINT = f"pip install ray=={RAY_VERSION} (see docs/farm.md)"


@dataclass
class RayOptions:
    """How to run a batch on Ray (``faceforge batch --ray ...``).

    ``address``: None = start a local Ray instance for this batch; else the cluster to join.
    ``inputs``: "ship" (through the object store) or "shared" (same paths on every node).
    ``retries``: extra attempts after worker loss.  ``cpus`` / ``memory_gb``: each take's declared
    resources.  ``local_cpus``: CPUs of a local instance (None: ``jobs * cpus``, or all).
    """

    address: str | None = None
    inputs: str = "ship"
    retries: int = 2
    cpus: float = 1.0
    memory_gb: float = 2.0
    local_cpus: int | None = None

    def check(self) -> None:
        if self.inputs not in INPUTS:
            raise FaceForgeError(f"--ray-inputs is one of {', '.join(INPUTS)}, not '{self.inputs}'")
        if self.retries < 0:
            raise FaceForgeError("--ray-retries must be 0 or more")
        if self.cpus <= 0 or self.memory_gb <= 0:
            raise FaceForgeError("--ray-cpus and --ray-memory must be more than 0")


def import_ray():
    """The ``ray`` module, or one clear error when it is not installed."""
    try:
        import ray
    except ImportError:
        raise FaceForgeError(f"--ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


# --- the Ray task (runs on a node; standard library only, pickled by value) ----------------

def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """The bpy process dies with its Ray worker (a cancelled or lost task leaves no orphan)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _run_take(cmd: list[str], spec: dict, character: bytes | None = None, take: bytes | None = None) -> dict:
    """Run ``cmd + ["batch-take", "--spec", FILE]`` for one take on this node.

    ``character`` / ``take``: the input files' bytes (shipped inputs: the take runs in a
    temporary folder and its output files come back), or None (shared paths).  Returns
    ``{"code", "log", "files": {relative path: bytes}, "node", "workdir"}``; raises
    ChildProcessError(code, log) when the process was killed by a signal (Ray retries it).
    """
    import json
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile

    import ray

    node = f"{socket.gethostname()} ({ray.get_runtime_context().get_node_id()[:8]})"
    tmp = tempfile.mkdtemp(prefix="faceforge-take-")
    try:
        plan, item = spec["plan"], spec["take"]
        shipped = character is not None
        if shipped:
            for role, key, holder, data in (("character", "character", plan, character), ("take", "path", item, take)):
                folder = os.path.join(tmp, "in", role)
                os.makedirs(folder)
                holder[key] = os.path.join(folder, os.path.basename(holder[key]))
                with open(holder[key], "wb") as fh:
                    fh.write(data)
            plan["out"] = os.path.join(tmp, "out")
        program = cmd[0] if os.path.sep in cmd[0] else shutil.which(cmd[0])
        needed = [("the worker program", program or cmd[0]), ("the character", plan["character"]),
                  ("the take", item["path"])]
        if len(cmd) > 1 and cmd[1].endswith(".py"):
            needed.insert(1, ("the FaceForge launcher", cmd[1]))
        missing = [(what, path) for what, path in needed if not path or not os.path.exists(path)]
        if missing:
            what, path = missing[0]
            hint = ("install FaceForge and its Python (or Blender) at the same paths on every node"
                    if what.startswith(("the worker", "the FaceForge")) else
                    "with --ray-inputs shared every node must see the inputs at the same paths")
            return {"code": 2, "log": "", "files": {}, "node": node, "workdir": tmp,
                    "error": f"{what} is not on Ray node {node}: {path} ({hint})"}
        spec_path = os.path.join(tmp, f"{item['name']}.json")  # named as on this machine
        with open(spec_path, "w") as fh:
            json.dump(spec, fh)
        log_path = os.path.join(tmp, "worker.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([*cmd, "batch-take", "--spec", spec_path], stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
            try:
                code = proc.wait()
            except KeyboardInterrupt:  # ray.cancel (the --timeout): stop bpy so it removes its temporary files
                proc.terminate()
                try:
                    proc.wait(5.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
        with open(log_path, errors="replace") as fh:
            text = fh.read()
        if code < 0:
            raise ChildProcessError(code, text[-20000:])
        files = {}
        if shipped:
            root = os.path.join(plan["out"], item["name"])
            for folder, _, names in os.walk(root):
                for name in names:
                    full = os.path.join(folder, name)
                    with open(full, "rb") as fh:
                        files[os.path.relpath(full, root)] = fh.read()
        return {"code": code, "log": text, "files": files, "node": node, "workdir": tmp}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the launcher (this machine) ---------------------------------------------------------------

def _relocate(value, moves: list[tuple[str, str]]):
    """``value`` (a report) with every path under the node's folders moved to this machine's."""
    if isinstance(value, str):
        for old, new in moves:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _relocate(v, moves) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocate(v, moves) for v in value]
    return value


def _check_reachable(address: str | None, seconds: float = 10.0) -> None:
    """One clear error for a cluster address nobody answers at (Ray itself would wait forever)."""
    import socket

    host_port = (address or "").removeprefix("ray://")
    if ":" not in host_port:  # None (local instance) or "auto": Ray finds it or says so at once
        return
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except (OSError, ValueError) as exc:
        raise FaceForgeError(f"Can't reach the Ray cluster at {address}: {exc}") from None


class RayTake:
    """One take's Ray task: the handle :func:`core.batch.run_batch` polls (see ``LocalProcess``)."""

    where = "ray task"

    def __init__(self, launcher: RayLauncher, cmd: list[str], spec_path: str, log_path: str):
        with open(spec_path) as fh:
            self._spec = json.load(fh)
        self._launcher, self._log_path, self._code = launcher, log_path, None
        args = [cmd, self._spec]
        if launcher.options.inputs == "ship":
            with open(self._spec["take"]["path"], "rb") as fh:
                args += [launcher.character_ref(self._spec["plan"]["character"]), fh.read()]
        self._ref = launcher.task.remote(*args)
        self._future = self._ref.future()

    def poll(self) -> int | None:
        if self._code is None and self._future.done():
            self._code = self._finish()
        return self._code

    def terminate(self) -> None:
        self._launcher.ray.cancel(self._ref, force=False)  # KeyboardInterrupt in the task: it stops its bpy process

    def kill(self) -> None:
        self._launcher.ray.cancel(self._ref, force=True)

    def wait(self) -> int:
        if self._code is None:
            try:
                self._future.result()
            except Exception:
                pass
            self._code = self._finish()
        return self._code

    def _finish(self) -> int:
        from ..formats.jobfile import TakeSpec
        from .batch import failure_report, write_json

        ray, tries = self._launcher.ray, self._launcher.options.retries + 1
        try:
            result = self._future.result()
        except ray.exceptions.TaskCancelledError:
            return self._write_log("ray: the take's task was cancelled (--timeout)\n", -9)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ChildProcessError) and len(cause.args) == 2:
                code, text = cause.args
                return self._write_log(f"{text}\nray: the take's process was killed (status {code}) "
                                       f"on each of {tries} attempt(s)\n", code)
            return self._write_log(f"ray: the take's task failed: {exc}\n", 1)
        except ray.exceptions.RayError as exc:  # worker or node lost on every attempt
            return self._write_log(f"ray: the worker running this take was lost on each of {tries} attempt(s): "
                                   f"{type(exc).__name__}: {exc}\n", -9)
        plan, take = self._spec["plan"], self._spec["take"]
        out_dir = os.path.join(plan["out"], take["name"])
        if result.get("error"):  # the node can't run it: a failed report that says why
            os.makedirs(out_dir, exist_ok=True)
            write_json(os.path.join(out_dir, "report.json"), failure_report(TakeSpec(**take), result["error"]))
        moves = [(os.path.join(result["workdir"], "out"), plan["out"]),
                 (os.path.join(result["workdir"], "in", "character", os.path.basename(plan["character"])),
                  plan["character"]),
                 (os.path.join(result["workdir"], "in", "take", os.path.basename(take["path"])), take["path"])]
        for rel, data in result["files"].items():
            path = os.path.join(out_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if rel == "report.json":
                try:
                    write_json(path, _relocate(json.loads(data), moves))
                    continue
                except ValueError:
                    pass
            with open(path, "wb") as fh:
                fh.write(data)
        return self._write_log(f"{result['log']}\nray: ran on node {result['node']}\n", result["code"])

    def _write_log(self, text: str, code: int) -> int:
        with open(self._log_path, "w") as fh:
            fh.write(text)
        return code


class RayLauncher:
    """Starts (or joins) Ray and launches takes as Ray tasks; use as a context manager."""

    def __init__(self, options: RayOptions, jobs: int | None = None):
        options.check()
        self.options, self._jobs, self._started, self._character = options, jobs, False, {}
        self.ray = None

    def __enter__(self) -> RayLauncher:
        ray = self.ray = import_ray()
        o = self.options
        _check_reachable(self.address)
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": "WARNING"}
            if self.address is None:
                kwargs["num_cpus"] = o.local_cpus or (math.ceil(self._jobs * o.cpus) if self._jobs else None)
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local instance"
                raise FaceForgeError(f"Can't start or join Ray at {where}: {exc}") from None
            self._started = True
        self._check_room()
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # nodes need no FaceForge on sys.path
        self.task = ray.remote(_run_take).options(
            num_cpus=o.cpus, memory=int(o.memory_gb * 2**30), max_retries=o.retries,
            retry_exceptions=[ChildProcessError])
        return self

    def _check_room(self) -> None:
        """One clear error (not a batch waiting forever) when no node can hold a take."""
        o = self.options
        for node in self.ray.nodes():
            res = node.get("Resources", {}) if node.get("Alive") else {}
            if res.get("CPU", 0) >= o.cpus and res.get("memory", 0) >= o.memory_gb * 2**30:
                return
        if self._started:
            self.ray.shutdown()
        raise FaceForgeError(f"No Ray node has {o.cpus:g} CPU(s) and {o.memory_gb:g} GiB of memory for a take: "
                             "lower --ray-cpus / --ray-memory or add bigger nodes")

    def __exit__(self, *exc) -> None:
        self._character.clear()
        if self._started:
            self.ray.shutdown()

    @property
    def capacity(self) -> int:
        """How many takes the cluster runs at once (its CPUs / each take's CPUs)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 0) // self.options.cpus))

    @property
    def address(self) -> str | None:
        """The cluster to join (``--ray ADDRESS``, else Ray's own ``RAY_ADDRESS``); None: a local instance."""
        return self.options.address or os.environ.get("RAY_ADDRESS") or None

    @property
    def scheduler(self) -> str:
        return f"ray ({self.address or 'local instance'}, inputs {self.options.inputs})"

    def character_ref(self, path: str):
        """The character .blend in the object store, put once for all takes."""
        if path not in self._character:
            with open(path, "rb") as fh:
                self._character[path] = self.ray.put(fh.read())
        return self._character[path]

    def __call__(self, cmd: list[str], spec: str, log_path: str) -> RayTake:
        return RayTake(self, cmd, spec, log_path)


def run_batch(plan, cmd: list[str], options: RayOptions, on_event: Callable[[str], None] = print,
              timeout: float | None = None, auto_jobs: bool = False) -> dict:
    """:func:`core.batch.run_batch` with each take as a Ray task.  ``auto_jobs``: run as many
    takes at once as the cluster has room for (else ``plan.jobs``)."""
    from dataclasses import replace

    from . import batch

    with RayLauncher(options, None if auto_jobs else plan.jobs) as launch:
        if auto_jobs:
            plan = replace(plan, jobs=launch.capacity)
        on_event(f"{launch.scheduler}: {plan.jobs} take(s) at once, "
                 f"{options.cpus:g} CPU / {options.memory_gb:g} GiB each, {options.retries} retries")
        return batch.run_batch(plan, cmd, on_event=on_event, timeout=timeout, launch=launch,
                               scheduler=launch.scheduler)
