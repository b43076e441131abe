"""Numeric snapshots: key results stored as small arrays under ``tests/snapshots/``.

``check(name, arrays, atol)`` compares each array with the stored one within an
absolute tolerance chosen to survive float noise (other CPUs, BLAS threads) but
not a change in behaviour.  After a deliberate change, regenerate with
``FACEFORGE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/...`` and commit
the new ``.npz`` with the change that explains it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("FACEFORGE_UPDATE_SNAPSHOTS") == "1"


def check(name: str, arrays: dict[str, np.ndarray], atol: dict[str, float]) -> dict[str, float]:
    """Compare ``arrays`` with ``snapshots/<name>.npz`` (or write it when updating); returns the
    largest difference per array."""
    path = SNAPSHOTS / f"{name}.npz"
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        np.savez_compressed(path, **{k: v.astype(np.float32) if v.dtype.kind == "f" else v
                                     for k, v in arrays.items()})
        return {k: 0.0 for k in arrays}
    assert path.is_file(), f"no snapshot {path.name}: run once with FACEFORGE_UPDATE_SNAPSHOTS=1"
    stored = np.load(path)
    assert set(stored.files) == set(arrays), (sorted(stored.files), sorted(arrays))
    worst = {}
    for key, value in arrays.items():
        want = stored[key]
        assert value.shape == want.shape, f"{name}.{key}: shape {value.shape}, snapshot {want.shape}"
        if value.dtype.kind not in "fc":
            assert (value == want).all(), f"{name}.{key} differs from the snapshot"
            worst[key] = 0.0
            continue
        worst[key] = float(np.abs(value.astype(np.float64) - want).max()) if value.size else 0.0
        assert worst[key] <= atol[key], f"{name}.{key}: off the snapshot by {worst[key]:.3g} (> {atol[key]:.3g})"
    return worst
