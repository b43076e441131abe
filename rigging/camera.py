"""A pinhole camera as numpy: world points -> pixels, pixels -> world rays.

Conventions match a Blender camera (looks down its local -Z, +Y up) and the
image convention of MediaPipe/OpenCV (x right, y down, origin top-left,
pixel centres at +0.5).  Shapes: points (N, 3) world, pixels (N, 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PinholeCamera:
    cam_to_world: np.ndarray  # (4, 4) the camera object's world matrix (no scale)
    focal_px: float  # focal length in pixels
    width: int
    height: int

    @property
    def position(self) -> np.ndarray:
        return self.cam_to_world[:3, 3].copy()

    @property
    def forward(self) -> np.ndarray:
        return -self.cam_to_world[:3, 2]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N, 2) and depth along the view axis (N,) of world points."""
        r = self.cam_to_world[:3, :3]
        pc = (np.asarray(points, dtype=np.float64) - self.cam_to_world[:3, 3]) @ r  # world -> cam
        depth = -pc[:, 2]
        safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
        x = self.width / 2.0 + self.focal_px * pc[:, 0] / safe
        y = self.height / 2.0 - self.focal_px * pc[:, 1] / safe
        return np.stack([x, y], axis=1), depth

    def rays(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ray origins (N, 3) and unit directions (N, 3) through pixels (N, 2)."""
        px = np.asarray(pixels, dtype=np.float64)
        d = np.stack([(px[:, 0] - self.width / 2.0) / self.focal_px,
                      -(px[:, 1] - self.height / 2.0) / self.focal_px,
                      -np.ones(len(px))], axis=1)
        d = d @ self.cam_to_world[:3, :3].T
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return np.repeat(self.position[None], len(px), axis=0), d


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Camera-to-world matrix (4, 4) at ``eye`` looking at ``target`` with ``up``."""
    fwd = np.asarray(target, float) - np.asarray(eye, float)
    fwd /= np.linalg.norm(fwd)
    z = -fwd
    x = np.cross(np.asarray(up, float), z)
    if np.linalg.norm(x) < 1e-9:  # up parallel to the view: pick any perpendicular
        x = np.cross([1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, eye
    return m


_AXES = {"X": (1.0, 0.0, 0.0), "Y": (0.0, 1.0, 0.0), "Z": (0.0, 0.0, 1.0)}


def axis_direction(text: str) -> np.ndarray:
    """A signed world axis as a unit vector (3,): ``"-Y"``, ``"+Z"``, ``"X"``, also ``"NEG_Y"``;
    ValueError for anything else."""
    t = str(text).strip().upper().replace("NEG_", "-").replace("POS_", "+")
    sign = -1.0 if t.startswith("-") else 1.0
    axis = t.lstrip("+-")
    if axis not in _AXES:
        raise ValueError(f"not an axis: {text!r}")
    return sign * np.array(_AXES[axis])


def facing_rotation(facing: np.ndarray) -> np.ndarray:
    """3x3 rotation (columns: right, up, back) of a camera looking at a face that looks along
    ``facing`` (unit (3,)): up is world +Z, or +Y for a face looking along Z."""
    forward = -np.asarray(facing, dtype=np.float64)  # the camera looks back at the face
    up = np.array([0.0, 0.0, 1.0]) if abs(facing[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, -forward], 1)
