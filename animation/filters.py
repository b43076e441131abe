"""Temporal filtering of animation channels: the One Euro filter, vectorised.

Casiez, Roussel & Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for
Noisy Input in Interactive Systems" (CHI 2012).  A low-pass filter whose
cutoff rises with the signal's speed: still poses are smoothed hard (no
jitter), fast motions - a blink, a plosive - pass with little lag or loss.

All channels (F, C) are filtered at once; timestamps may be irregular
(variable frame rate).  Offline, :func:`smooth` runs the filter forward and
backward and averages the two (their lags cancel), so a blink stays centred
on its true frame.
"""

from __future__ import annotations

import numpy as np


def _alpha(cutoff, dt):
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(values: np.ndarray, times: np.ndarray, min_cutoff: float = 1.0, beta: float = 0.5,
             d_cutoff: float = 4.0) -> np.ndarray:
    """Causal One Euro filter over axis 0.  values: (F,) or (F, C); times: (F,) seconds, increasing.

    ``min_cutoff`` (Hz): smoothing of slow motion (lower = smoother);
    ``beta``: how fast the cutoff rises with speed (higher = less lag on fast motion);
    ``d_cutoff`` (Hz): smoothing of the speed estimate.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    t = np.asarray(times, dtype=np.float64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out[:, 0] if flat else out
    prev = x[0].copy()
    dprev = np.zeros(x.shape[1])
    out[0] = prev
    for i in range(1, len(x)):
        dt = max(t[i] - t[i - 1], 1e-6)
        dx = (x[i] - prev) / dt
        dprev = dprev + _alpha(d_cutoff, dt) * (dx - dprev)
        a = _alpha(min_cutoff + beta * np.abs(dprev), dt)
        prev = prev + a * (x[i] - prev)
        out[i] = prev
    return out[:, 0] if flat else out


def strength_params(strength: float) -> dict:
    """Map a user strength 0..1 to One Euro parameters (0 = off, 1 = heavy)."""
    s = float(np.clip(strength, 0.0, 1.0))
    min_cutoff = 10 ** np.interp(s, [0.0, 1.0], [np.log10(12.0), np.log10(0.4)])
    return {"min_cutoff": float(min_cutoff), "beta": 1.5, "d_cutoff": 6.0}


def smooth(values: np.ndarray, times: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """Zero-lag One Euro smoothing for offline takes (forward/backward average).

    strength 0 returns the input unchanged.
    """
    x = np.asarray(values, dtype=np.float64)
    if strength <= 0 or len(x) < 3:
        return x.copy()
    p = strength_params(strength)
    t = np.asarray(times, dtype=np.float64)
    fwd = one_euro(x, t, **p)
    bwd = one_euro(x[::-1], (t[-1] - t)[::-1], **p)[::-1]
    return 0.5 * (fwd + bwd)
