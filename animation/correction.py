"""The learned correction of the video solve: what the face tracker under-reads, put back.

The tracker's points follow some shapes only partly (cheekSquint and eyeSquint at 0.2-0.3 of
the surface's motion, frowns 0.3-0.4, brows 0.4-0.6: ``docs/facemodel.md``), and the fit's
priors (sparsity, smoothness) shrink what is left.  ``scripts/train_solve_correction.py``
renders the face model with known weights (random heads, lighting, head poses, natural
performances), runs the solve on them, and learns a map from the solved weights back to the
true ones; it writes ``models/solve_correction.npz`` (the map for video takes, ``video``,
and for single photos, ``image``).

The map (per kind): standardised inputs ``x = (w - mean) / std`` (w: the 52 solved weights
of a frame), a hidden layer ``g(x) = relu(x W1 + b1) W2``, and the corrected weights
``clip(w * gain + g(x) - g(x0), 0, 1)`` with ``x0`` the standardised rest (all zeros): a face
at rest stays at rest.  Pure numpy; (F, 52) in, (F, 52) out.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..core.errors import FaceForgeError

CORRECTION_PATH = Path(__file__).resolve().parents[1] / "models" / "solve_correction.npz"
FILE_VERSION = 1
KINDS = ("video", "image")


class Correction:
    """A loaded correction (see the module docstring): ``apply(w (F, 52), kind) -> (F, 52)``."""

    def __init__(self, arrays: dict):
        self.arrays = arrays
        self.info = str(arrays.get("info", ""))

    def has(self, kind: str) -> bool:
        return f"{kind}_w1" in self.arrays

    def apply(self, w: np.ndarray, kind: str = "video") -> np.ndarray:
        w = np.atleast_2d(np.asarray(w, np.float64))
        if not self.has(kind):
            return w.copy()
        a = self.arrays

        def g(x):
            return np.maximum(x @ a[f"{kind}_w1"] + a[f"{kind}_b1"], 0.0) @ a[f"{kind}_w2"]

        x = (w - a[f"{kind}_mean"]) / a[f"{kind}_std"]
        x0 = -a[f"{kind}_mean"] / a[f"{kind}_std"]
        return np.clip(w * a[f"{kind}_gain"] + g(x) - g(x0[None]), 0.0, 1.0)


def save_correction(path, arrays: dict, info: str = "") -> None:
    """Write a correction file (``arrays``: ``{kind}_mean, _std, _w1, _b1, _w2, _gain`` per kind)."""
    out = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    out["version"] = np.array(FILE_VERSION)
    out["info"] = np.array(info)
    np.savez_compressed(path, **out)


@functools.lru_cache(maxsize=2)
def _load(path: str, mtime: float) -> Correction:
    with np.load(path, allow_pickle=False) as z:
        if int(z["version"]) != FILE_VERSION:
            raise FaceForgeError(f"the solve correction file is version {int(z['version'])}, this FaceForge reads "
                                 f"{FILE_VERSION}: reinstall FaceForge")
        return Correction({k: (z[k].astype(np.float64) if z[k].dtype.kind == "f" else z[k]) for k in z.files})


def load_correction(path=None) -> Correction | None:
    """The shipped correction (loaded once), or None when the file is absent (no correction)."""
    p = Path(path) if path is not None else CORRECTION_PATH
    if not p.is_file():
        return None
    return _load(str(p), p.stat().st_mtime)
