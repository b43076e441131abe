"""Live Link Face CSV: read and write ARKit weights in the iPhone app's column layout (pure).

The layout (one row per captured frame)::

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,...,TongueOut,
    HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll
    00:00:00:00.000,61,0.0123,...

* ``Timecode`` is ``HH:MM:SS:FF.fff``: hours, minutes, seconds, then the frame
  within the second at the take's frame rate, with a fractional sub-frame
  after the dot.  Seconds = ``h*3600 + m*60 + s + FF.fff / fps``.
* ``BlendShapeCount`` is 61: the 52 shapes plus 9 rotations.
* The 52 shape columns come in Live Link Face's order (:data:`LLF_NAMES`:
  left eye, right eye, jaw, mouth, brows, cheeks, nose, tongue) - not
  Apple's alphabetical ARKit order - and capitalised: the ARKit name with its
  first letter upper-cased (``eyeBlinkLeft`` -> ``EyeBlinkLeft``).  Reading
  matches names case-insensitively, so files with camelCase headers or
  another column order read too.
* Head and eye rotations (:data:`ROTATION_NAMES`) are radians, as the app
  writes them.  In the face frame (x = the subject's left, y = up, z = out of
  the face) a rotation is ``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)``: yaw > 0 turns
  the nose towards the subject's left, pitch > 0 lowers it, roll > 0 tilts the
  top of the head towards the subject's right (:func:`matrices_from_ypr`,
  :func:`ypr_from_matrices`).  Eye rotations are relative to the head.
* **Rate.**  Rows may come at any rate; the timecode says when each was
  captured.  :func:`write_csv` writes the frame field at 60 fps (the app's
  own rate, which tools assume) whatever the rows' rate, so a 24 fps take
  plays at the right speed everywhere; a reader tells the timecode's rate from
  its frame numbers (:func:`read_csv`).

No bpy here: arrays in, arrays out.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX
from ..core.errors import FaceForgeError

LLF_NAMES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft",
    "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight",
    "JawForward", "JawRight", "JawLeft", "JawOpen",
    "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight", "MouthLeft",
    "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper",
    "MouthPressLeft", "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight",
    "MouthUpperUpLeft", "MouthUpperUpRight",
    "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight",
    "CheekPuff", "CheekSquintLeft", "CheekSquintRight",
    "NoseSneerLeft", "NoseSneerRight",
    "TongueOut",
)
ROTATION_NAMES: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount", *LLF_NAMES, *ROTATION_NAMES)
BLENDSHAPE_COUNT = len(LLF_NAMES) + len(ROTATION_NAMES)  # 61, as the app writes


def to_arkit(llf_name: str) -> str:
    """``EyeBlinkLeft`` -> ``eyeBlinkLeft`` (first letter lower-cased)."""
    return llf_name[:1].lower() + llf_name[1:]


def to_llf(arkit_name: str) -> str:
    """``eyeBlinkLeft`` -> ``EyeBlinkLeft`` (first letter upper-cased)."""
    return arkit_name[:1].upper() + arkit_name[1:]


# LLF column k holds ARKIT_NAMES[LLF_TO_ARKIT[k]].
LLF_TO_ARKIT: tuple[int, ...] = tuple(INDEX[to_arkit(n)] for n in LLF_NAMES)
assert sorted(LLF_TO_ARKIT) == list(range(52))


@dataclass
class LiveLinkTake:
    """A take as arrays.  ``weights`` are in :data:`ARKIT_NAMES` order."""

    seconds: np.ndarray  # (F,) time of each row, from the first row (first = 0)
    weights: np.ndarray  # (F, 52) in ARKIT_NAMES order
    rotations: np.ndarray  # (F, 9) in ROTATION_NAMES order (zeros when absent)
    fps: float  # the timecode's frame rate
    start_seconds: float = 0.0  # the first row's timecode, seconds since midnight
    warnings: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.seconds)

    @property
    def row_fps(self) -> float:
        """The rows' rate (captured frames per second; rounded to 0.001): 24 for a 24 fps take
        whose timecodes are written at 60.  The timecode's own rate when there is one row."""
        if self.frames < 2:
            return self.fps
        step = float(np.median(np.diff(self.seconds)))
        return round(1.0 / step, 3) if step > 0 else self.fps

    def resample(self, fps: float) -> np.ndarray:
        """Weights (N, 52) at ``fps`` from time 0 to the last row (linear interpolation)."""
        return resample(self.seconds, self.weights, fps)

    def resample_rotations(self, fps: float) -> np.ndarray:
        """Rotations (N, 9) at ``fps`` (angles unwrapped, then linear)."""
        return resample(self.seconds, np.unwrap(self.rotations, axis=0), fps)

    @property
    def has_rotations(self) -> bool:
        return bool(np.any(self.rotations != 0))


