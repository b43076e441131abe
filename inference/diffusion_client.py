"""Client for the optional diffusion worker (torch + diffusers in their own Python).

The add-on never imports torch.  The user points the preferences at a
separate Python interpreter that has torch and diffusers, and at a local
folder holding a diffusers pipeline (``model_index.json`` inside; nothing is
downloaded).  :class:`DiffusionWorker` starts ``inference/diffusion_worker.py``
with that interpreter and talks to it in JSON lines over stdin/stdout:

request  ``{"id": 3, "cmd": "edit", "image_path": "...", "prompt": "...",
"mask_path": "..." (optional), "steps": 20, "seed": 0, "out_path": "..." (optional)}``
response ``{"id": 3, "ok": true, "image_path": "..."}`` or ``{"id": 3, "ok": false,
"error": "..."}``; also ``{"cmd": "ping"}`` -> ``{"ok": true, "pipeline": "..."}`` and
``{"cmd": "quit"}``.

Every failure (no interpreter, worker died, timeout, error reply) becomes a
FaceForgeError whose message says what to fix.  Also here:
:func:`match_skin_tone`, Lab histogram matching so an edited face keeps the
original's skin tone.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import threading
import time

import numpy as np

from ..core.errors import FaceForgeError

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "diffusion_worker.py")


def setup_problem(worker_python: str, model_dir: str) -> str | None:
    """None when the diffusion backend is configured, else exactly what to set up."""
    where = "Edit > Preferences > Add-ons > FaceForge"
    if not worker_python:
        return (f"Set 'Worker Python' in {where} to a Python that has torch and diffusers "
                "(e.g. python -m venv sd && sd/bin/pip install torch diffusers transformers)")
    if not (os.path.isfile(worker_python) and os.access(worker_python, os.X_OK)):
        return f"Worker Python '{worker_python}' is not an executable file; fix it in {where}"
    if not model_dir:
        return (f"Set 'Diffusion Model Folder' in {where} to a local InstructPix2Pix or Stable Diffusion "
                "inpainting pipeline folder (with model_index.json)")
    if not os.path.isfile(os.path.join(model_dir, "model_index.json")):
        return (f"'{model_dir}' has no model_index.json: point 'Diffusion Model Folder' in {where} at a "
                "diffusers pipeline folder saved with save_pretrained()")
    return None


class DiffusionWorker:
    """A running worker process.  Use as a context manager; one request at a time."""

    def __init__(self, worker_python: str, model_dir: str, start_timeout: float = 120.0,
                 script: str | None = None, extra_args=()):
        problem = setup_problem(worker_python, model_dir)
        if problem:
            raise FaceForgeError(problem)
        self._ids = itertools.count(1)
        self._lines: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        env.pop("PYTHONPATH", None)  # Blender's paths must not leak into the worker's Python
        env.pop("PYTHONHOME", None)
        try:
            self.proc = subprocess.Popen(
                [worker_python, script or WORKER_SCRIPT, "--model-dir", model_dir, *extra_args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, bufsize=1, env=env)
        except OSError as exc:
            raise FaceForgeError(f"Could not start the diffusion worker with {worker_python}: {exc}") from exc
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        self.info = self.request("ping", timeout=start_timeout)

    def _pump(self, stream, q):
        for line in stream:
            q.put(line)
        q.put(None)

    def _pump_err(self):
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip())
            del self._stderr[:-40]

    def _why(self) -> str:
        tail = "\n".join(self._stderr[-8:])
        return f"\nWorker output:\n{tail}" if tail else ""

    def request(self, cmd: str, timeout: float = 600.0, **fields) -> dict:
        """Send one request and wait for its response (FaceForgeError on failure)."""
        if self.proc.poll() is not None:
            raise FaceForgeError(f"The diffusion worker has stopped (exit code {self.proc.returncode})."
                                 f"{self._why()}")
        rid = next(self._ids)
        try:
            self.proc.stdin.write(json.dumps({"id": rid, "cmd": cmd, **fields}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise FaceForgeError(f"The diffusion worker stopped before the '{cmd}' request: {exc}."
                                 f"{self._why()}") from exc
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close(kill=True)
                raise FaceForgeError(f"The diffusion worker did not answer '{cmd}' within {timeout:.0f} s "
                                     f"and was stopped; try fewer steps or a smaller image.{self._why()}")
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=5)
                raise FaceForgeError(f"The diffusion worker exited (code {self.proc.returncode}) while "
                                     f"handling '{cmd}'.{self._why()}")
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(line.rstrip())  # stray print from a library: not protocol
                continue
            if msg.get("id") != rid:
                continue
            if not msg.get("ok"):
                raise FaceForgeError(f"The diffusion worker failed on '{cmd}': {msg.get('error', 'unknown error')}")
            return msg

    def ping(self) -> dict:
        return self.request("ping", timeout=30.0)

    def edit(self, image_path: str, prompt: str, mask_path: str | None = None, steps: int = 20,
             seed: int = 0, out_path: str | None = None, timeout: float = 900.0) -> str:
        """Edit an image from a prompt; returns the edited image's path."""
        if not os.path.isfile(image_path):
            raise FaceForgeError(f"Image to edit not found: {image_path}")
        fields = {"image_path": os.path.abspath(image_path), "prompt": prompt, "steps": int(steps),
                  "seed": int(seed)}
        if mask_path:
            fields["mask_path"] = os.path.abspath(mask_path)
        if out_path:
            fields["out_path"] = os.path.abspath(out_path)
        return self.request("edit", timeout=timeout, **fields)["image_path"]

    def close(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if not kill:
                try:
                    self.proc.stdin.write(json.dumps({"id": 0, "cmd": "quit"}) + "\n")
                    self.proc.stdin.flush()
                    self.proc.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- one warm worker per (python, model) -------------------------------------------

_shared: dict[tuple[str, str], DiffusionWorker] = {}
_shared_lock = threading.Lock()


def shared_worker(worker_python: str, model_dir: str) -> DiffusionWorker:
    """A running worker for this interpreter and model, started once and reused.

    Loading a Stable Diffusion pipeline takes tens of seconds; keeping the
    process warm makes the second edit fast.  A worker that died is replaced.
    All are stopped at exit (:func:`close_shared`).
    """
    key = (os.path.abspath(worker_python), os.path.abspath(model_dir))
    with _shared_lock:
        worker = _shared.get(key)
        if worker is None or worker.proc.poll() is not None:
            worker = _shared[key] = DiffusionWorker(worker_python, model_dir)
            if len(_shared) == 1:
                import atexit

                atexit.register(close_shared)
        return worker


def close_shared() -> None:
    with _shared_lock:
        for worker in _shared.values():
            worker.close()
        _shared.clear()


# --- skin tone ------------------------------------------------------------------

def _match_channel(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    s_vals, s_idx, s_counts = np.unique(src.ravel(), return_inverse=True, return_counts=True)
    r_vals, r_counts = np.unique(ref.ravel(), return_counts=True)
    s_cdf = np.cumsum(s_counts) / src.size
    r_cdf = np.cumsum(r_counts) / ref.size
    return np.interp(s_cdf, r_cdf, r_vals)[s_idx].reshape(src.shape)


def match_skin_tone(edited: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None,
                    strength: float = 1.0) -> np.ndarray:
    """Histogram-match ``edited`` (H, W, 3 uint8 RGB) to ``reference`` in CIE Lab.

    ``mask`` (H, W) bool limits both histograms (and the change) to skin;
    ``strength`` 0..1 blends between the edit and the matched result.  The two
    images may differ in size.  Returns uint8 RGB like ``edited``.
    """
    import cv2

    if edited.ndim != 3 or edited.shape[2] != 3 or reference.ndim != 3 or reference.shape[2] != 3:
        raise FaceForgeError("Skin-tone matching needs two RGB images (H, W, 3)")
    lab_e = cv2.cvtColor(edited.astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float64)
    lab_r = cv2.cvtColor(reference.astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float64)
    sel_e = np.ones(edited.shape[:2], bool) if mask is None else mask.astype(bool)
    sel_r = np.ones(reference.shape[:2], bool) if mask is None or mask.shape != reference.shape[:2] \
        else mask.astype(bool)
    if not sel_e.any() or not sel_r.any() or strength <= 0:
        return edited.copy()
    out = lab_e.copy()
    for c in range(3):
        out[..., c][sel_e] = _match_channel(lab_e[..., c][sel_e], lab_r[..., c][sel_r])
    out = lab_e + float(np.clip(strength, 0.0, 1.0)) * (out - lab_e)
    rgb = cv2.cvtColor(np.clip(np.round(out), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    rgb[~sel_e] = edited[~sel_e]  # outside the mask: untouched (no Lab round-trip rounding)
    return rgb
