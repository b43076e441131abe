"""Voice activity: where in a recording someone is speaking (Silero VAD on onnxruntime).

Silero VAD (MIT, ``models/silero-vad.onnx``) is a small recurrent network trained on
speech in many languages against noise, music and breathing; it is the same model in
every language, so it tells speech from pauses where our English phone models cannot.
The model file is taken at build time from the pinned PyPI package ``silero-vad``
(``scripts/fetch_vad_model.py``); nothing is downloaded at run time.

Shapes and units
----------------
* input: ``samples`` (N,) float32 mono at 16 kHz in [-1, 1];
* :func:`speech_probability` -> (M,) float32, one probability per 32 ms frame
  (``HOP`` = 512 samples; frame k covers ``[k * 0.032, (k + 1) * 0.032)`` s);
* :func:`speech_segments` -> ``[(start_s, end_s)]``, sorted, non-overlapping.

The sequence export of the model takes every 512-sample frame with the previous 64
samples as context, ``(M, 576)``, and runs the whole recording in one call per block
(about 400x real time on one core).
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..core.errors import FaceForgeError

RATE = 16000
HOP = 512  # samples per frame (32 ms)
CONTEXT = 64  # samples of the previous frame the model sees
FRAME_S = HOP / RATE
BLOCK = 1024  # frames per onnxruntime call (~33 s): bounded memory on long recordings
MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models",
                          "silero-vad.onnx")

_session = None
_lock = threading.Lock()


def available() -> bool:
    return os.path.isfile(MODEL_PATH)


def _get_session():
    global _session
    with _lock:
        if _session is None:
            if not available():
                raise FaceForgeError("The voice-activity model (models/silero-vad.onnx) is missing: run "
                                     "scripts/setup_env.sh once, or reinstall the FaceForge extension")
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            _session = ort.InferenceSession(MODEL_PATH, sess_options=opts, providers=["CPUExecutionProvider"])
        return _session


def speech_probability(samples: np.ndarray) -> np.ndarray:
    """(M,) speech probability per 32 ms frame of 16 kHz mono ``samples``."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    m = (len(x) + HOP - 1) // HOP
    if m == 0:
        return np.zeros(0, np.float32)
    frames = np.zeros((m, HOP), np.float32)
    frames.reshape(-1)[: len(x)] = x
    context = np.zeros((m, CONTEXT), np.float32)
    context[1:] = frames[:-1, -CONTEXT:]
    windows = np.concatenate([context, frames], axis=1)
    session = _get_session()
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out = np.empty(m, np.float32)
    with _lock:  # one recurrent state per call; the session is shared
        for a in range(0, m, BLOCK):
            probs, h, c = session.run(None, {"input": windows[a:a + BLOCK], "h": h, "c": c})
            out[a:a + BLOCK] = np.asarray(probs).reshape(-1)
    return out


def segments_from_probability(prob: np.ndarray, onset: float = 0.5, offset: float = 0.35,
                              min_speech: float = 0.12, min_pause: float = 0.16,
                              pad: float = 0.03, duration: float | None = None,
                              frame_s: float = FRAME_S) -> list[tuple[float, float]]:
    """Speech segments from per-frame probabilities (``frame_s`` s apart), with hysteresis.

    Speech starts where the probability reaches ``onset`` and lasts while it stays above
    ``offset``; pauses shorter than ``min_pause`` s are bridged, bursts shorter than
    ``min_speech`` s are dropped (a click, a breath), and each segment is padded by ``pad``.
    """
    p = np.asarray(prob, dtype=np.float32)
    segs: list[list[float]] = []
    on, start = False, 0
    for k, v in enumerate(p):
        if not on and v >= onset:
            on, start = True, k
        elif on and v < offset:
            on = False
            segs.append([start * frame_s, k * frame_s])
    if on:
        segs.append([start * frame_s, len(p) * frame_s])
    merged: list[list[float]] = []
    for s in segs:
        if merged and s[0] - merged[-1][1] < min_pause:
            merged[-1][1] = s[1]
        else:
            merged.append(s)
    end = duration if duration is not None else len(p) * frame_s
    return [(max(0.0, a - pad), min(end, b + pad)) for a, b in merged if b - a >= min_speech]


def speech_segments(samples: np.ndarray, **kw) -> list[tuple[float, float]]:
    """``[(start_s, end_s)]`` where someone speaks in 16 kHz mono ``samples``."""
    return segments_from_probability(speech_probability(samples), duration=len(samples) / RATE, **kw)


def speech_mask(segments, times: np.ndarray) -> np.ndarray:
    """(len(times),) bool: whether each time (s) falls inside a speech segment."""
    t = np.asarray(times, dtype=np.float64)
    mask = np.zeros(len(t), dtype=bool)
    for a, b in segments:
        mask |= (t >= a) & (t < b)
    return mask
