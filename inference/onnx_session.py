"""One way to open an onnxruntime session: execution provider choice with a clean CPU fallback.

Execution providers (``PROVIDERS`` keys, the add-on preference's values):

* ``"CPU"`` (default; always there),
* ``"CUDA"`` (the ``onnxruntime-gpu`` package), ``"DirectML"`` (``onnxruntime-directml``),
  ``"CoreML"`` (macOS builds of onnxruntime).

When the chosen provider is not installed, or fails to start, the session runs on
the CPU and :func:`open_session` returns a one-line message saying so (the UI
reports it; nothing raises).  The process-wide choice is set once by the add-on
preferences (:func:`set_default_provider`); pure code never reads Blender.
"""

from __future__ import annotations

import os
import threading

from ..core.errors import FaceForgeError

PROVIDERS = {
    "CPU": "CPUExecutionProvider",
    "CUDA": "CUDAExecutionProvider",
    "DirectML": "DmlExecutionProvider",
    "CoreML": "CoreMLExecutionProvider",
}

_default = {"provider": os.environ.get("FACEFORGE_EXECUTION_PROVIDER", "CPU")}
_messages: list[str] = []
_lock = threading.Lock()
_sessions: dict[tuple, tuple] = {}  # (path, mtime, provider, threads) -> (session, message): load once


def set_default_provider(name: str) -> None:
    """The provider new sessions ask for (``PROVIDERS`` key)."""
    if name not in PROVIDERS:
        raise FaceForgeError(f"Unknown execution provider '{name}' (one of {', '.join(PROVIDERS)})")
    _default["provider"] = name


def default_provider() -> str:
    return _default["provider"]


def available_providers() -> list[str]:
    """``PROVIDERS`` keys the installed onnxruntime offers (CPU always first)."""
    ort = _ort()
    have = set(ort.get_available_providers())
    return [k for k, v in PROVIDERS.items() if v in have]


def last_messages() -> list[str]:
    """Fallback messages so far (each once), for the UI and the command line."""
    with _lock:
        return list(_messages)


def _ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise FaceForgeError("onnxruntime could not be loaded; reinstall the FaceForge extension "
                             "(it bundles onnxruntime)") from exc
    return ort


def open_session(model_path: str, provider: str | None = None, threads: int = 1):
    """``(session, message)``: an ``onnxruntime.InferenceSession`` on ``provider`` (default: the
    process-wide choice), or on the CPU with ``message`` saying why.  ``threads``: intra-op
    threads for the CPU provider (0 = onnxruntime's default, one per core).  Sessions are
    loaded once per process and shared (``run`` is thread-safe)."""
    if not os.path.isfile(model_path):
        raise FaceForgeError(f"Model file missing: {model_path}. Reinstall the FaceForge extension.")
    provider = provider or default_provider()
    if provider not in PROVIDERS:
        raise FaceForgeError(f"Unknown execution provider '{provider}' (one of {', '.join(PROVIDERS)})")
    key = (os.path.abspath(model_path), os.path.getmtime(model_path), provider, int(threads))
    with _lock:
        cached = _sessions.get(key)
    if cached is not None:
        return cached
    result = _load(model_path, provider, threads)
    with _lock:
        _sessions[key] = result
    return result


def _load(model_path: str, provider: str, threads: int):
    ort = _ort()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = max(0, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # no busy-waiting worker threads: the machine is shared with Blender's own work
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # denormals as zero: ~10 % faster on the face landmark model, results unchanged at 1e-38
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    message = ""
    wanted = PROVIDERS[provider]
    if provider != "CPU":
        if wanted not in ort.get_available_providers():
            message = (f"{provider} execution provider is not installed (onnxruntime offers "
                       f"{', '.join(available_providers())}); running on the CPU")
        else:
            try:
                sess = ort.InferenceSession(model_path, sess_options=opts,
                                            providers=[wanted, "CPUExecutionProvider"])
                if sess.get_providers()[0] == wanted:
                    return sess, ""
                message = f"{provider} execution provider did not start; running on the CPU"
            except Exception as exc:  # a broken driver must not stop the job
                message = f"{provider} execution provider failed ({type(exc).__name__}: {exc}); running on the CPU"
    if message:
        with _lock:
            if message not in _messages:
                _messages.append(message)
                import sys

                print(f"[faceforge] {message}", file=sys.stderr)
    sess = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    return sess, message
