"""Choosing the view that shows the face, and framing it (pure)."""

from __future__ import annotations

import numpy as np

# Candidate camera directions (where the camera LOOKS) and the image-up vector
# for each.  A face looking down -Y (Blender's front) is seen by a camera
# looking along +Y.  Faces lying on their back/front get two "up" guesses.
CANDIDATE_VIEWS: tuple[tuple[str, tuple, tuple], ...] = (
    ("-Y", (0, 1, 0), (0, 0, 1)),
    ("+Y", (0, -1, 0), (0, 0, 1)),
    ("-X", (1, 0, 0), (0, 0, 1)),
    ("+X", (-1, 0, 0), (0, 0, 1)),
    ("+Z", (0, 0, -1), (0, 1, 0)),
    ("+Z~", (0, 0, -1), (0, -1, 0)),
    ("-Z", (0, 0, 1), (0, 1, 0)),
    ("-Z~", (0, 0, 1), (0, -1, 0)),
)


# A face whose nose tip lies within this share of the eye width from the middle of its outer
# eye corners is seen from the front (0: frontal, about 1 or more: in profile).
FRONTAL_TURN = 0.35


def turn(points: np.ndarray) -> float:
    """How far a detected face (Face Mesh points (478, 2+), pixels) is turned from the camera:
    the nose tip's offset from the middle of the outer eye corners, over the eye width
    (0 frontal, about 1 or more in profile)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    a, b, nose = p[33], p[263], p[1]
    axis = b - a
    width = float(np.linalg.norm(axis))
    if width <= 0 or not np.isfinite(width):
        return float("inf")
    along = float((nose - (a + b) / 2) @ axis) / width
    return abs(along) / (width / 2)


def view_order(scores) -> list[int]:
    """The candidate views worth trying, best detection score first (score > 0 only)."""
    scores = np.asarray(scores, dtype=np.float64)
    return [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0]


def bounding_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and radius of the axis-aligned box's sphere around ``points`` (N, 3)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2.0
    return centre, float(np.linalg.norm(hi - lo) / 2.0)


def face_sphere(landmarks_world: np.ndarray, margin: float = 1.35) -> tuple[np.ndarray, float]:
    """A sphere framing the landmarks (L, 3) with ``margin`` around them."""
    centre, radius = bounding_sphere(landmarks_world)
    return centre, radius * margin
