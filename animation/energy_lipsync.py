"""Lip sync without a speech model: loudness and spectral shape -> jaw and lips.

For languages PocketSphinx's English model doesn't know, singing, shouting,
or any voice the phone models fail on.  It cannot know *which* sound is
made, but it moves the mouth in time with the voice, which reads as speech:

* **jawOpen / lower lip** follow the loudness of the voiced band
  (80-1000 Hz RMS in dB, normalised between the recording's noise floor and
  its loud speech, 10th/97th percentiles of voiced frames), with a fast
  attack and a slower release so syllables open and close crisply;
* **rounding** (funnel, pucker): vowels like /o/, /u/ concentrate energy
  below ~1 kHz (low spectral centroid of the voiced spectrum);
* **spreading** (stretch, smile): /i/, /e/ have strong energy above 1.5 kHz;
* **fricatives** (s, sh, f: noisy, high-centroid, weak low band) narrow the
  opening and raise the upper lip a little;
* below the noise gate the mouth returns to rest.

Analysis at 100 frames/s (25 ms Hann windows, 10 ms hop, one batched
``numpy.fft.rfft``), then sampled at the animation frame rate.
"""

from __future__ import annotations

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from .lipsync_track import LipSyncTrack, frame_count

RATE = 16000
HOP = 160
WIN = 400


def features(samples: np.ndarray, rate: int = RATE) -> dict[str, np.ndarray]:
    """Per 10 ms frame: ``level`` (dB of voiced band), ``centroid`` (Hz), ``high`` and ``low``
    (fraction of energy above 1.5 kHz / below 1 kHz), ``times`` (s)."""
    x = np.asarray(samples, dtype=np.float32)
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    n = 1 + (len(x) - WIN) // HOP
    freqs = np.fft.rfftfreq(WIN, 1.0 / rate)
    win = np.hanning(WIN).astype(np.float32)
    band = (freqs >= 80) & (freqs <= 7000)
    low_b = (freqs >= 80) & (freqs <= 1000)
    high_b = (freqs >= 1500) & (freqs <= 7000)
    sel = (freqs >= 80) & (freqs <= 4000)
    total, voiced, high, centroid = (np.empty(n) for _ in range(4))
    for a in range(0, n, 4096):  # blocks keep memory flat for long recordings
        b = min(n, a + 4096)
        idx = np.arange(WIN)[None, :] + HOP * np.arange(a, b)[:, None]
        spec = np.abs(np.fft.rfft(x[idx] * win, axis=1)) ** 2
        total[a:b] = spec[:, band].sum(1) + 1e-10
        voiced[a:b] = spec[:, low_b].sum(1)
        high[a:b] = spec[:, high_b].sum(1) / total[a:b]
        centroid[a:b] = (spec[:, sel] * freqs[sel]).sum(1) / (spec[:, sel].sum(1) + 1e-10)
    return {
        "level": 10 * np.log10(voiced / WIN + 1e-10),
        "total": 10 * np.log10(total / WIN + 1e-10),
        "centroid": centroid,
        "high": high,
        "low": voiced / total,
        "times": (np.arange(n) * HOP + WIN / 2) / rate,
    }


def _attack_release(x: np.ndarray, attack: float, release: float) -> np.ndarray:
    """One-pole follower: coefficient ``attack`` when rising, ``release`` when falling (per frame)."""
    out = np.empty_like(x)
    y = 0.0
    for i, v in enumerate(x):  # n = 100 per second of audio: 60 000 for 10 min, ~20 ms
        k = attack if v > y else release
        y += k * (v - y)
        out[i] = y
    # a light zero-phase smoothing on top removes per-frame jitter
    return np.convolve(out, np.ones(3) / 3.0, mode="same") if len(out) > 3 else out


def energy_to_weights(samples: np.ndarray, fps: float, duration: float | None = None,
                      intensity: float = 1.0, rate: int = RATE) -> LipSyncTrack:
    """16 kHz mono samples -> :class:`LipSyncTrack` (method ``"energy"``)."""
    f = features(samples, rate)
    level = f["level"]
    loud = np.percentile(level, 97)
    floor = max(np.percentile(level, 10), loud - 45.0)
    gate = floor + 0.25 * (loud - floor)
    open_ = np.clip((level - gate) / max(loud - gate, 1e-6), 0.0, 1.0) ** 0.8
    # fricatives: noisy high band, weak low band -> narrow the jaw, show teeth
    fric = np.clip((f["high"] - 0.35) / 0.4, 0, 1) * np.clip((f["total"] - gate) / 20.0, 0, 1)
    voiced = open_ > 0.02
    cen = f["centroid"]
    rounded = np.clip((1100.0 - cen) / 500.0, 0, 1) * voiced
    spread = np.clip((f["high"] - 0.10) / 0.3, 0, 1) * voiced * (1 - fric)
    open_s = _attack_release(open_, 0.6, 0.25)
    rounded_s = _attack_release(rounded, 0.3, 0.2)
    spread_s = _attack_release(spread, 0.3, 0.2)
    fric_s = _attack_release(fric, 0.5, 0.3)
    if duration is None:
        duration = len(samples) / rate
    n = frame_count(duration, fps)
    t = np.arange(n) / fps
    at = lambda v: np.interp(t, f["times"], v, left=0.0, right=0.0)  # noqa: E731
    jaw, rnd, spr, frc = at(open_s), at(rounded_s), at(spread_s), at(fric_s)
    w = np.zeros((n, len(ARKIT_NAMES)))
    w[:, INDEX["jawOpen"]] = 0.62 * jaw * (1 - 0.5 * rnd)
    for side in ("Left", "Right"):
        w[:, INDEX["mouthLowerDown" + side]] = 0.30 * jaw + 0.10 * frc
        w[:, INDEX["mouthUpperUp" + side]] = 0.10 * jaw + 0.15 * frc
        w[:, INDEX["mouthStretch" + side]] = 0.35 * spr * jaw + 0.2 * frc
        w[:, INDEX["mouthSmile" + side]] = 0.15 * spr * jaw
    w[:, INDEX["mouthFunnel"]] = 0.5 * rnd * np.sqrt(jaw)
    w[:, INDEX["mouthPucker"]] = 0.45 * rnd * np.sqrt(jaw)
    w[:, INDEX["mouthClose"]] = 0.0
    w = np.clip(w * float(intensity), 0.0, 1.0)
    return LipSyncTrack(w.astype(np.float32), float(fps), "energy", None)
