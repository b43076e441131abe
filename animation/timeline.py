"""Expression timelines: "neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral".

A timeline is a list of steps, each an expression (an emotion mix or a free
text prompt) held for a duration.  Steps are separated by ``->``, ``→``,
``=>`` or new lines (a timeline file has one step per line; ``#`` starts a
comment).  A duration ends the step: ``1 s``, ``0.8s``, ``800 ms``,
``1.5 sec``; only the last step may leave it out (it then holds for twice the
transition time).

Timing (all in seconds from the take's start): step *i* starts at
``t_i = sum(durations[:i])``; from ``t_i`` the face eases from the previous
expression to this one over ``T_i = min(transition, duration_i / 2)`` and
then holds it until ``t_{i+1}``.  So each expression is fully reached at
``t_i + T_i`` (the "key" time) and still exactly there at ``t_{i+1}``.
Easing is smoothstep (zero velocity at both ends) by default.

Subtle life (:func:`add_life`, seeded, deterministic): blinks at natural
random intervals (2-6 s apart, ~150 ms each: faster closing than opening) and
slow, small brow and eye drift, so a held expression does not look frozen.
Everything stays continuous and within [0, 1].

Shapes: :func:`sample` returns ``times (F,)`` and ``weights (F, 52)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError
from . import emotions

EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "smoothstep": lambda u: u * u * (3.0 - 2.0 * u),
    "smootherstep": lambda u: u * u * u * (u * (6.0 * u - 15.0) + 10.0),
    "cubic": lambda u: np.where(u < 0.5, 4.0 * u ** 3, 1.0 - (-2.0 * u + 2.0) ** 3 / 2.0),
    "linear": lambda u: u,
}

_ARROW = re.compile(r"\s*(?:->|→|=>|⟶|\n)\s*")
_DURATION = re.compile(
    r"(?:\s+for)?\s+(\d+(?:\.\d+)?|\.\d+)\s*(ms|msec|milliseconds?|s|sec|secs|seconds?)\s*$", re.I)

_NEGATIVE = re.compile(r"\s-\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|msec|milliseconds?|s|sec|secs|seconds?)\s*$", re.I)


@dataclass
class Step:
    text: str  # the expression as typed ("happy", "70% happy + 30% surprised", "a shy smile")
    duration: float | None  # seconds; None only for the last step


@dataclass
class Timeline:
    steps: list[Step]
    poses: np.ndarray  # (S, 52)
    starts: np.ndarray  # (S,) seconds
    durations: np.ndarray  # (S,) seconds (the last one filled in)
    ramps: np.ndarray  # (S,) seconds of easing into each step (0 for the first)
    ease: str = "smoothstep"

    @property
    def length(self) -> float:
        return float(self.starts[-1] + self.durations[-1])

    def key_times(self) -> np.ndarray:
        """(S,) seconds where each step's expression is fully reached."""
        return self.starts + self.ramps


def parse(text: str) -> list[Step]:
    """Parse a timeline string (or a timeline file's contents) into steps."""
    lines = [re.sub(r"#.*$", "", ln) for ln in (text or "").splitlines()]
    chunks = [c.strip() for c in _ARROW.split("\n".join(lines)) if c.strip()]
    if not chunks:
        raise FaceForgeError("The timeline is empty; write steps like "
                             "'neutral 0.5 s -> happy 1 s -> surprised 0.8 s -> neutral'")
    steps = []
    for n, chunk in enumerate(chunks, 1):
        m = _DURATION.search(" " + chunk)
        duration = None
        body = chunk
        if m:
            value = float(m.group(1))
            duration = value / 1000.0 if m.group(2).lower().startswith("m") else value
            body = (" " + chunk)[:m.start()].strip()
        if not body:
            raise FaceForgeError(f"Step {n} ('{chunk}') has a duration but no expression")
        if duration is None and _NEGATIVE.search(" " + chunk):
            raise FaceForgeError(f"Step {n} ('{chunk}') has a negative duration: a step must last more than 0 s")
        if duration is None and n < len(chunks):
            raise FaceForgeError(f"Step {n} ('{chunk}') needs a duration, e.g. '{body} 1 s' "
                                 "(only the last step may leave it out)")
        if duration is not None and duration <= 0:
            raise FaceForgeError(f"Step {n} ('{chunk}') must last more than 0 s")
        steps.append(Step(body, duration))
    return steps


