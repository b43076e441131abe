"""Prosody of a voice: pitch, pitch accents and whether it is sung (pure numpy).

Shapes and units
----------------
* input ``samples``: (N,) float32 mono, 16 kHz (``formats.audio.load_audio``);
* :class:`Pitch`: ``times`` (n,) s at 100 frames/s, ``f0`` (n,) Hz (NaN where unvoiced),
  ``strength`` (n,) 0..1 periodicity (peak of the normalised autocorrelation);
* :func:`accents` -> (k, 2) array of ``(time_s, strength 0..1)``;
* :func:`sung_fraction` -> 0..1.

The pitch tracker is a normalised-autocorrelation one (the core of YIN/Praat's AC
method) at 8 kHz: 40 ms Hann windows every 10 ms, autocorrelation by FFT, divided by the
window's own autocorrelation, the best lag between 1/``fmax`` and 1/``fmin`` with
parabolic refinement; frames whose peak is under ``VOICING`` are unvoiced; octave jumps
are removed with a running median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16000
HOP = 160  # 10 ms
WIN = 640  # 40 ms: two periods at 50 Hz
VOICING = 0.45


@dataclass
class Pitch:
    times: np.ndarray  # (n,) s, frame centres
    f0: np.ndarray  # (n,) Hz, NaN = unvoiced
    strength: np.ndarray  # (n,) 0..1

    @property
    def voiced(self) -> np.ndarray:
        return np.isfinite(self.f0)

    def semitones(self) -> np.ndarray:
        """(n,) F0 in semitones re 100 Hz (NaN where unvoiced)."""
        return 12.0 * np.log2(self.f0 / 100.0)


def pitch(samples: np.ndarray, rate: int = RATE, fmin: float = 60.0, fmax: float = 500.0) -> Pitch:
    """The voice's fundamental frequency every 10 ms (see the module docstring)."""
    from scipy.ndimage import median_filter

    from scipy.signal import resample_poly

    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate >= 16000 and rate % 8000 == 0:  # a voice's pitch needs no more than 4 kHz: 8 kHz is 4x cheaper
        x = resample_poly(x, 1, rate // 8000).astype(np.float32)
        rate = 8000
    hop, win_n = int(round(rate * HOP / RATE)), int(round(rate * WIN / RATE))
    if len(x) < win_n:
        x = np.pad(x, (0, win_n - len(x)))
    n = 1 + (len(x) - win_n) // hop
    win = np.hanning(win_n).astype(np.float32)
    nfft = 2 * win_n
    lag_lo, lag_hi = int(rate / fmax), min(int(rate / fmin), win_n - 2)
    w_ac = np.fft.irfft(np.abs(np.fft.rfft(win, nfft)) ** 2)[:win_n]
    w_ac = np.maximum(w_ac / w_ac[0], 1e-3)
    f0 = np.full(n, np.nan)
    strength = np.zeros(n)
    level = np.zeros(n)
    for a in range(0, n, 2048):  # blocks keep memory flat for long recordings
        b = min(n, a + 2048)
        idx = np.arange(win_n)[None, :] + hop * np.arange(a, b)[:, None]
        frames = x[idx]
        frames = (frames - frames.mean(1, keepdims=True)) * win
        ac = np.fft.irfft(np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2, axis=1)[:, :win_n]
        energy = ac[:, 0]
        level[a:b] = energy
        nac = ac / np.maximum(energy[:, None], 1e-12) / w_ac[None, :]
        seg = nac[:, lag_lo:lag_hi + 1]
        # the shortest lag whose peak is nearly as high as the best one: every multiple of
        # the period peaks too, and the first of them is the pitch (no octave-down errors)
        local = np.zeros_like(seg, dtype=bool)
        local[:, 1:-1] = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
        best = seg.max(axis=1, keepdims=True)
        cand = local & (seg >= 0.9 * best)
        k = np.where(cand.any(axis=1), np.argmax(cand, axis=1), np.argmax(seg, axis=1))
        peak = seg[np.arange(len(k)), k]
        # parabolic refinement of the lag
        km, kp = np.clip(k - 1, 0, seg.shape[1] - 1), np.clip(k + 1, 0, seg.shape[1] - 1)
        y0, y1, y2 = seg[np.arange(len(k)), km], peak, seg[np.arange(len(k)), kp]
        den = y0 - 2 * y1 + y2
        shift = np.where(np.abs(den) > 1e-9, 0.5 * (y0 - y2) / np.where(np.abs(den) > 1e-9, den, 1.0), 0.0)
        lag = lag_lo + k + np.clip(shift, -0.5, 0.5)
        strength[a:b] = np.clip(peak, 0.0, 1.0)
        f0[a:b] = rate / lag
    loud = level > (np.percentile(level, 99) * 10 ** (-40 / 10) if n else 0)
    voiced = (strength >= VOICING) & loud
    f0[~voiced] = np.nan
    # remove octave errors: compare with a running median of the voiced frames
    if voiced.sum() > 5:
        st = 12.0 * np.log2(np.where(voiced, f0, np.nanmedian(f0)) / 100.0)
        med = median_filter(st, size=15, mode="nearest")
        jump = np.abs(st - med) > 7.0
        f0[jump & voiced] = np.nan
    times = (np.arange(n) * hop + win_n / 2) / rate
    return Pitch(times, f0, strength)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, end)) index runs where ``mask`` is True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def sung_fraction(p: Pitch, note_s: float = 0.25, span: float = 1.0) -> float:
    """Fraction of the voiced time spent on held notes.

    A frame is on a held note when every frame in the ``note_s`` s around it is voiced
    and the (lightly smoothed) pitch there spans at most ``span`` semitones (vibrato of
    +-0.5 semitone stays inside).  Speech glides: its vowels are short and their pitch
    moves, so it spends little time on notes (English read speech here: 0-15 %); singing
    spends most of it there.
    """
    from scipy.ndimage import maximum_filter1d, median_filter, minimum_filter1d

    st = p.semitones()
    voiced = np.isfinite(st)
    total = int(voiced.sum())
    if total == 0:
        return 0.0
    size = max(3, int(round(note_s * 100)) | 1)
    filled = np.where(voiced, st, 0.0)
    smooth = median_filter(filled, size=5, mode="nearest")
    all_voiced = minimum_filter1d(voiced.astype(np.int8), size, mode="constant", cval=0) > 0
    rng = (maximum_filter1d(np.where(voiced, smooth, -1e3), size, mode="nearest")
           - minimum_filter1d(np.where(voiced, smooth, 1e3), size, mode="nearest"))
    centre = all_voiced & (rng <= span)
    held = maximum_filter1d(centre.astype(np.int8), size, mode="constant", cval=0) > 0
    return float((held & voiced).sum() / total)


