"""Which optional runtime libraries import, from where, at which version.

FaceForge imports its heavy dependencies lazily, inside the function that
needs them, so the add-on registers even when one is missing; this module
answers "what is installed" for the UI, the command line and tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

# import name -> what it is for
RUNTIME = {
    "numpy": "arrays (ships with Blender)",
    "scipy": "solvers, spatial search, RBF",
    "cv2": "images and video (OpenCV, headless)",
    "onnxruntime": "Face Mesh tracker and text-to-expression model",
    "pocketsphinx": "phonemes for lip sync",
    "soundfile": "audio files",
}


@dataclass
class DepStatus:
    name: str
    purpose: str
    ok: bool
    version: str = ""
    location: str = ""
    error: str = ""


def check(names=None) -> list[DepStatus]:
    out = []
    for name in names or RUNTIME:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # report every failure, never raise
            out.append(DepStatus(name, RUNTIME.get(name, ""), False, error=f"{type(exc).__name__}: {exc}"))
            continue
        out.append(DepStatus(name, RUNTIME.get(name, ""), True,
                             version=str(getattr(mod, "__version__", "")),
                             location=str(getattr(mod, "__file__", ""))))
    return out