def emotion_resolver(text: str) -> np.ndarray:
    """Resolve a step that is an emotion mix ("happy", "70% happy + 30% sad"); no model needed."""
    mix = emotions.parse_mix(text)
    if mix is None:
        raise FaceForgeError(f"'{text}' is not an emotion ({', '.join(emotions.EMOTIONS)})")
    return emotions.blend_emotions(mix)


def text_resolver(embedder=None, scales=None) -> Callable[[str], np.ndarray]:
    """Resolver for any step: emotion mixes directly, other text through the text model."""
    from . import text_expression

    def resolve(text: str) -> np.ndarray:
        return text_expression.interpret(text, embedder=embedder, scales=scales).weights

    return resolve


def build(steps: list[Step], resolve: Callable[[str], np.ndarray] = emotion_resolver,
          transition: float = 0.3, ease: str = "smoothstep") -> Timeline:
    """Resolve each step's pose and lay the steps out in time."""
    if ease not in EASINGS:
        raise FaceForgeError(f"Unknown easing '{ease}'; use one of: {', '.join(EASINGS)}")
    if transition < 0:
        raise FaceForgeError("The transition time must be 0 s or more")
    poses = np.stack([np.clip(np.asarray(resolve(s.text), dtype=np.float64), 0.0, 1.0) for s in steps])
    durations = np.array([s.duration if s.duration is not None else max(2.0 * transition, 0.5)
                          for s in steps], dtype=np.float64)
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    ramps = np.minimum(transition, durations / 2.0)
    ramps[0] = 0.0
    return Timeline(steps, poses, starts, durations, ramps, ease)


def evaluate(tl: Timeline, times: np.ndarray) -> np.ndarray:
    """Weights (F, 52) at ``times`` (F,) seconds (clamped to the timeline)."""
    t = np.clip(np.asarray(times, dtype=np.float64), 0.0, tl.length)
    idx = np.clip(np.searchsorted(tl.starts, t, side="right") - 1, 0, len(tl.steps) - 1)
    prev = np.maximum(idx - 1, 0)
    ramp = tl.ramps[idx]
    u = np.where(ramp > 0, np.clip((t - tl.starts[idx]) / np.where(ramp > 0, ramp, 1.0), 0.0, 1.0), 1.0)
    e = EASINGS[tl.ease](u)[:, None]
    return tl.poses[prev] * (1.0 - e) + tl.poses[idx] * e


