"""How long a take may be: limits on seconds and frames, checked before anything is allocated (pure).

A 100-byte Live Link CSV can claim a 99-hour take, a 2-second video can carry
a 10-hour timestamp gap, and a frame rate of a million turns 1.6 s into 1.6
million keys.  Every stage that turns an input's time span into frames calls
:func:`check_take` first, with what the input holds (its samples and their
times), so the message says what is wrong with *this* input::

    take.csv spans 99 h 0 min (10,692,000 frames at 30 fps) in 5 rows, most of it one jump of 99 h
    between rows 2 and 3; FaceForge bakes at most 1 h 0 min / 216,000 frames per take: cut the
    take, or raise the limits with --max-seconds / --max-frames

The limits are process-wide (:func:`current`); the command line's
``--max-seconds`` / ``--max-frames`` raise them for one run (:func:`using`),
and a batch hands them to its workers in the plan.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from .errors import FaceForgeError
from .params import FRAME_MAX, FRAME_MIN, PARAMS

RAISE_HINT = "raise the limits with --max-seconds / --max-frames"


@dataclass(frozen=True)
class Limits:
    seconds: float = float(PARAMS["limit.seconds"].default)  # the longest take
    frames: int = int(PARAMS["limit.frames"].default)  # the most frames in one take

    def to_dict(self) -> dict:
        return asdict(self)


_lock = threading.Lock()
_current = Limits()


def current() -> Limits:
    return _current


def set_limits(seconds: float | None = None, frames: int | None = None) -> Limits:
    """Set the process-wide limits (None: keep that one); returns the previous ones."""
    global _current
    with _lock:
        previous = _current
        _current = Limits(
            seconds=previous.seconds if seconds is None else float(PARAMS["limit.seconds"].check(seconds)),
            frames=previous.frames if frames is None else int(PARAMS["limit.frames"].check(frames)))
    return previous


@contextmanager
def using(seconds: float | None = None, frames: int | None = None):
    """The limits raised (or lowered) inside the ``with`` block."""
    previous = set_limits(seconds, frames)
    try:
        yield _current
    finally:
        set_limits(previous.seconds, previous.frames)


def duration_text(seconds: float) -> str:
    """``5400`` -> ``'1 h 30 min'``, ``75.5`` -> ``'1 min 15.5 s'``, ``2.4`` -> ``'2.4 s'``."""
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds >= 3600:
        h, rem = divmod(seconds, 3600)
        return f"{int(h)} h {int(rem // 60)} min"
    if seconds >= 60:
        m, s = divmod(seconds, 60)
        return f"{int(m)} min {s:.3g} s"
    return f"{seconds:.3g} s"


def frame_count(seconds: float, fps: float) -> int:
    """Whole frames covering ``seconds`` at ``fps`` (both ends included)."""
    return int(math.floor(seconds * fps + 1e-6)) + 1


def _gap_text(times, unit: str) -> str:
    """', most of it one jump of X between <unit>s i and i+1' when one gap dominates the span."""
    if times is None:
        return ""
    t = np.asarray(times, dtype=np.float64).ravel()
    if len(t) < 2:
        return ""
    gaps = np.diff(t)
    i = int(np.argmax(gaps))
    span = float(t[-1] - t[0])
    if span <= 0 or gaps[i] < 0.5 * span or gaps[i] < 10.0:
        return ""
    return f", most of it one jump of {duration_text(gaps[i])} between {unit}s {i + 1} and {i + 2}"


def check_take(seconds: float, fps: float, what: str, samples: int | None = None, times=None,
               unit: str = "sample", start_frame: int | None = None) -> int:
    """The number of frames a take of ``seconds`` at ``fps`` bakes; a FaceForgeError when that is
    longer than the limits or would leave Blender's frame range.

    ``what`` names the input (``"take.csv"``); ``samples`` is how many it holds (rows,
    video frames) and ``times`` their times in seconds, so the message can say that
    most of a long span is one gap; ``unit`` names a sample ("row", "frame").
    """
    if not (math.isfinite(seconds) and seconds >= 0):
        raise FaceForgeError(f"{what} has no usable timing (its span is {seconds} s)")
    if not (math.isfinite(fps) and fps > 0):
        raise FaceForgeError(f"The frame rate must be a positive number, got {fps}")
    lim = _current
    frames = frame_count(seconds, fps)
    if seconds > lim.seconds or frames > lim.frames:
        held = f" in {samples:,} {unit}{'s' if samples != 1 else ''}" if samples is not None else ""
        raise FaceForgeError(
            f"{what} spans {duration_text(seconds)} ({frames:,} frames at {fps:g} fps){held}{_gap_text(times, unit)}; "
            f"FaceForge bakes at most {duration_text(lim.seconds)} / {lim.frames:,} frames per take: "
            f"cut the take, or {RAISE_HINT}")
    if start_frame is not None:
        check_frame_span(start_frame, frames, what)
    return frames


def check_seconds(seconds: float, what: str, at_least: bool = False) -> float:
    """A FaceForgeError when a recording of ``seconds`` (``at_least``: or more) is longer than the
    take limit (checked from a file's header, before it is decoded)."""
    lim = _current
    if seconds > lim.seconds:
        raise FaceForgeError(f"{what} lasts {'more than ' if at_least else ''}{duration_text(seconds)}; "
                             f"FaceForge takes at most "
                             f"{duration_text(lim.seconds)} per take: cut it, or {RAISE_HINT}")
    return seconds


def check_frames(frames: int, what: str) -> int:
    """A FaceForgeError when ``frames`` (to bake or render) is over the frame limit."""
    lim = _current
    if frames > lim.frames:
        raise FaceForgeError(f"{what} has {frames:,} frames; FaceForge bakes or renders at most "
                             f"{lim.frames:,} frames per take: choose fewer frames, or {RAISE_HINT}")
    return frames


def check_frame_span(start_frame: int, frames: int, what: str = "The take") -> None:
    """A FaceForgeError when frames ``start_frame .. start_frame + frames - 1`` leave Blender's range."""
    end = int(start_frame) + int(frames) - 1
    if int(start_frame) < FRAME_MIN or end > FRAME_MAX:
        raise FaceForgeError(f"{what} would run from frame {int(start_frame):,} to {end:,}, outside Blender's "
                             f"frames {FRAME_MIN:,}..{FRAME_MAX:,}: choose another start frame")
