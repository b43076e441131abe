"""Blender API differences between the two lines FaceForge supports (4.2-5.0 and 5.1+), in one place.

* New shape keys: Blender 4.x creates them at value 0.0, Blender 5.x at 1.0
  (a freshly generated rig would show every shape at once): :func:`new_shape_key`
  always starts a key at 0.0.
* Materials: Blender 5 materials always use nodes (``Material.use_nodes`` is deprecated there):
  :func:`node_tree` gives a material's node tree on every version.
* Actions: Blender 4.4 introduced slotted actions and 5.0 removed ``Action.fcurves``
  (F-curves live in channel bags); that difference is handled by ``api/actions.py``
  (``channelbag``, ``fcurves_for``, ``action_fcurves``), which every call site uses.
* Movie strip retiming (a video whose fps differs from the scene's): :func:`retime_strip`.

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


def retime_strip(scene, strip, speed: float) -> bool:
    """Make a movie strip play ``speed`` times as fast (1.25: a 30 fps video in a 24 fps scene keeps
    its real timing), uniformly, from its start.  Blender 4.x: the Retiming operator (its RNA key
    ``add`` crashes there); 5.x: the strip's retiming keys (the operator needs the editor there).
    Returns False when this Blender cannot retime strips."""
    keys = getattr(strip, "retiming_keys", None)
    if keys is None or speed <= 0:
        return False
    start, length = int(strip.frame_start), int(strip.frame_duration)
    keys.reset()
    if abs(speed - 1.0) < 1e-6:
        return True
    if BLENDER_5:
        keys.add(timeline_frame=start + length)  # the end key only: [start, end]
        if len(keys) < 2:
            return False
        keys[-1].timeline_frame = start + max(1, int(round(length / speed)))
        return True
    op = getattr(bpy.ops.sequencer, "retiming_segment_speed_set", None)
    if op is None or scene.sequence_editor is None:
        return False
    se = scene.sequence_editor
    active, selected = se.active_strip, strip.select
    se.active_strip, strip.select = strip, True
    try:
        with bpy.context.temp_override(scene=scene, active_strip=strip, selected_editable_strips=[strip],
                                       selected_strips=[strip]):
            return op.poll() and op(speed=100.0 * speed) == {"FINISHED"}
    finally:
        se.active_strip, strip.select = active, selected


def node_tree(mat):
    """``mat``'s node tree, switching nodes on where Blender 4.x needs it (Blender 5 always has one)."""
    if not BLENDER_5 and not mat.use_nodes:
        mat.use_nodes = True
    return mat.node_tree