def sample(tl: Timeline, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """One sample per frame: times (F,) seconds and weights (F, 52) (held after the end)."""
    if fps <= 0:
        raise FaceForgeError("The frame rate must be more than 0")
    n = int(np.ceil(tl.length * fps - 1e-6)) + 1  # the last frame reaches (or just passes) the end
    times = np.arange(n) / float(fps)
    return times, evaluate(tl, times)


def keyframes(tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """Sparse keys for an animator: times (K,) seconds and weights (K, 52).

    Two keys per transition (where it leaves the previous expression and where
    it reaches the new one) plus the first and last; with flat (auto-clamped)
    Bezier handles these give the same ease-in/ease-out as :func:`evaluate`.
    """
    times, values = [0.0], [tl.poses[0]]
    for i in range(1, len(tl.steps)):
        if tl.ramps[i] <= 0:
            times.append(float(tl.starts[i]))
            values.append(tl.poses[i])
            continue
        if tl.starts[i] > times[-1] + 1e-9:
            times.append(float(tl.starts[i]))
            values.append(tl.poses[i - 1])
        times.append(float(tl.starts[i] + tl.ramps[i]))
        values.append(tl.poses[i])
    if tl.length > times[-1] + 1e-9:
        times.append(tl.length)
        values.append(tl.poses[-1])
    return np.asarray(times), np.asarray(values)


# --- subtle life -------------------------------------------------------------------

def blink_times(length: float, rng: np.random.Generator, min_gap: float = 2.0,
                max_gap: float = 6.0) -> np.ndarray:
    """Blink centres (seconds) at natural random intervals over ``length`` seconds."""
    out, t = [], rng.uniform(0.6, min(2.5, max_gap))
    while t < length - 0.1:
        out.append(t)
        t += rng.uniform(min_gap, max_gap)
    return np.asarray(out)


def blink_curve(times: np.ndarray, centres: np.ndarray, close: float = 0.06,
                open_: float = 0.09) -> np.ndarray:
    """(F,) lid closure 0..1: smooth close over ``close`` s before each centre, open over ``open_`` s."""
    out = np.zeros(len(times))
    s = EASINGS["smoothstep"]
    for c in centres:
        d = times - c
        rise = (d > -close) & (d <= 0)
        fall = (d > 0) & (d < open_)
        v = np.zeros(len(times))
        v[rise] = s(1.0 + d[rise] / close)
        v[fall] = s(1.0 - d[fall] / open_)
        out = np.maximum(out, v)
    return out


def _drift(times: np.ndarray, rng: np.random.Generator, freqs=(0.07, 0.5)) -> np.ndarray:
    """Smooth noise in [-1, 1]: three sines of random slow frequency and phase."""
    f = rng.uniform(*freqs, size=3)
    ph = rng.uniform(0.0, 2.0 * np.pi, size=3)
    amp = np.array([1.0, 0.6, 0.35])
    return (amp[:, None] * np.sin(2.0 * np.pi * f[:, None] * times[None, :] + ph[:, None])).sum(0) / amp.sum()


def add_life(times: np.ndarray, weights: np.ndarray, fps: float, seed: int = 0, blinks: bool = True,
             drift: bool = True, brow_amount: float = 0.04, eye_amount: float = 0.06) -> np.ndarray:
    """Blinks and small brow/eye motion on top of ``weights`` (F, 52); returns a new array in [0, 1].

    Blinks are skipped while the eyes are already mostly closed.  Blink centres
    snap to frames so every blink reaches full closure in the samples.
    """
    w = np.array(weights, dtype=np.float64, copy=True)
    rng = np.random.default_rng(seed)
    if blinks and len(times):
        centres = np.round(blink_times(float(times[-1]), rng) * fps) / fps
        b = blink_curve(times, centres)
        for side in ("Left", "Right"):
            k = INDEX["eyeBlink" + side]
            held = np.interp(centres, times, w[:, k]) if len(centres) else np.zeros(0)
            keep = centres[held < 0.5]
            bb = blink_curve(times, keep) if len(keep) != len(centres) else b
            w[:, k] = w[:, k] + (1.0 - w[:, k]) * bb
            # lids pull the brows a touch down as they close
            w[:, INDEX["browDown" + side]] += 0.05 * bb
    if drift and len(times):
        brow = _drift(times, rng) * brow_amount
        w[:, INDEX["browInnerUp"]] += np.maximum(brow, 0.0)
        w[:, INDEX["browDownLeft"]] += np.maximum(-brow, 0.0) * 0.5
        w[:, INDEX["browDownRight"]] += np.maximum(-brow, 0.0) * 0.5
        for pos, neg in (("eyeLookUp", "eyeLookDown"), ("eyeLookOutLeft", "eyeLookInLeft")):
            d = _drift(times, rng, freqs=(0.1, 0.7)) * eye_amount
            if pos == "eyeLookUp":
                for side in ("Left", "Right"):
                    w[:, INDEX[pos + side]] += np.maximum(d, 0.0)
                    w[:, INDEX[neg + side]] += np.maximum(-d, 0.0)
            else:  # horizontal gaze: both eyes turn the same way
                w[:, INDEX["eyeLookOutLeft"]] += np.maximum(d, 0.0)
                w[:, INDEX["eyeLookInRight"]] += np.maximum(d, 0.0)
                w[:, INDEX["eyeLookInLeft"]] += np.maximum(-d, 0.0)
                w[:, INDEX["eyeLookOutRight"]] += np.maximum(-d, 0.0)
    return np.clip(w, 0.0, 1.0)


def bake(text: str, fps: float, resolve: Callable[[str], np.ndarray] = emotion_resolver,
         transition: float = 0.3, ease: str = "smoothstep", life: bool = True,
         seed: int = 0) -> tuple[Timeline, np.ndarray, np.ndarray]:
    """Parse, resolve and sample a timeline: (timeline, times (F,), weights (F, 52))."""
    tl = build(parse(text), resolve, transition=transition, ease=ease)
    times, weights = sample(tl, fps)
    if life:
        weights = add_life(times, weights, fps, seed=seed)
    assert weights.shape == (len(times), len(ARKIT_NAMES))
    return tl, times, weights
