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
PAUSE = 0.25  # s: a silence this long is a pause, where the mouth comes to rest
PAUSE_TAU = 0.03  # s: how fast a phone's influence fades into a neighbouring pause

_LIP_SHAPES = {"mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft",
               "mouthSmileRight", "mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
               "mouthShrugLower", "mouthShrugUpper", "mouthDimpleLeft", "mouthDimpleRight",
               "mouthFrownLeft", "mouthFrownRight", "mouthLeft", "mouthRight"}
LIP_GROUP = np.array([n in _LIP_SHAPES for n in ARKIT_NAMES])  # (52,) True = lips, False = jaw group

_CLOSE_ZERO = [INDEX[n] for n in ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                                  "mouthUpperUpRight", "mouthFunnel", "tongueOut", "mouthStretchLeft",
                                  "mouthStretchRight")]
_PRESS = [INDEX["mouthPressLeft"], INDEX["mouthPressRight"]]
# the jaw's opening and the lips that follow it (mouthClose too, so closed lips stay closed)
_OPENING = [INDEX[n] for n in ("jawOpen", "mouthClose", "mouthLowerDownLeft", "mouthLowerDownRight",
                               "mouthUpperUpLeft", "mouthUpperUpRight")]


def phones_to_weights(phones, fps: float, duration: float | None = None, intensity: float = 1.0,
                      tongue: bool = True, method: str = "align", lead: float = LEAD,
                      loudness: np.ndarray | None = None) -> LipSyncTrack:
    """``[(phone, start_s, end_s)]`` (or :class:`Phone` objects) -> :class:`LipSyncTrack` at ``fps``.

    ``lead``: the mouth shapes anticipate the sound by this many seconds (lips and jaw move
    before the acoustic boundary; measured on the GRID videos); bilabial closures stay on the
    acoustic timing of the m/b/p, where the lips really are shut.

    ``loudness`` (F,) 0..1 per frame (:func:`speech_loudness`), when given, scales the jaw's
    opening from ``1 - LOUDNESS_MIX / 2`` (murmured) to ``1 + LOUDNESS_MIX / 2`` (shouted)."""
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
    pause = [p.upper() == "SIL" and e - s >= PAUSE for p, s, e in items]
    for k, (phone, start, end) in enumerate(items):
        if end <= start:
            continue
        start, end = start - lead, end - lead
        v = vz.viseme_of(phone)
        vi = vz.VISEME_INDEX[v]
        a_jaw, a_lips, tau = DOMINANCE[v]
        # into a pause the mouth settles faster than between phones
        tau_l = min(tau, PAUSE_TAU) if k > 0 and pause[k - 1] else tau
        tau_r = min(tau, PAUSE_TAU) if k + 1 < len(items) and pause[k + 1] else tau
        c, h = 0.5 * (start + end), 0.5 * (end - start) * CORE
        lo = max(0, int(np.floor((c - h - REACH * tau_l) * fps)))
        hi = min(n, int(np.ceil((c + h + REACH * tau_r) * fps)) + 1)
        if hi <= lo:
            continue
        x = t[lo:hi] - c
        d = np.exp(-np.maximum(0.0, np.abs(x) - h) / np.where(x < 0, tau_l, tau_r))
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
    if loudness is not None:
        gain = 1.0 + LOUDNESS_MIX * (np.asarray(loudness, dtype=np.float64)[:n] - 0.5)
        w[:len(gain), _OPENING] *= gain[:, None]
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
SUNG = 0.5  # a voice holding notes for this fraction of its voiced time is singing
LOUDNESS_MIX = 0.4  # jaw opening x (1 - mix/2 .. 1 + mix/2) from the quietest to the loudest syllables


@dataclass
class Analysis:
    track: LipSyncTrack
    method: str  # "align", "recognise" or "energy": what was used
    reason: str  # one sentence: why this method
    phones: list | None = None  # [Phone] for the phone methods
    oov: list | None = None  # words pronounced by letter-to-sound rules
    segments: list | None = None  # [(start_s, end_s)] where the voice-activity model hears speech
    sung: float = 0.0  # fraction of the voiced time on held notes (prosody.sung_fraction)

    @property
    def method_label(self) -> str:
        return {"align": "forced alignment to the transcript", "recognise": "phone recognition (no transcript)",
                "energy": "energy/spectrum (no speech model)"}[self.method]


