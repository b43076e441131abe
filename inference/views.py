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


def bounding_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and radius of the axis-aligned box's sphere around ``points`` (N, 3)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2.0
    return centre, float(np.linalg.norm(hi - lo) / 2.0)


def face_sphere(landmarks_world: np.ndarray, margin: float = 1.35) -> tuple[np.ndarray, float]:
    """A sphere framing the landmarks (L, 3) with ``margin`` around them."""
    centre, radius = bounding_sphere(landmarks_world)
    return centre, radius * margin
