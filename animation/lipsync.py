"""Timed phones -> ARKit weights per frame, with coarticulation.

Coarticulation follows Cohen & Massaro (1993): every phone exerts a
*dominance* over time, strongest inside the phone and decaying
exponentially outside it, and the mouth at time t is the dominance-weighted
mean of the neighbouring visemes' poses::

    D_i(t) = alpha_i * exp(-(max(0, |t - c_i| - h_i) / tau_i))
    W(t)   = sum_i D_i(t) * pose_i / sum_i D_i(t)

with c_i the phone's centre and h_i its half-duration (shrunk a little so
neighbours overlap).  Dominance is separate for two channel groups, as in
the original model, so that e.g. lip rounding of an /u/ spreads over the
consonants around it (they have a low *lip* dominance) while the jaw still
follows them:

* jaw group: jawOpen, mouthClose, mouthLowerDown/UpperUp, tongueOut, ...
* lips group: funnel, pucker, stretch, smile, press, roll, ...

Guarantees the tests check:

* **bilabials close the lips**: after blending, the two frames around the
  midpoint of every m/b/p (and every frame within half a frame of it) are forced shut (``mouthClose == jawOpen``, no lip
  raise/lower, no funnel), so the baked linear F-curves are closed at the
  midpoint itself whatever the frame rate;
* **no chattering**: short phones only pull the mouth part-way (their
  dominance overlaps their neighbours'), so a run of quick consonants does
  not flap the jaw;
* **silence returns to rest**: silence is a phone with the rest pose (all
  zeros); a pause longer than ~0.25 s reaches rest;
* **intensity** scales every weight (0 = still, 1 = as designed, up to 2 for
  exaggerated, clipped to 1 per shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from . import visemes as vz
from .energy_lipsync import energy_to_weights, features
from .lipsync_track import LipSyncTrack, frame_count

# (alpha_jaw, alpha_lips, tau seconds) per viseme
DOMINANCE: dict[str, tuple[float, float, float]] = {
    "sil": (1.0, 1.0, 0.06),
    "PP": (3.0, 3.0, 0.035),
    "FF": (1.5, 2.0, 0.04),
    "TH": (0.8, 0.6, 0.035),
    "DD": (0.6, 0.25, 0.03),
    "kk": (0.5, 0.2, 0.03),
    "CH": (0.9, 1.4, 0.045),
    "SS": (0.8, 0.7, 0.04),
    "nn": (0.5, 0.25, 0.03),
    "RR": (0.7, 1.0, 0.05),
    "aa": (1.0, 1.0, 0.06),
    "E": (1.0, 1.0, 0.06),
    "ih": (1.0, 1.0, 0.055),
    "oh": (1.0, 1.3, 0.07),
    "ou": (1.0, 1.5, 0.08),
}
LEAD = 0.04  # s: visible articulation leads the sound (GRID videos vs their audio: best at ~40 ms)
CORE = 0.7  # fraction of a phone's half-duration at full dominance
REACH = 5.0  # a phone's influence is cut at REACH * tau outside it

_LIP_SHAPES = {"mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft",
               "mouthSmileRight", "mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
               "mouthShrugLower", "mouthShrugUpper", "mouthDimpleLeft", "mouthDimpleRight",
               "mouthFrownLeft", "mouthFrownRight", "mouthLeft", "mouthRight"}
LIP_GROUP = np.array([n in _LIP_SHAPES for n in ARKIT_NAMES])  # (52,) True = lips, False = jaw group

_CLOSE_ZERO = [INDEX[n] for n in ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                                  "mouthUpperUpRight", "mouthFunnel", "tongueOut", "mouthStretchLeft",
                                  "mouthStretchRight")]
_PRESS = [INDEX["mouthPressLeft"], INDEX["mouthPressRight"]]


def phones_to_weights(phones, fps: float, duration: float | None = None, intensity: float = 1.0,
                      tongue: bool = True, method: str = "align", lead: float = LEAD) -> LipSyncTrack:
    """``[(phone, start_s, end_s)]`` (or :class:`Phone` objects) -> :class:`LipSyncTrack` at ``fps``.

    ``lead``: the mouth shapes anticipate the sound by this many seconds (lips and jaw move
    before the acoustic boundary; measured on the GRID videos); bilabial closures stay on the
    acoustic timing of the m/b/p, where the lips really are shut."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    items = [(p.phone, p.start, p.end) if hasattr(p, "phone") else tuple(p) for p in phones]
    if duration is None:
        duration = max((e for _p, _s, e in items), default=0.0)
    n = frame_count(duration, fps)
    t = np.arange(n, dtype=np.float64) / fps
    poses = vz.pose_matrix(tongue=tongue).astype(np.float64)
    num = np.zeros((n, len(ARKIT_NAMES)))
    den = np.zeros((n, 2))  # jaw, lips
    best = np.zeros(n)
    best_v = np.zeros(n, dtype=np.int16)
    for phone, start, end in items:
        if end <= start:
            continue
        start, end = start - lead, end - lead
        v = vz.viseme_of(phone)
        vi = vz.VISEME_INDEX[v]
        a_jaw, a_lips, tau = DOMINANCE[v]
        c, h = 0.5 * (start + end), 0.5 * (end - start) * CORE
        lo = max(0, int(np.floor((c - h - REACH * tau) * fps)))
        hi = min(n, int(np.ceil((c + h + REACH * tau) * fps)) + 1)
        if hi <= lo:
            continue
        d = np.exp(-np.maximum(0.0, np.abs(t[lo:hi] - c) - h) / tau)
        dj, dl = a_jaw * d, a_lips * d
        pose = poses[vi]
        num[lo:hi] += np.where(LIP_GROUP, dl[:, None], dj[:, None]) * pose
        den[lo:hi, 0] += dj
        den[lo:hi, 1] += dl
        better = dj > best[lo:hi]
        best[lo:hi] = np.where(better, dj, best[lo:hi])
        best_v[lo:hi] = np.where(better, vi, best_v[lo:hi])
    den_c = np.where(LIP_GROUP, den[:, 1:2], den[:, 0:1])
    w = np.divide(num, den_c, out=np.zeros_like(num), where=den_c > 1e-9)
    w = np.clip(w * float(intensity), 0.0, 1.0)
    close_bilabials(w, items, fps)
    return LipSyncTrack(w.astype(np.float32), float(fps), method, best_v)


