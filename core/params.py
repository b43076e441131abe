"""The numeric settings users give, in one table the command line and the panels both read (pure).

Each :class:`Param` says a setting's type, default and range once.  The same
entry makes

* the command-line option: :func:`argument` (``type=spec.parse`` rejects
  ``nan``, ``inf``, words and numbers out of range with one line, exit 2);
* the PropertyGroup slider: ``FloatProperty(**PARAMS["rig.intensity"].prop())``
  gets the same name, default, min/max and description;
* the check inside the public API functions: :func:`check` (scripts and
  operators get the same message as the command line).

A setting a user can type has an entry here; no other module writes its own
range.  Ranges are what makes sense for a face take, not what the type holds:
frames are Blender's (``FRAME_MIN..FRAME_MAX``), a frame rate 1..1000 fps.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from .errors import FaceForgeError

# Blender's own frame range (MINAFRAME / MAXAFRAME): keys outside it can't be set.
FRAME_MIN = -1048574
FRAME_MAX = 1048574


def _fmt(value) -> str:
    if isinstance(value, float) and not (value.is_integer() and abs(value) >= 100000):
        return f"{value:g}"
    value = int(value)
    return f"{value:,}" if abs(value) >= 100000 else str(value)


@dataclass(frozen=True)
class Param:
    """One numeric setting: ``kind`` (int or float), ``default``, inclusive ``min``..``max``."""

    name: str  # what the panels call it (and the API's messages)
    kind: type
    default: float | int
    min: float | int
    max: float | int
    description: str = ""
    unit: str = ""  # printed after numbers in messages: " s", " fps", " px"
    soft_min: float | int | None = None
    soft_max: float | int | None = None

    @property
    def range_text(self) -> str:
        return f"{_fmt(self.min)}..{_fmt(self.max)}{self.unit}"

    @property
    def between(self) -> str:
        return f"between {_fmt(self.min)} and {_fmt(self.max)}{self.unit}"

    def _value(self, value, label: str):
        """``value`` as ``kind`` when it is a finite number in range; else the reason (a string)."""
        if isinstance(value, bool):
            return f"{label} must be a number, got {value!r}"
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"{label} must be a number, got {value!r}"
        if not math.isfinite(number):
            return f"{label} must be a finite number {self.between}, got {value}"
        if self.kind is int:
            if number != int(number):
                return f"{label} must be a whole number, got {value}"
            number = int(number)
        if not self.min <= number <= self.max:
            return f"{label} must be {self.between}, got {_fmt(number)}"
        return number

    def check(self, value, label: str | None = None):
        """``value`` as this setting's type; FaceForgeError (one sentence) when it is not a finite
        number within ``min``..``max``."""
        out = self._value(value, label or self.name)
        if isinstance(out, str):
            raise FaceForgeError(out)
        return out

    def parse(self, text: str):
        """An ``argparse`` type: the number, or ArgumentTypeError with the range."""
        if self.kind is int:
            try:
                number = int(str(text).strip())
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number {self.range_text}, got '{text}'") from None
        else:
            try:
                number = float(str(text).strip())
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a number {self.range_text}, got '{text}'") from None
        out = self._value(number, "the value")
        if isinstance(out, str):
            raise argparse.ArgumentTypeError(out.replace("the value must be", "must be"))
        return out

    def prop(self, **override) -> dict:
        """Keyword arguments for ``bpy.props.FloatProperty`` / ``IntProperty`` (``override`` wins;
        ``kind=int`` turns them into an IntProperty's)."""
        kind = override.pop("kind", self.kind)
        cast = int if kind is int else float
        out = {"name": self.name, "default": cast(self.default), "min": cast(self.min), "max": cast(self.max),
               "description": self.description}
        if self.soft_min is not None:
            out["soft_min"] = cast(self.soft_min)
        if self.soft_max is not None:
            out["soft_max"] = cast(self.soft_max)
        out.update(override)
        return out

    def help(self, text: str = "", default="spec") -> str:
        """Command-line help: ``text`` (default: the description) plus the range and the default."""
        value = self.default if default == "spec" else default
        extra = self.range_text + (f", default {_fmt(value)}" if value is not None else "")
        return f"{text or self.description} ({extra})"


def _p(name, kind, default, lo, hi, description, unit="", soft_min=None, soft_max=None) -> Param:
    return Param(name, kind, default, lo, hi, description, unit, soft_min, soft_max)


PARAMS: dict[str, Param] = {
    # frames and time
    "frame": _p("Frame", int, 1, FRAME_MIN, FRAME_MAX, "A scene frame"),
    "start_frame": _p("Start Frame", int, 1, FRAME_MIN, FRAME_MAX, "Scene frame where the baked take begins"),
    "fps": _p("Frame Rate", float, 24.0, 1.0, 1000.0, "Frames per second", " fps"),
    "video.frame": _p("Video Frame", int, 0, 0, 100_000_000, "A frame of the driving video, counted from 0"),
    "video.last": _p("Last", int, -1, -1, 100_000_000, "Last video frame to solve (-1: the end)"),
    "video.smoothing": _p("Smoothing", float, 0.5, 0.0, 1.0,
                          "One Euro filter strength: 0 = raw, 1 = heavy. Fast motions such as blinks are kept"),
    # shapes and expressions
    "rig.intensity": _p("Intensity", float, 1.0, 0.1, 2.0, "Scale of every generated shape (1 = ARKit's extreme pose)"),
    "lipsync.intensity": _p("Intensity", float, 1.0, 0.0, 2.0, "Scale of the mouth motion (1 = as designed)",
                            soft_max=1.5),
    "emotion.intensity": _p("Intensity", float, 1.0, 0.0, 1.0, "How strong the expression is"),
    "emotion.blend": _p("Blend", float, 0.3, 0.0, 1.0,
                        "Share of the second emotion (0.3 = 70 % first + 30 % second)"),
    "expression.scale": _p("Scale", float, 1.0, 0.0, 2.0,
                           "How strong a shape (or region) is in every expression of the character"),
    "timeline.transition": _p("Transition", float, 0.3, 0.0, 5.0,
                              "Seconds to ease from one expression into the next", " s"),
    "seed": _p("Seed", int, 0, 0, 2**31 - 1, "Random seed for blinks and motion"),
    # sizes
    "landmarks.resolution": _p("Render Size", int, 512, 128, 2048,
                               "Square render size (pixels) used to look for the face on the mesh", " px"),
    "preview.size": _p("Size", int, 384, 64, 2048, "Preview render size in pixels (square)", " px"),
    "livelink.fps": _p("CSV fps", float, 0, 0, 240,
                       "The CSV's timecode frame rate (0: read it from the timecodes)", " fps"),
    # batch
    "batch.jobs": _p("Jobs", int, 1, 1, 64, "Worker processes at once"),
    "batch.timeout": _p("Timeout", float, 3600.0, 1.0, 7 * 24 * 3600.0,
                        "Seconds after which a take's worker is stopped", " s"),
    "batch.ray_retries": _p("Ray Retries", int, 2, 0, 20, "Extra attempts for a take whose Ray worker was lost"),
    "batch.ray_cpus": _p("Ray CPUs", float, 1.0, 0.1, 256.0, "CPUs each take declares to Ray"),
    "batch.ray_memory": _p("Ray Memory", float, 2.0, 0.1, 1024.0, "GiB of memory each take declares to Ray", " GiB"),
    # limits (core/limits.py)
    "limit.seconds": _p("Longest Take", float, 3600.0, 1.0, 30 * 24 * 3600.0,
                        "The longest take (seconds) FaceForge bakes or renders", " s"),
    "limit.frames": _p("Most Frames", int, 216_000, 1, 100_000_000,
                       "The most frames FaceForge bakes or renders in one take"),
}


def spec(key: str) -> Param:
    return PARAMS[key]


def check(key: str, value, label: str | None = None):
    """``PARAMS[key].check(value, label)``: the value, or a FaceForgeError naming the range."""
    return PARAMS[key].check(value, label)


def check_optional(key: str, value, label: str | None = None):
    """:func:`check`, letting None through (a setting left to its automatic value)."""
    return None if value is None else PARAMS[key].check(value, label)


def argument(parser, flag: str, key: str, help: str = "", default="spec", **kwargs):
    """``parser.add_argument(flag, type=PARAMS[key].parse, ...)``: the option reads and checks its
    number the table's way; ``default="spec"`` takes the table's default (None: not given)."""
    p = PARAMS[key]
    value = p.default if default == "spec" else default
    return parser.add_argument(flag, type=p.parse, default=value, help=p.help(help, value), **kwargs)
