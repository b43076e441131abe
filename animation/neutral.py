"""Picking the actor's most neutral frame automatically.

The actor's expressions are measured as displacement from their own neutral
face (never from the character's), so the take needs one frame where the
actor is at rest.  On head-stabilised, IOD-normalised landmarks (F, L, 3) the
score of a frame is, lower = more neutral:

* its distance to the take's median shape (people rest most of the time),
* its mouth opening (a closed mouth is neutral),
* how far its eye openness is from the take's typical open eyes (70th
  percentile: not mid-blink, not wide).
"""

from __future__ import annotations

import numpy as np

from . import pose


def mouth_gap(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (..., L, 3) -> (...), in the points' units (IOD units when normalised)."""
    return np.linalg.norm(points[..., pose.LIP_LOWER_INNER, :2] - points[..., pose.LIP_UPPER_INNER, :2], axis=-1)


def eye_openness(points: np.ndarray) -> np.ndarray:
    """Mean lid gap of both eyes, (..., L, 3) -> (...)."""
    r = np.linalg.norm(points[..., pose.EYE_UPPER_RIGHT, :2] - points[..., pose.EYE_LOWER_RIGHT, :2], axis=-1)
    l_ = np.linalg.norm(points[..., pose.EYE_UPPER_LEFT, :2] - points[..., pose.EYE_LOWER_LEFT, :2], axis=-1)
    return 0.5 * (r + l_)


def eye_open_ratio(points: np.ndarray) -> np.ndarray:
    """Each eye's opening, (..., L, 2+) -> (..., 2) for the subject's left and right eye: the mean gap
    between the lids (their seven inner pairs) over the eye's width, corner to corner; scale-free
    (open eyes read 0.2-0.3, shut ones about 0.05); NaN where a point is missing."""
    from ..rigging import regions as R

    p = np.asarray(points, np.float64)[..., :2]
    out = []
    for up, lo in ((R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER), (R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)):
        gap = np.linalg.norm(p[..., list(up[1:-1]), :] - p[..., list(lo[1:-1]), :], axis=-1).mean(-1)
        width = np.linalg.norm(p[..., up[0], :] - p[..., up[-1], :], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(gap / width)
    return np.stack(out, axis=-1)


def neutral_scores(aligned: np.ndarray) -> np.ndarray:
    """Per-frame neutrality score for (F, L, 3) aligned, normalised landmarks (lower = more neutral)."""
    pts = aligned[:, :468]
    median = np.median(pts, axis=0)
    dist = np.sqrt(((pts - median) ** 2).sum(axis=-1).mean(axis=-1))
    gap = mouth_gap(aligned)
    eyes = eye_openness(aligned)
    # Resting eyes are open: blinks pull the median down, so compare with an upper quantile.
    eye_dev = np.abs(eyes - np.percentile(eyes, 70))
    return dist + gap + eye_dev


def pick_neutral(aligned: np.ndarray) -> int:
    """Index of the most neutral frame of (F, L, 3) aligned landmarks."""
    if len(aligned) == 0:
        raise ValueError("no frames to pick a neutral from")
    return int(np.argmin(neutral_scores(aligned)))


def pick_neutral_from_weights(relative: np.ndarray, quantile: float = 2.0) -> int:
    """Refine the neutral pick from weights solved relative to a provisional neutral.

    ``relative`` (F, K): per-frame weights solved *without* the 0 bound
    against a provisional neutral frame, i.e. ``w_f - w_provisional``.  Every
    shape rests at 0 somewhere in a take, so the true rest frame is the one
    whose relative weights sit at each shape's low end: minimise
    ``sum_k (u_fk - low_k)`` with ``low_k`` a low percentile of shape k.
    """
    low = np.percentile(relative, quantile, axis=0)
    return int(np.argmin(np.clip(relative - low, 0.0, None).sum(axis=1)))