def close_bilabials(w: np.ndarray, phones, fps: float) -> None:
    """Shut the lips (in place) through every m/b/p: the frames either side of its
    midpoint and every frame within half a frame of the phone (real lips stay shut
    through the whole closure - for p/b the silent part before the burst is the
    closure; at least two frames shut also absorbs small timing errors)."""
    n = len(w)
    for phone, start, end in phones:
        if phone.upper().rstrip("012") not in vz.BILABIALS:
            continue
        m = 0.5 * (start + end) * fps
        frames = {int(np.floor(m)), int(np.ceil(m))}
        frames.update(range(int(np.floor(start * fps)), int(np.ceil(end * fps)) + 1))
        for f in frames:
            if 0 <= f < n:
                row = w[f]
                row[INDEX["jawOpen"]] = min(row[INDEX["jawOpen"]], 0.12)
                row[INDEX["mouthClose"]] = row[INDEX["jawOpen"]]
                row[_CLOSE_ZERO] = 0.0
                row[_PRESS] = np.maximum(row[_PRESS], 0.25)


def chatter_rate(opening: np.ndarray, fps: float, min_swing: float = 0.08) -> float:
    """Open/close reversals per second of a lip-opening track, counting swings >= ``min_swing``."""
    x = np.asarray(opening, dtype=np.float64)
    if len(x) < 2:
        return 0.0
    lo = hi = ext = x[0]
    direction, reversals = 0, 0
    for v in x[1:]:
        if direction == 0:
            lo, hi = min(lo, v), max(hi, v)
            if v >= lo + min_swing:
                direction, ext = 1, v
            elif v <= hi - min_swing:
                direction, ext = -1, v
        elif direction > 0:
            if v > ext:
                ext = v
            elif v <= ext - min_swing:
                reversals, direction, ext = reversals + 1, -1, v
        else:
            if v < ext:
                ext = v
            elif v >= ext + min_swing:
                reversals, direction, ext = reversals + 1, 1, v
    return reversals / (len(x) / fps)


