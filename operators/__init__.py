"""Operators: thin. Each reads the scene's PropertyGroup, calls one public
function from ``api`` (the same one the command line calls) and reports.

Every module in this folder may define ``classes``; they are collected in
module-name order.  ``MENUS`` lists (menu type, draw function) entries appended
to Blender's menus (File > Import / Export).  ``base`` holds the shared job runner and poll helpers.
"""

import importlib
import pkgutil


def collect_classes():
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "classes", ()))
    return tuple(found)


def collect_menus():
    """(menu type, draw function) pairs the modules list in ``MENUS`` (File > Import / Export)."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "MENUS", ()))
    return tuple(found)
