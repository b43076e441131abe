"""A solved video take made ready to bake: on whole scene frames, rotations in the character's space.

The solve (``animation/solve.py``) returns a :class:`~animation.solve.Take` at the
video's own times, with head and eye rotations in *camera-frame* axes (x = the
subject's left, y = up, z = out of the face; see ``animation/pose.py``).  A
character's face is described by ``face_axes`` (3, 3): its columns are those
same three directions in the mesh's object space (``rigging.regions.face_frame(
landmarks).axes.T``).  :func:`retime_take` resamples the take on the scene's
frames and turns every rotation into object space.  Pure numpy; the Blender side
(``api/animate_video.py``) only writes the curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pose


@dataclass
class RetimedTake:
    frames: np.ndarray  # (N,) float64 scene frames (whole numbers, from the start frame)
    times: np.ndarray  # (N,) seconds into the take where each frame samples it
    weights: np.ndarray  # (N, K) shape-key weights in [0, 1]
    head: np.ndarray  # (N, 3, 3) head rotation relative to the neutral, mesh object space
    eyes: np.ndarray  # (N, 2, 3, 3) [left, right] eye rotations, mesh object space


def scene_frames(t0: float, t1: float, fps: float, start_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole scene frames covering [t0, t1] seconds at ``fps``: frames (N,) from ``start_frame``,
    and the time (N,) each one samples."""
    n = int(np.floor((t1 - t0) * fps + 1e-6)) + 1
    return (start_frame + np.arange(n)).astype(np.float64), t0 + np.arange(n) / fps


def interp(values: np.ndarray, times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values`` (F, ...) sampled at ``times`` (F,) at ``at`` (N,)."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(at, times, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape((len(at),) + values.shape[1:])


def resample_rotations(rots: np.ndarray, times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rotations (F, 3, 3) at ``times`` resampled at ``at``: rotation vectors interpolated
    (fine for neighbouring video frames, whose rotations differ little)."""
    rv = pose.matrix_to_rotvec(rots)
    return pose.rotvec_to_matrix(interp(rv, times, np.clip(at, times[0], times[-1])))


def eye_rotations(yaw_pitch: np.ndarray) -> np.ndarray:
    """(F, 2) yaw/pitch radians -> (F, 3, 3) camera-frame rotations (yaw about +y, then look up)."""
    yaw, pitch = yaw_pitch[:, 0], yaw_pitch[:, 1]
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(-pitch), np.sin(-pitch)
    f = len(yaw)
    ry = np.zeros((f, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, 1, -sy, cy
    rx = np.zeros((f, 3, 3))
    rx[:, 0, 0], rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = 1, cp, -sp, sp, cp
    return ry @ rx


def change_basis(rots: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Rotations (F, 3, 3) expressed in other axes: ``basis @ R @ basis.T`` for each.

    ``basis`` (3, 3) maps the rotations' axes to the new ones (e.g. ``face_axes``:
    camera-frame axes -> mesh object space)."""
    return np.einsum("ij,fjk,lk->fil", basis, rots, basis)


def retime_take(take, face_axes: np.ndarray, fps: float, start_frame: int = 1) -> RetimedTake:
    """A :class:`~animation.solve.Take` -> :class:`RetimedTake` on whole frames at ``fps``
    from ``start_frame``; ``face_axes`` (3, 3) as in the module docstring."""
    frames, at = scene_frames(float(take.times[0]), float(take.times[-1]), fps, start_frame)
    weights = np.clip(interp(take.weights, take.times, at), 0.0, 1.0)
    head = change_basis(resample_rotations(take.head_rotation, take.times, at), face_axes)
    eye = interp(take.eye_rotation, take.times, at)  # (N, 2, 2)
    eyes = np.stack([change_basis(eye_rotations(eye[:, side]), face_axes) for side in (0, 1)], axis=1)
    return RetimedTake(frames=frames, times=at, weights=weights, head=head, eyes=eyes)
