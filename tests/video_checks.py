"""The issue's checks on a solved take, shared by the tests and ``benchmarks/bench_video.py``.

* ``lip_gap``: the inner-lip gap the tracker sees, in eye distances (what jawOpen should follow);
* ``still``: frames where the face barely moves (head motion removed): a jump in a weight there is
  popping, not acting.  Barely: the 468 points moved less than 0.012 eye distances on average and
  none more than 0.04 (a blink moves the lids 0.04-0.1 in a frame while the average stays under
  0.012: the eye moved, the face was not still);
* ``figures``: jawOpen vs the lip gap (r), antagonist pairs both > 0.3, jumps > 0.25 while still,
  saturated channel-frames.
"""

from __future__ import annotations

import numpy as np

from faceforge.animation import neutral, pose
from faceforge.core.arkit import INDEX
from faceforge.facemodel.fit import ANTAGONISTS


def lip_gap(points: np.ndarray) -> np.ndarray:
    """(F, 478, 3) image points -> (F,) inner-lip gap / eye distance."""
    cam = pose.to_camera_frame(points)
    return neutral.mouth_gap(cam) / pose.interocular(cam)


def still(points: np.ndarray, threshold: float = 0.012, most: float = 0.04) -> np.ndarray:
    """(F,) bool: the face moved less than ``threshold`` eye distances (mean over the 468 points,
    head motion removed) since the frame before, and no point more than ``most``."""
    cam = pose.to_camera_frame(points)
    ok = np.isfinite(cam[:, 0, 0])
    out = np.zeros(len(cam), bool)
    if ok.sum() < 2:
        return out
    ref, _, _ = pose.normalise(cam[np.flatnonzero(ok)[0]])
    al = np.full(cam.shape, np.nan)
    al[ok] = pose.align(cam[ok], ref).points
    step = np.sqrt(((al[1:, :468] - al[:-1, :468]) ** 2).sum(-1))
    out[1:] = (np.nan_to_num(step.mean(-1), nan=1.0) < threshold) & (np.nan_to_num(step.max(-1), nan=1.0) < most)
    return out


def figures(weights: np.ndarray, points: np.ndarray) -> dict:
    """The checks on weights (F, 52) solved from image points (F, 478, 3) at the same frames."""
    ok = np.isfinite(points[:, 0, 0])
    w = weights[ok]
    gap = lip_gap(points[ok])
    jaw = w[:, INDEX["jawOpen"]]
    r = float(np.corrcoef(jaw, gap)[0, 1]) if jaw.std() > 0 and gap.std() > 0 else float("nan")
    pairs = np.array([(INDEX[a], INDEX[b]) for a, b in ANTAGONISTS])
    both = ((w[:, pairs[:, 0]] > 0.3) & (w[:, pairs[:, 1]] > 0.3)).any(axis=1)
    st = still(points)
    jumps = np.abs(np.diff(weights, axis=0)).max(axis=1) > 0.25
    still_jumps = jumps & st[1:] & ok[1:] & ok[:-1]
    return {"frames": int(ok.sum()), "jaw_gap_r": r, "antagonists": float(both.mean()),
            "still_frames": int(st.sum()), "still_jumps": int(still_jumps.sum()),
            "still_jump_rate": float(still_jumps.sum() / max(st.sum(), 1)),
            "saturated": float((w >= 0.99).mean())}
