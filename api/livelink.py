"""Live Link Face CSV <-> baked Actions on the character's ARKit shape keys.

* :func:`import_livelink_job` reads a CSV (``formats/livelink.py``), resamples
  it to the scene frame rate and bakes a new Action (the user's actions stay)
  on the mesh's 52 ARKit shape keys, from ``start_frame``.
* :func:`export_livelink` samples a baked take at every frame and writes it in
  Live Link Face's layout, at the scene frame rate.

Head / eye rotation columns are written as zeros and ignored on import (the
face mesh has no head rig of its own yet); see docs/export.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..core.arkit import ARKIT_NAMES
from ..core import limits, params, paths
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..formats import livelink as llf
from . import actions as _actions
from .character import require_rigged
from .scene import scene_fps


@dataclass
class LiveLinkImport:
    action: str
    frame_start: int
    frame_end: int
    source_fps: float
    source_rows: int
    warnings: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.frame_end - self.frame_start + 1


def import_livelink_job(obj, path, start_frame: int = 1, fps: float | None = None,
                        action_name: str | None = None, replace: bool = False):
    """Job: bake a Live Link Face CSV onto ``obj``'s ARKit shape keys; returns :class:`LiveLinkImport`.

    ``fps``: the CSV's timecode rate (when None: read off the timecodes, or the
    scene's rate for takes under a second); the take is resampled to the
    scene's frame rate.  ``replace=False`` keeps the current action.
    """
    names = require_rigged(obj)
    start_frame = params.check("start_frame", start_frame)
    fps = params.check_optional("livelink.fps", fps, "The CSV's frame rate") or None
    missing = [n for n in ARKIT_NAMES if n not in names]
    yield Progress(0.0, f"reading {os.path.basename(str(path))}")
    rate = scene_fps()
    take = yield Offload(llf.read_csv, (os.fspath(path),), dict(fps=fps, default_fps=rate))
    # the timecodes' span, before resampling allocates a row per frame
    limits.check_take(float(take.seconds[-1]), rate, os.path.basename(str(path)), samples=take.frames,
                      times=take.seconds, unit="row", start_frame=start_frame)
    weights = yield Offload(take.resample, (rate,))
    warnings = list(take.warnings)
    if missing:
        warnings.append(f"'{obj.name}' lacks {len(missing)} ARKit shape keys (e.g. {', '.join(missing[:3])}); "
                        "their columns were skipped")
    if np.any(weights < -1e-6) or np.any(weights > 1 + 1e-6):
        warnings.append("some weights are outside 0..1 (kept as they are)")
    cols = [ARKIT_NAMES.index(n) for n in names]
    frames = np.arange(start_frame, start_frame + len(weights))
    yield Progress(0.6, "baking")
    name = action_name or Path(str(path)).stem
    anim = obj.data.shape_keys.animation_data
    previous = anim.action if anim is not None else None
    action = _actions.bake_shape_keys(obj, names, frames, weights[:, cols], name, replace=replace)
    # Takes are kept in the file even when another take is the active one.
    action.use_fake_user = True
    if previous is not None and previous is not action:
        previous.use_fake_user = True
    yield Progress(1.0, f"baked {len(frames)} frames into '{action.name}'")
    return LiveLinkImport(action=action.name, frame_start=int(frames[0]), frame_end=int(frames[-1]),
                          source_fps=take.fps, source_rows=take.frames, warnings=warnings)


def import_livelink(obj, path, start_frame: int = 1, fps: float | None = None,
                    action_name: str | None = None, replace: bool = False) -> LiveLinkImport:
    return run_sync(import_livelink_job(obj, path, start_frame, fps, action_name, replace), on_progress=None)


def take_weights(obj, action=None, frame_range=None) -> tuple[np.ndarray, np.ndarray]:
    """(frames (F,), weights (F, 52) in ARKit order) of a baked take, one row per frame.

    ``action``: an Action or its name (default: the Key's current action);
    ``frame_range``: (first, last), default the action's range.  Missing
    shape keys or curves read as 0.
    """
    from .mesh import require_mesh

    require_mesh(obj, "the character's face mesh")
    key = obj.data.shape_keys
    if isinstance(action, str):
        found = bpy.data.actions.get(action)
        if found is None:
            raise FaceForgeError(f"There is no action named '{action}'")
        action = found
    if action is None:
        action = key.animation_data.action if key is not None and key.animation_data else None
    if action is None:
        raise FaceForgeError(f"'{obj.name}' has no baked take: animate it first (or pick an action)")
    lo, hi = frame_range if frame_range is not None else action.frame_range
    limits.check_frames(int(round(hi)) - int(round(lo)) + 1, f"The take '{action.name}'")
    frames = np.arange(int(round(lo)), int(round(hi)) + 1)
    return frames, _actions.sample_shape_keys(action, ARKIT_NAMES, frames)


def export_livelink(obj, path, action=None, frame_range=None) -> Path:
    """Write a baked take as a Live Link Face CSV at the scene frame rate; returns the path."""
    frames, weights = take_weights(obj, action, frame_range)
    fps = scene_fps()
    path = Path(bpy.path.abspath(str(path))).resolve()
    if path.suffix.lower() != ".csv":
        path = path.with_suffix(".csv")
    with paths.writing(path) as tmp:  # whole or not at all; OSError -> FaceForgeFailure
        llf.write_csv(tmp, weights, fps)
    return path
