"""Live Link Face CSV <-> baked Actions on the character's ARKit shape keys and head/eye bones.

* :func:`import_livelink_job` reads a CSV (``formats/livelink.py``), resamples
  it to the scene frame rate and bakes a new Action (the user's actions stay)
  on the mesh's 52 ARKit shape keys, from ``start_frame``; the head rotation
  goes to the rig's ``head`` bone and the eye rotations to the eye bones when
  they are free (in the rig's *Bones* mode the eyeLook* shapes already turn
  the eyes, so the eye columns are not keyed twice).
* :func:`export_livelink` writes a baked take in Live Link Face's layout: a
  row per frame of the take (or resampled to ``fps``, e.g. 60), timecodes at
  the app's 60 fps so every reader times it right, and the head/eye rotations
  Blender shows (keyed bones, or the eye bones the eyeLook* shapes drive).

Rotations are converted between the rig's armature space (x = the subject's
left, z = up, -y = out of the face) and Live Link's face frame; see
``formats/livelink.py`` for the yaw/pitch/roll convention and docs/export.md.
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
from .character import armature_of, eye_bones, head_bone, require_rigged
from .scene import scene_fps

# Armature space (x left, y back, z up: Blender's, for a face looking down -Y) -> Live Link's
# face frame (x left, y up, z out of the face).
_TO_FACE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass
class LiveLinkImport:
    action: str
    frame_start: int
    frame_end: int
    source_fps: float  # the CSV's row rate (e.g. 24, 60)
    source_rows: int
    warnings: list[str] = field(default_factory=list)
    rotations: list[str] = field(default_factory=list)  # the bones that got rotation keys
    timecode_fps: float = 60.0  # the rate of the timecodes' frame field

    @property
    def frames(self) -> int:
        return self.frame_end - self.frame_start + 1


def import_livelink_job(obj, path, start_frame: int = 1, fps: float | None = None,
                        action_name: str | None = None, replace: bool = False, head: bool = True):
    """Job: bake a Live Link Face CSV onto ``obj``'s ARKit shape keys (and, with ``head``, its
    rig's head/eye bones); returns :class:`LiveLinkImport`.

    ``fps``: the CSV's timecode rate (when None: read off the timecodes, or 60 -
    the app's - for takes under a second); the take is resampled to the
    scene's frame rate.  ``replace=False`` keeps the current action.
    """
    names = require_rigged(obj)
    start_frame = params.check("start_frame", start_frame)
    fps = params.check_optional("livelink.fps", fps, "The CSV's frame rate") or None
    missing = [n for n in ARKIT_NAMES if n not in names]
    yield Progress(0.0, f"reading {os.path.basename(str(path))}")
    rate = scene_fps()
    take = yield Offload(llf.read_csv, (os.fspath(path),), dict(fps=fps, default_fps=llf.TIMECODE_FPS))
    # the timecodes' span, before resampling allocates a row per frame
    limits.check_take(float(take.seconds[-1]), rate, os.path.basename(str(path)), samples=take.frames,
                      times=take.seconds, unit="row", start_frame=start_frame)
    weights = yield Offload(take.resample, (rate,))
    rotations = take.resample_rotations(rate) if take.has_rotations else None
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
    keyed = []
    if rotations is not None and head:
        keyed = _key_rotations(obj, action, frames, rotations, warnings)
    yield Progress(1.0, f"baked {len(frames)} frames into '{action.name}'")
    return LiveLinkImport(action=action.name, frame_start=int(frames[0]), frame_end=int(frames[-1]),
                          source_fps=take.row_fps, source_rows=take.frames, warnings=warnings, rotations=keyed,
                          timecode_fps=take.fps)


def import_livelink(obj, path, start_frame: int = 1, fps: float | None = None,
                    action_name: str | None = None, replace: bool = False, head: bool = True) -> LiveLinkImport:
    return run_sync(import_livelink_job(obj, path, start_frame, fps, action_name, replace, head), on_progress=None)


# --- head / eye rotations ----------------------------------------------------------------------

def _rig_bones(obj):
    """(armature, {"head": pose bone, "left": eye pose bone, "right": ...}) of the character."""
    arm = armature_of(obj)
    if arm is None:
        return None, {}
    bones = {"head": head_bone(arm), **eye_bones(arm)}
    return arm, {k: v for k, v in bones.items() if v is not None}


def _rest(pb) -> np.ndarray:
    return np.array(pb.bone.matrix_local, dtype=np.float64)[:3, :3]


def _driven(arm, pb) -> bool:
    anim = arm.animation_data
    prefix = f'pose.bones["{pb.name}"].rotation'
    return anim is not None and any(d.data_path.startswith(prefix) for d in anim.drivers)


def _key_rotations(obj, action, frames, rotations, warnings) -> list[str]:
    """Key Live Link's head/eye rotations (N, 9) on the rig's bones, in ``action``; returns the bones."""
    arm, bones = _rig_bones(obj)
    if arm is None or "head" not in bones:
        if np.any(rotations[:, :3] != 0):
            warnings.append(f"'{obj.name}' has no head bone: the head rotation was not imported "
                            "(build the face armature in the Rig stage)")
        return []
    keyed = []
    for part, cols in (("head", slice(0, 3)), ("left", slice(3, 6)), ("right", slice(6, 9))):
        pb = bones.get(part)
        if pb is None or not np.any(rotations[:, cols] != 0):
            continue
        if _driven(arm, pb):
            if part == "left":
                warnings.append("eye rotations not keyed: the rig's eye bones follow the eyeLook* shapes "
                                "(Bones mode), which the CSV animates")
            continue
        face = llf.matrices_from_ypr(rotations[:, cols])
        b = _rest(pb)
        local = np.einsum("ij,fjk,kl->fil", b.T @ _TO_FACE.T, face, _TO_FACE @ b)
        suffix, vals = _actions.rotation_channels(local, pb.rotation_mode)
        bag = _actions.channels_for(action, arm)
        path = f'pose.bones["{pb.name}"].{suffix}'
        _actions.write_curves(bag, [(path, i) for i in range(vals.shape[1])], frames, vals, group=pb.name)
        keyed.append(pb.name)
    return keyed


def _channel_matrices(pb, values: dict, n: int) -> np.ndarray:
    """(n, 3, 3) local rotations of ``pb`` from its channel values ``{(suffix, index): (n,)}``."""
    from mathutils import Euler, Quaternion

    mode = pb.rotation_mode
    if mode == "QUATERNION":
        q = np.stack([values.get(("rotation_quaternion", i), np.full(n, pb.rotation_quaternion[i]))
                      for i in range(4)], 1)
        return np.array([np.array(Quaternion(r).normalized().to_matrix()) for r in q])
    if mode == "AXIS_ANGLE":
        aa = np.stack([values.get(("rotation_axis_angle", i), np.full(n, pb.rotation_axis_angle[i]))
                       for i in range(4)], 1)
        return np.array([np.array(Quaternion(r[1:], r[0]).to_matrix()) for r in aa])
    e = np.stack([values.get(("rotation_euler", i), np.full(n, pb.rotation_euler[i])) for i in range(3)], 1)
    return np.array([np.array(Euler(r, mode).to_matrix()) for r in e])


def take_rotations(obj, action, frames) -> np.ndarray | None:
    """(F, 9) head/eye rotations Blender shows for ``action`` at ``frames`` (Live Link order,
    radians): the keyed head/eye bones, and the eye bones' drivers (the eyeLook* shapes in
    the rig's Bones mode).  None when the character has no head bone."""
    from .armature import bone_drivers, driven_values

    arm, bones = _rig_bones(obj)
    if arm is None or "head" not in bones:
        return None
    n = len(frames)
    curves = {}
    for fc in _actions.all_fcurves(action):
        curves.setdefault(fc.data_path, {})[fc.array_index] = fc
    key = obj.data.shape_keys
    drivers = bone_drivers(arm, key)
    names = sorted({k for d in drivers for k in d.keys})
    sampled = _actions.sample_shape_keys(action, names, frames) if names else np.zeros((n, 0))
    key_values = {k: sampled[:, i] for i, k in enumerate(names)}
    out = np.zeros((n, 9))
    for part, col in (("head", 0), ("left", 3), ("right", 6)):
        pb = bones.get(part)
        if pb is None:
            continue
        values = {}
        prefix = f'pose.bones["{pb.name}"].'
        for path, by_index in curves.items():
            if path.startswith(prefix):
                for i, fc in by_index.items():
                    values[(path[len(prefix):], i)] = _actions.evaluate_curve(fc, frames)
        for d in drivers:
            if d.bone == pb.name:
                try:
                    values[(d.data_path.rsplit(".", 1)[1], d.index)] = driven_values(d, key, key_values, n)
                except ValueError:
                    pass
        if not values:
            continue
        b = _rest(pb)
        face = np.einsum("ij,fjk,kl->fil", _TO_FACE @ b, _channel_matrices(pb, values, n), b.T @ _TO_FACE.T)
        out[:, col:col + 3] = llf.ypr_from_matrices(face)
    return out


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


