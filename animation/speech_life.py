"""Life while speaking: blinks, brow raises and head nods from a voice (pure numpy).

A talking face does more than move its mouth.  These layers add what listeners expect,
each driven by the audio and each separately switchable:

* **blinks** (``eyeBlinkLeft/Right``): about 20 a minute while talking (conversational
  blink rates are 15-25 a minute), spaced by a gamma distribution (never closer than
  1.2 s), plus a blink at most phrase ends (pauses of 0.3 s or more), where people blink
  most.  Each blink closes in 80 ms, holds 40 ms and opens in 160 ms.
* **brows** (``browInnerUp``, ``browOuterUpLeft/Right``): a short raise on each pitch
  accent (:func:`animation.prosody.accents`: a pitch peak above the phrase's median,
  louder than its neighbours), scaled by the accent's strength, rising 120 ms before the
  peak and falling over 400 ms.
* **head**: a small nod (chin down 1-3 degrees) on each accent, and a slow sway (under 1.5
  degrees) while speaking, easing in and out at phrase edges.

The random parts (blink timing, sway phases) are seeded from the audio itself, so the
same recording gives the same animation every time.

Shapes and units: ``weights`` (F, 52) ARKit order at ``fps`` (only the blink and brow
channels are non-zero); ``head`` (F, 3) radians about the face's own axes: pitch about its
left (x, positive raises the chin), yaw about up (y, positive turns to the face's left),
roll about forward (z).  Frame k is at time k / fps.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from . import prosody

BLINK_SHAPES = ("eyeBlinkLeft", "eyeBlinkRight")
BROW_SHAPES = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")
LAYERS = ("blinks", "brows", "head")

BLINK_MEAN_S = 3.0  # mean interval between blinks while talking (20 a minute)
BLINK_MIN_S = 1.2
BLINK_CLOSE, BLINK_HOLD, BLINK_OPEN = 0.08, 0.04, 0.16  # s
PHRASE_END_BLINK = 0.7  # chance of a blink at the end of a phrase
BROW_RAISE = 0.35  # browInnerUp at a full-strength accent (outer brows 0.7 of it)
NOD_DEGREES = 2.5  # chin down at a full-strength accent
SWAY_DEGREES = (1.2, 1.5, 0.6)  # pitch, yaw, roll amplitude of the slow sway


@dataclass
class SpeechLife:
    weights: np.ndarray  # (F, 52) float32
    head: np.ndarray  # (F, 3) float32 radians (pitch, yaw, roll)
    fps: float
    blinks: list[float] = field(default_factory=list)  # s, blink start times
    accents: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (k, 2) (time_s, strength)
    layers: tuple[str, ...] = LAYERS  # which layers are in it

    @property
    def shapes(self) -> tuple[str, ...]:
        """The ARKit channels this take animates (for writing only those)."""
        out: tuple[str, ...] = ()
        if "blinks" in self.layers:
            out += BLINK_SHAPES
        if "brows" in self.layers:
            out += BROW_SHAPES
        return out


def _seed(samples: np.ndarray) -> int:
    x = np.asarray(samples[: 16000 * 5], dtype=np.float32)
    return zlib.crc32(np.round(x * 3000).astype(np.int16).tobytes())


def blink_curve(starts, t: np.ndarray) -> np.ndarray:
    """(len(t),) 0..1 eyelid closure of blinks starting at ``starts`` (s)."""
    out = np.zeros(len(t))
    for s in starts:
        x = t - s
        close = np.clip(x / BLINK_CLOSE, 0, 1)
        opening = np.clip((x - BLINK_CLOSE - BLINK_HOLD) / BLINK_OPEN, 0, 1)
        v = np.where(x < 0, 0.0, np.where(opening > 0, 1.0 - opening, close))
        out = np.maximum(out, 0.5 - 0.5 * np.cos(np.pi * v))  # eased
    return out


def blink_times(segments, duration: float, rng: np.random.Generator) -> list[float]:
    """Blink start times (s): a renewal process over the clip plus phrase-end blinks."""
    times: list[float] = []
    t = rng.uniform(0.3, BLINK_MEAN_S)
    while t < duration - 0.3:
        times.append(t)
        t += max(BLINK_MIN_S, rng.gamma(3.0, BLINK_MEAN_S / 3.0))
    for (_a, b), nxt in zip(segments, list(segments[1:]) + [(duration + 1.0, 0.0)]):
        if nxt[0] - b >= 0.3 and b + 0.1 < duration - 0.3 and rng.random() < PHRASE_END_BLINK:
            times.append(b + rng.uniform(0.05, 0.2))
    times.sort()
    kept: list[float] = []
    for s in times:  # phrase-end blinks replace a regular blink that falls too close
        if kept and s - kept[-1] < BLINK_MIN_S:
            continue
        kept.append(s)
    return kept


def _bumps(events: np.ndarray, t: np.ndarray, rise: float, fall: float) -> np.ndarray:
    """(len(t),) max over events (time, strength) of a smooth rise-then-fall bump."""
    out = np.zeros(len(t))
    for c, s in events:
        x = t - c
        up = np.clip((x + rise) / rise, 0, 1)
        down = np.clip(1.0 - x / fall, 0, 1)
        v = np.where(x < 0, up, down)
        out = np.maximum(out, s * (0.5 - 0.5 * np.cos(np.pi * v)))
    return out


def speech_envelope(segments, t: np.ndarray, ease: float = 0.3) -> np.ndarray:
    """(len(t),) 1 inside speech, easing to 0 over ``ease`` s outside it."""
    out = np.zeros(len(t))
    for a, b in segments:
        d = np.maximum(np.maximum(a - t, t - b), 0.0)
        out = np.maximum(out, np.clip(1.0 - d / ease, 0, 1))
    return 0.5 - 0.5 * np.cos(np.pi * out)


def speech_life(samples: np.ndarray, fps: float, duration: float, segments, layers=LAYERS,
                pitch: prosody.Pitch | None = None, level_db: np.ndarray | None = None,
                rate: int = 16000, intensity: float = 1.0) -> SpeechLife:
    """The life layers for a voice: ``segments`` ``[(start_s, end_s)]`` are where it speaks
    (``inference.vad.speech_segments``); ``layers`` any of ``LAYERS``; ``intensity`` scales
    the brow and head motion (blinks always close fully)."""
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}; use {LAYERS}")
    n = int(np.ceil(duration * fps - 1e-9)) + 1
    t = np.arange(n) / fps
    w = np.zeros((n, len(ARKIT_NAMES)), np.float32)
    head = np.zeros((n, 3), np.float32)
    rng = np.random.default_rng(_seed(samples))
    segs = list(segments)
    blinks: list[float] = []
    acc = np.zeros((0, 2))
    if "brows" in layers or "head" in layers:
        p = pitch if pitch is not None else prosody.pitch(samples, rate)
        acc = prosody.accents(p, level_db, segs)
    if "blinks" in layers:
        blinks = blink_times(segs, duration, rng)
        b = blink_curve(blinks, t)
        for name in BLINK_SHAPES:
            w[:, INDEX[name]] = b
    k = float(np.clip(intensity, 0.0, 2.0))
    if "brows" in layers and len(acc):
        raise_ = _bumps(acc, t, 0.12, 0.4) * BROW_RAISE * k
        w[:, INDEX["browInnerUp"]] = raise_
        w[:, INDEX["browOuterUpLeft"]] = 0.7 * raise_
        w[:, INDEX["browOuterUpRight"]] = 0.7 * raise_
    if "head" in layers:
        env = speech_envelope(segs, t)
        phases = rng.uniform(0, 2 * np.pi, 6)
        freqs = np.array([0.23, 0.31, 0.17])  # Hz: slow, incommensurate
        sway = np.stack([np.sin(2 * np.pi * freqs[i] * t + phases[i]) * 0.6
                         + np.sin(2 * np.pi * 1.7 * freqs[i] * t + phases[i + 3]) * 0.4 for i in range(3)], axis=1)
        head[:] = np.radians(np.array(SWAY_DEGREES))[None, :] * sway * env[:, None]
        if len(acc):
            head[:, 0] -= np.radians(NOD_DEGREES) * _bumps(acc, t, 0.15, 0.35)
        head *= k
    np.clip(w, 0.0, 1.0, out=w)
    return SpeechLife(w, head.astype(np.float32), float(fps), blinks, acc, tuple(layers))


def head_matrices(head: np.ndarray) -> np.ndarray:
    """(F, 3) (pitch, yaw, roll) radians -> (F, 3, 3) rotations in the face frame (columns/axes:
    x the face's left, y up, z forward), as ``yaw @ pitch @ roll``.  Positive pitch raises the
    chin, positive yaw turns the face to its left, positive roll tilts its left side up."""
    h = np.asarray(head, dtype=np.float64).reshape(-1, 3)
    p, y, r = -h[:, 0], h[:, 1], h[:, 2]  # chin up = the up axis tips back: -pitch about the left axis
    one, zero = np.ones(len(h)), np.zeros(len(h))
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, np.cos(p), -np.sin(p)], -1),
                   np.stack([zero, np.sin(p), np.cos(p)], -1)], 1)
    ry = np.stack([np.stack([np.cos(y), zero, np.sin(y)], -1), np.stack([zero, one, zero], -1),
                   np.stack([-np.sin(y), zero, np.cos(y)], -1)], 1)
    rz = np.stack([np.stack([np.cos(r), -np.sin(r), zero], -1), np.stack([np.sin(r), np.cos(r), zero], -1),
                   np.stack([zero, zero, one], -1)], 1)
    return np.einsum("fij,fjk,fkl->fil", ry, rx, rz)
