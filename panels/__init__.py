"""Panels in the 3D viewport sidebar, tab "FaceForge": one per stage
(Landmarks, Rig, Animate, Deliver), plus their sub-panels.

Every module in this folder may define ``classes``; they are collected in
module-name order (``bl_order`` sets the order on screen).
"""

import importlib
import pkgutil


def collect_classes():
    found = []
    # ``stages`` holds the parent panels: it must come first.
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: (m.name != "stages", m.name)):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "classes", ()))
    return tuple(found)