def resample(seconds: np.ndarray, values: np.ndarray, fps: float, cover_end: bool = False) -> np.ndarray:
    """(F, C) ``values`` at times ``seconds`` -> (N, C) at ``fps`` from 0 to the last time (linear).

    ``cover_end``: one more row when the last time falls between two rows (continuing the last
    segment's slope), so the result lasts at least as long as the input and reads back exactly at
    its end - for writing a take that is read back at another rate."""
    values = np.asarray(values, dtype=np.float64)
    if len(seconds) == 1:
        return values.copy()
    rounding = math.ceil(seconds[-1] * fps - 1e-6) if cover_end else math.floor(seconds[-1] * fps + 1e-6)
    n = int(rounding) + 1
    t = np.arange(n) / fps
    out = np.stack([np.interp(t, seconds, values[:, k]) for k in range(values.shape[1])], 1) \
        if values.shape[1] else np.zeros((n, 0))
    past = t > seconds[-1]
    if np.any(past) and seconds[-1] > seconds[-2]:
        slope = (values[-1] - values[-2]) / (seconds[-1] - seconds[-2])
        out[past] = values[-1] + (t[past] - seconds[-1])[:, None] * slope
    return out


# --- head / eye rotations ---------------------------------------------------------------

def _rx(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def matrices_from_ypr(ypr) -> np.ndarray:
    """(F, 3) yaw, pitch, roll (radians) -> (F, 3, 3) rotations in the face frame."""
    ypr = np.asarray(ypr, dtype=np.float64)
    # pitch > 0 lowers the nose (+z towards -y): about +x by +pitch; roll > 0 tilts the top
    # (+y) towards the subject's right (-x): about +z by +roll.
    return _ry(ypr[:, 0]) @ _rx(ypr[:, 1]) @ _rz(ypr[:, 2])


def ypr_from_matrices(rot) -> np.ndarray:
    """(F, 3, 3) face-frame rotations -> (F, 3) yaw, pitch, roll (radians; see the module doc)."""
    r = np.asarray(rot, dtype=np.float64)
    pitch = np.arcsin(np.clip(-r[:, 1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[:, 0, 2], r[:, 2, 2])
    roll = np.arctan2(r[:, 1, 0], r[:, 1, 1])
    return np.unwrap(np.stack([yaw, pitch, roll], 1), axis=0)


# --- timecode ---------------------------------------------------------------------------

def format_timecode(seconds: float, fps: float) -> str:
    """Seconds -> ``HH:MM:SS:FF.fff`` (FF = frame within the second at ``fps``)."""
    if seconds < 0:
        raise ValueError("timecode seconds must not be negative")
    whole = int(math.floor(seconds + 1e-9))
    frame = (seconds - whole) * fps
    if frame >= fps - 5e-4:  # rounding pushed us to the next second
        whole, frame = whole + 1, 0.0
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{frame:06.3f}"


def parse_timecode(text: str, fps: float) -> float:
    """``HH:MM:SS:FF[.fff]`` -> seconds.  Raises ValueError when malformed."""
    parts = text.strip().split(":")
    if len(parts) != 4:
        raise ValueError(f"timecode '{text}' is not HH:MM:SS:FF.fff")
    h, m, s = (int(p) for p in parts[:3])
    frame = float(parts[3])
    return h * 3600 + m * 60 + s + frame / fps


def _guess_fps(frame_fields: list[float], clock: list[int], default: float) -> float | None:
    """The timecode's rate: the smallest common rate holding every frame number seen, when
    the take crosses a second boundary (so the largest frame number is the rate's last);
    else None (a take shorter than a second does not tell)."""
    if len(set(clock)) < 2:
        return None
    top = max((int(f) for f in frame_fields), default=0) + 1
    for rate in (24, 25, 30, 48, 50, 60, 120):
        if top <= rate:
            return float(rate)
    return float(top)


# --- write ------------------------------------------------------------------------------

TIMECODE_FPS = 60.0  # the app's capture rate: the frame field tools expect


def write_csv(path_or_file, weights, fps: float, rotations=None, start_seconds: float = 0.0,
              timecode_fps: float = TIMECODE_FPS) -> None:
    """Write (F, 52) weights (ARKit order), one row every ``1/fps`` s, as a Live Link Face CSV.

    ``rotations``: (F, 9) in :data:`ROTATION_NAMES` order (radians; zeros when None).
    Timecodes give each row's real time with the frame field at ``timecode_fps``
    (60, as the app writes), so readers that assume 60 fps timecodes time a
    24 fps take right; row ``i`` is at ``start_seconds + i / fps``."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != 52:
        raise ValueError(f"weights must be (frames, 52), got {weights.shape}")
    f = len(weights)
    rot = np.zeros((f, 9)) if rotations is None else np.asarray(rotations, dtype=np.float64)
    if rot.shape != (f, 9):
        raise ValueError(f"rotations must be ({f}, 9), got {rot.shape}")
    cols = weights[:, LLF_TO_ARKIT]
    own = isinstance(path_or_file, (str, os.PathLike))
    out = open(path_or_file, "w", newline="") if own else path_or_file
    try:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(HEADER)
        for i in range(f):
            tc = format_timecode(start_seconds + i / fps, timecode_fps)
            w.writerow([tc, BLENDSHAPE_COUNT, *(f"{v:.6g}" for v in cols[i]), *(f"{v:.6g}" for v in rot[i])])
    finally:
        if own:
            out.close()


# --- read -------------------------------------------------------------------------------

def read_csv(path_or_text, fps: float | None = None, default_fps: float = 60.0) -> LiveLinkTake:
    """Read a Live Link Face CSV (a path, or the text itself when it contains a newline).

    ``fps``: the timecode's frame rate; when None it is read off the largest
    frame number if the take crosses a second boundary, else ``default_fps``
    (60: the app's rate, and what :func:`write_csv` writes).  Raises FaceForgeError with
    the file and line for anything that is not such a CSV.
    """
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= 1000):
        raise FaceForgeError(f"The CSV's frame rate must be a positive number of frames per second, got {fps}")
    name = "the CSV"
    if isinstance(path_or_text, (str, os.PathLike)) and "\n" not in str(path_or_text):
        name = os.path.basename(os.fspath(path_or_text))
        try:
            with open(path_or_text, newline="", encoding="utf-8-sig") as fh:
                text = fh.read()
        except FileNotFoundError:
            raise FaceForgeError(f"Live Link Face CSV not found: {path_or_text}") from None
        except UnicodeDecodeError:
            raise FaceForgeError(f"{name} is not a text CSV file (is it a Live Link Face export?)") from None
    else:
        text = str(path_or_text)
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise FaceForgeError(f"{name} is empty: expected a Live Link Face CSV with a header row")
    header = [h.strip() for h in rows[0]]
    lower = {h.lower(): i for i, h in enumerate(header)}
    if "timecode" not in lower:
        raise FaceForgeError(f"{name} is not a Live Link Face CSV: its first row has no 'Timecode' column "
                             f"(found: {', '.join(header[:4])}...)")
    shape_cols = [lower.get(n.lower()) for n in LLF_NAMES]
    found = [c for c in shape_cols if c is not None]
    if not found:
        raise FaceForgeError(f"{name} has no ARKit blendshape columns (EyeBlinkLeft, JawOpen, ...)")
    warnings = []
    missing = [n for n, c in zip(LLF_NAMES, shape_cols) if c is None]
    if missing:
        warnings.append(f"{len(missing)} blendshape columns missing (e.g. {', '.join(missing[:3])}); set to 0")
    rot_cols = [lower.get(n.lower()) for n in ROTATION_NAMES]
    tc_col = lower["timecode"]
    data = rows[1:]
    if not data:
        raise FaceForgeError(f"{name} has a header but no frames")
    weights_llf = np.zeros((len(data), 52))
    rotations = np.zeros((len(data), 9))
    frame_fields, clock = [], []
    for i, row in enumerate(data):
        line = i + 2
        try:
            parts = row[tc_col].strip().split(":")
            if len(parts) != 4:
                raise ValueError(f"timecode '{row[tc_col]}' is not HH:MM:SS:FF.fff")
            clock.append(int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2]))
            frame_fields.append(float(parts[3]))
            for k, c in enumerate(shape_cols):
                if c is not None:
                    weights_llf[i, k] = float(row[c])
            for k, c in enumerate(rot_cols):
                if c is not None and c < len(row) and row[c].strip():
                    rotations[i, k] = float(row[c])
        except (ValueError, IndexError) as exc:
            raise FaceForgeError(f"{name}, line {line}: can't read this row ({exc}); "
                                 "is the file a complete Live Link Face export?") from None
    rate = float(fps) if fps else _guess_fps(frame_fields, clock, default_fps)
    if rate is None:
        rate = float(default_fps)
        warnings.append(f"take shorter than a second: its timecode rate can't be told, assumed {rate:g} fps")
    absolute = np.array(clock, dtype=np.float64) + np.array(frame_fields) / rate
    if np.any(np.diff(absolute) < -1e-9):
        # Some exports restart the timecode (midnight wrap, concatenated takes): fall back to rows.
        warnings.append("timecodes go backwards; timing taken from the row order instead")
        absolute = absolute[0] + np.arange(len(data)) / rate
    if not np.all(np.isfinite(weights_llf)):
        raise FaceForgeError(f"{name} contains NaN or infinite weights")
    weights = np.zeros_like(weights_llf)
    weights[:, LLF_TO_ARKIT] = weights_llf
    return LiveLinkTake(seconds=absolute - absolute[0], weights=weights, rotations=rotations,
                        fps=rate, start_seconds=float(absolute[0]), warnings=warnings)


__all__ = ["LLF_NAMES", "ROTATION_NAMES", "HEADER", "LLF_TO_ARKIT", "TIMECODE_FPS", "LiveLinkTake", "to_arkit",
           "to_llf", "format_timecode", "parse_timecode", "write_csv", "read_csv", "resample",
           "matrices_from_ypr", "ypr_from_matrices", "ARKIT_NAMES"]
