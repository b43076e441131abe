"""Expression measurements on MediaPipe landmarks (pure), for closed-loop checks.

All take ``points`` (478, 2 or 3) in image pixels (x right, y down) and return
values normalised by the inter-ocular distance (eye centre to eye centre), so
they compare across image sizes.  "left"/"right" are the subject's own.
"""

from __future__ import annotations

import numpy as np

_EYES = {  # (outer, inner, upper pairs, lower pairs)
    "left": (263, 362, (387, 385), (373, 380)),
    "right": (33, 133, (160, 158), (144, 153)),
}


def iod(points: np.ndarray) -> float:
    p = np.asarray(points)[:, :2]
    return float(np.linalg.norm((p[263] + p[362]) / 2 - (p[33] + p[133]) / 2))


def eye_aspect_ratio(points: np.ndarray, side: str) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|): ~0.25-0.3 open, ~0.05 closed."""
    p = np.asarray(points)[:, :2]
    outer, inner, (u1, u2), (l1, l2) = _EYES[side]
    v = np.linalg.norm(p[u1] - p[l1]) + np.linalg.norm(p[u2] - p[l2])
    return float(v / (2.0 * np.linalg.norm(p[outer] - p[inner])))


def face_metrics(points: np.ndarray) -> dict[str, float]:
    p = np.asarray(points)[:, :2]
    s = iod(p)
    mid_y = (p[33, 1] + p[263, 1]) / 2  # eye line height

    def up(i):  # height above the eye line, in IOD (image y points down)
        return float((mid_y - p[i, 1]) / s)

    return {
        "ear_left": eye_aspect_ratio(p, "left"),
        "ear_right": eye_aspect_ratio(p, "right"),
        "mouth_open": float(np.linalg.norm(p[13] - p[14]) / s),  # inner lip gap
        "mouth_width": float(np.linalg.norm(p[61] - p[291]) / s),
        "corner_left_up": up(291),
        "corner_right_up": up(61),
        "brow_inner_left_up": up(336),
        "brow_inner_right_up": up(107),
        "brow_outer_left_up": up(300),
        "brow_outer_right_up": up(70),
        "chin_up": up(152),
        "lip_protrusion": float(-np.asarray(points)[[0, 17], 2].mean() / s) if np.asarray(points).shape[1] > 2 else 0.0,
    }