def export_livelink(obj, path, action=None, frame_range=None, fps: float | None = None,
                    head: bool = True) -> Path:
    """Write a baked take as a Live Link Face CSV; returns the path.

    A row per frame of the take at the scene's rate, or ``fps`` rows per second
    (e.g. 60, for tools that count rows) resampled linearly; timecodes at the
    app's 60 fps either way.  ``head``: write the head/eye rotations Blender
    shows (keyed bones, driven eye bones) - zeros without a head bone.
    """
    frames, weights = take_weights(obj, action, frame_range)
    if fps is not None and not (0 < float(fps) <= 1000):
        raise FaceForgeError(f"The Live Link frame rate must be between 0 and 1000 fps, not {fps}")
    rate = scene_fps()
    take = bpy.data.actions[action] if isinstance(action, str) else (
        action or obj.data.shape_keys.animation_data.action)
    rotations = take_rotations(obj, take, frames) if head else None
    if fps is not None and abs(float(fps) - rate) > 1e-9:
        seconds = (frames - frames[0]) / rate
        weights = llf.resample(seconds, weights, float(fps), cover_end=True)
        if rotations is not None:
            rotations = llf.resample(seconds, rotations, float(fps), cover_end=True)
        rate = float(fps)
    path = Path(bpy.path.abspath(str(path))).resolve()
    if path.suffix.lower() != ".csv":
        path = path.with_name(path.name + ".csv")  # the extension given explicitly ("take.v2" -> "take.v2.csv")
    with paths.writing(path) as tmp:  # whole or not at all; OSError -> FaceForgeFailure
        llf.write_csv(tmp, weights, rate, rotations=rotations)
    return path