def accents(p: Pitch, level_db: np.ndarray | None = None, segments=None, min_gap: float = 0.35,
            min_rise: float = 1.5) -> np.ndarray:
    """Pitch accents: (k, 2) rows of ``(time_s, strength 0..1)``.

    An accent is a local maximum of the (smoothed) pitch at least ``min_rise`` semitones
    above the median pitch of its phrase (``segments``: ``[(start_s, end_s)]`` speech
    segments; the whole recording when None), at least ``min_gap`` s from a stronger one.
    ``level_db`` (n,) at the same frames, when given, adds loudness: stressed syllables
    are louder as well as higher.  Strength is 0..1 (4 semitones above the phrase = 1).
    """
    st = p.semitones()
    t = p.times
    voiced = np.isfinite(st)
    if voiced.sum() < 3:
        return np.zeros((0, 2))
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import find_peaks

    fill = np.interp(np.arange(len(st)), np.flatnonzero(voiced), st[voiced])
    smooth = uniform_filter1d(fill, 7)
    segs = segments if segments else [(t[0], t[-1] + 0.01)]
    rows = []
    for a, b in segs:
        m = (t >= a) & (t < b) & voiced
        if m.sum() < 5:
            continue
        base = np.median(smooth[m])
        score = (smooth - base) / 4.0
        if level_db is not None:
            lv = np.asarray(level_db, dtype=np.float64)[: len(t)]
            ref = np.percentile(lv[m], 90)
            score = score + np.clip((lv - ref + 6.0) / 12.0, 0.0, 0.5)
        score = np.where(m, score, -np.inf)
        peaks, _ = find_peaks(np.where(np.isfinite(score), score, -1e9), distance=max(1, int(min_gap * 100)))
        for k in peaks:
            if smooth[k] - base >= min_rise:
                rows.append((t[k], float(np.clip(score[k], 0.0, 1.0))))
    return np.array(sorted(rows)) if rows else np.zeros((0, 2))
