"""Synthetic audio for the speech tests (made here, not data files)."""

import numpy as np


def sung_vowel(seconds: float = 4.0, f0: float = 220.0, melody: bool = False, sr: int = 16000):
    """A synthetic sung /a/: a sawtooth with 5 Hz vibrato through three formant resonators, one
    note per 0.67 s (no English phones for a speech model to find).  ``melody``: the notes step
    through four pitches a whole tone apart instead of holding ``f0``.  Returns (samples, envelope)."""
    from scipy.signal import lfilter, sawtooth

    t = np.arange(int(seconds * sr)) / sr
    note = f0 * 2 ** (np.floor(t * 1.5) % 4 * 2 / 12) if melody else np.full(len(t), f0)
    phase = 2 * np.pi * np.cumsum(note * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / sr
    y = sawtooth(phase)
    for f, bw in ((700, 110), (1220, 120), (2600, 160)):
        r, th = np.exp(-np.pi * bw / sr), 2 * np.pi * f / sr
        y = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], y)
    env = np.clip(np.sin(2 * np.pi * 1.5 * t), 0, 1) ** 0.5
    return (y / np.abs(y).max() * 0.5 * env).astype(np.float32), env