# -- the whole analysis: audio -> track, choosing the method ------------------

METHODS = ("auto", "phonemes", "energy")


@dataclass
class Analysis:
    track: LipSyncTrack
    method: str  # "align", "recognise" or "energy": what was used
    reason: str  # one sentence: why this method
    phones: list | None = None  # [Phone] for the phone methods
    oov: list | None = None  # words pronounced by letter-to-sound rules

    @property
    def method_label(self) -> str:
        return {"align": "forced alignment to the transcript", "recognise": "phone recognition (no transcript)",
                "energy": "energy/spectrum (no speech model)"}[self.method]


def speech_coverage(phones, samples: np.ndarray, rate: int = 16000) -> float:
    """Fraction of the loud (voiced) time that the phones cover with speech (not silence)."""
    f = features(samples, rate)
    level = f["level"]
    loud = level > np.percentile(level, 97) - 20.0
    if not loud.any():
        return 0.0
    speech = np.zeros(len(level), dtype=bool)
    for p in phones:
        if p.phone != "SIL":
            speech |= (f["times"] >= p.start) & (f["times"] < p.end)
    return float((speech & loud).sum() / loud.sum())


def analyse(samples: np.ndarray, fps: float, transcript: str | None = None, method: str = "auto",
            intensity: float = 1.0, tongue: bool = True, report=None, rate: int = 16000) -> Analysis:
    """16 kHz mono speech -> :class:`Analysis` (weights at ``fps`` + which method was used and why).

    ``method``: ``"phonemes"`` (PocketSphinx: forced alignment with a
    transcript, phone recognition without), ``"energy"`` (no speech model),
    or ``"auto"``: phonemes, falling back to recognition if the transcript
    can't be aligned and to energy when the English phone model finds
    little speech in a loud recording (another language, singing, shouting).
    """
    from . import phonemes as ph

    from ..core.errors import FaceForgeError

    if method not in METHODS:
        raise FaceForgeError(f"Unknown lip sync method {method!r}; use one of {', '.join(METHODS)}")
    duration = len(samples) / rate
    report = report or (lambda f, m="": None)
    if method == "energy":
        report(0.1, "energy analysis")
        track = energy_to_weights(samples, fps, duration, intensity, rate)
        return Analysis(track, "energy", "the energy method was chosen")
    result, reason = None, ""
    if transcript and transcript.strip():
        try:
            result = ph.align(samples, transcript, report=lambda f, m="": report(0.9 * f, m))
            reason = "a transcript was given"
            if result.fallback_pieces:
                reason += (f" ({result.fallback_pieces} of {result.pieces} pieces of the long recording "
                           "could not be aligned and were phone-recognised)")
        except FaceForgeError as exc:
            if method == "phonemes" and "no words" in str(exc):
                raise
            reason = f"the transcript could not be aligned ({exc}), so phones were recognised instead"
    if result is None:
        result = ph.recognise(samples, report=lambda f, m="": report(0.9 * f, m))
        reason = reason or "no transcript was given"
        if method == "auto":
            cov = speech_coverage(result.phones, samples, rate)
            if cov < 0.35:
                track = energy_to_weights(samples, fps, duration, intensity, rate)
                return Analysis(track, "energy",
                                f"the English phone model found speech in only {cov:.0%} of the voiced audio "
                                "(another language, singing or shouting?), so the energy method was used")
    report(0.95, "coarticulation")
    track = phones_to_weights(result.phones, fps, duration, intensity, tongue, result.method)
    return Analysis(track, result.method, reason, result.phones, result.oov)
