"""Blender API differences between the two lines FaceForge supports (4.2-5.0 and 5.1+), in one place.

* New shape keys: Blender 4.x creates them at value 0.0, Blender 5.x at 1.0
  (a freshly generated rig would show every shape at once): :func:`new_shape_key`
  always starts a key at 0.0.
* Materials: Blender 5 materials always use nodes (``Material.use_nodes`` is deprecated there):
  :func:`node_tree` gives a material's node tree on every version.
* Actions: Blender 4.4 introduced slotted actions and 5.0 removed ``Action.fcurves``
  (F-curves live in channel bags); that difference is handled by ``api/actions.py``
  (``channelbag``, ``fcurves_for``, ``action_fcurves``), which every call site uses.

Everything else in ``api/`` uses the API common to both lines.
"""

from __future__ import annotations

import bpy

BLENDER_5 = bpy.app.version >= (5, 0, 0)


def new_shape_key(obj, name: str, from_mix: bool = False):
    """Add shape key ``name`` to ``obj`` at value 0.0 on every Blender version."""
    kb = obj.shape_key_add(name=name, from_mix=from_mix)
    kb.value = 0.0
    return kb


def node_tree(mat):
    """``mat``'s node tree, switching nodes on where Blender 4.x needs it (Blender 5 always has one)."""
    if not BLENDER_5 and not mat.use_nodes:
        mat.use_nodes = True
    return mat.node_tree