def voice_segments(samples: np.ndarray, rate: int = 16000) -> list[tuple[float, float]]:
    """Where someone speaks: Silero VAD when its model is installed, else a loudness gate."""
    from ..inference import vad

    if vad.available():
        return vad.speech_segments(samples)
    from .phonemes import voiced_frames

    voiced = voiced_frames(samples).astype(np.float32)  # 10 ms frames above the speech threshold
    return vad.segments_from_probability(voiced, duration=len(samples) / rate, frame_s=0.01)


def speech_loudness(samples: np.ndarray, times: np.ndarray, segments, rate: int = 16000) -> np.ndarray:
    """(len(times),) 0..1 loudness of the voice at each time, relative to this recording's own
    speech (its 10th..97th percentiles inside the speech segments): shouted syllables 1,
    murmured ones 0."""
    from scipy.ndimage import uniform_filter1d

    from ..inference.vad import speech_mask

    f = features(samples, rate)
    level = uniform_filter1d(f["level"], 5)
    inside = speech_mask(segments, f["times"])
    ref = level[inside] if inside.sum() > 10 else level
    lo, hi = np.percentile(ref, 10), np.percentile(ref, 97)
    x = np.clip((level - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return np.interp(times, f["times"], x)


def analyse(samples: np.ndarray, fps: float, transcript: str | None = None, method: str = "auto",
            intensity: float = 1.0, tongue: bool = True, report=None, rate: int = 16000) -> Analysis:
    """16 kHz mono speech -> :class:`Analysis` (weights at ``fps`` + which method was used and why).

    ``method``: ``"phonemes"`` (PocketSphinx: forced alignment with a transcript, phone
    recognition without), ``"energy"`` (no speech model), or ``"auto"``, which decides
    from the audio and the transcript:

    * a voice that holds notes (singing, :func:`prosody.sung_fraction` >= ``SUNG``), or in
      which the voice-activity model hears no speech, uses the energy method;
    * a transcript is aligned when it is English (:func:`phonemes.transcript_language`);
      a transcript in another language is not used: phones are recognised instead;
    * without a transcript, phones are recognised.  The recogniser's phone set is
      English, but its visemes (open, closed, rounded, spread) hold across languages:
      on GRID it follows real lips better than the energy method does (docs/lipsync.md).

    Every phone method is gated by voice activity: outside speech the mouth returns to
    rest, whatever the recogniser heard in breaths and noise.  Jaw opening grows with
    the voice's loudness (``LOUDNESS_MIX``).
    """
    from . import phonemes as ph
    from . import prosody

    from ..core.errors import FaceForgeError

    if method not in METHODS:
        raise FaceForgeError(f"Unknown lip sync method {method!r}; use one of {', '.join(METHODS)}")
    duration = len(samples) / rate
    report = report or (lambda f, m="": None)
    report(0.02, "finding speech")
    segments = voice_segments(samples, rate)

    def energy(reason: str, sung: float = 0.0) -> Analysis:
        report(0.1, "energy analysis")
        track = energy_to_weights(samples, fps, duration, intensity, rate)
        return Analysis(track, "energy", reason, segments=segments, sung=sung)

    if method == "energy":
        return energy("the energy method was chosen")
    sung = 0.0
    if method == "auto":
        if not segments:
            return energy("the voice-activity model hears no speech in this recording (singing, humming or "
                          "noise?), so the energy method was used")
        sung = prosody.sung_fraction(prosody.pitch(samples, rate))
        if sung >= SUNG:
            return energy(f"the voice holds notes for {sung:.0%} of its voiced time (singing), so the energy "
                          "method was used", sung)
    result, reason = None, ""
    if transcript and transcript.strip():
        english, why = ph.transcript_language(transcript)
        if not english and method == "auto":
            reason = (f"the transcript does not read as English ({why}), so phones were recognised from the "
                      "audio instead (English phone set: the visemes are approximate)")
        else:
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
        reason = reason or ("no transcript was given, so phones were recognised from the audio (in a language "
                            "other than English the visemes are approximate)")
    report(0.95, "coarticulation")
    phones = ph.gate_to_speech(result.phones, segments) if segments else \
        [ph.Phone("SIL", 0.0, duration)]
    n = frame_count(duration, fps)
    loud = speech_loudness(samples, np.arange(n) / fps + LEAD, segments, rate)
    track = phones_to_weights(phones, fps, duration, intensity, tongue, result.method, loudness=loud)
    return Analysis(track, result.method, reason, phones, result.oov, segments, sung)
