"""The lip-sync result both speech methods produce (phones in ``lipsync``, energy in
``energy_lipsync``): ARKit weights per animation frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LipSyncTrack:
    weights: np.ndarray  # (F, 52) float32, frame k at time k / fps
    fps: float
    method: str  # "align", "recognise" or "energy"
    visemes: np.ndarray | None = None  # (F,) index into VISEMES of the dominant viseme (phone methods)

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.weights)) / self.fps


def frame_count(duration: float, fps: float) -> int:
    """Frames covering ``duration`` seconds at ``fps``, both ends included."""
    return int(np.ceil(duration * fps - 1e-9)) + 1
