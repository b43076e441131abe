"""Writing F-curves fast, on every Blender from 4.2 to 5.0.

Blender 4.4 introduced *slotted* actions (one Action can animate several
IDs, each through a slot) and 5.0 removed ``Action.fcurves``: F-curves live
in ``action.layers[i].strips[j].channelbag(slot).fcurves``.  ``fcurves_for``
hides the difference; ``write_curves`` bulk-writes keys with
``keyframe_points.add`` + ``foreach_set`` (hundreds of times faster than
``keyframe_insert`` in a loop).

Shape-key animation belongs to the mesh's Key datablock
(``mesh.shape_keys``), data paths ``key_blocks["jawOpen"].value``.
"""

from __future__ import annotations

import numpy as np

import bpy
from mathutils import Matrix

from ..core import limits
from ..core.errors import FaceForgeError
from ..core.params import FRAME_MAX, FRAME_MIN

SLOTTED = hasattr(bpy.types, "ActionSlot")  # Blender 4.4+

_ID_TYPE = {bpy.types.Key: "KEY", bpy.types.Object: "OBJECT", bpy.types.Mesh: "MESH"}


def _id_type(id_owner) -> str:
    for cls, name in _ID_TYPE.items():
        if isinstance(id_owner, cls):
            return name
    return id_owner.id_type


def assign_action(id_owner, action, slot_name: str | None = None):
    """Make ``action`` animate ``id_owner`` (through a slot on 4.4+); returns the slot or None."""
    anim = id_owner.animation_data or id_owner.animation_data_create()
    if not SLOTTED:
        anim.action = action
        return None
    id_type = _id_type(id_owner)
    slot_name = slot_name or id_owner.name
    slot = None
    for s in action.slots:
        if s.target_id_type == id_type and (s.name_display == slot_name or len(action.slots) == 1 and
                                            anim.action_slot == s):
            slot = s
            break
    if slot is None:
        slot = action.slots.new(id_type=id_type, name=slot_name)
    anim.action = action
    anim.action_slot = slot
    return slot


def channels_for(action, id_owner, slot_name: str | None = None):
    """What holds the F-curves (``.fcurves``, ``.groups``) of ``action`` for ``id_owner``.

    The action itself before 4.4, else the channelbag of ``id_owner``'s slot.
    Assigns the action (and slot) to ``id_owner``.
    """
    slot = assign_action(id_owner, action, slot_name)
    if slot is None:
        return action
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def all_fcurves(action):
    """Every F-curve of an action, on any Blender version."""
    if not SLOTTED or not hasattr(action, "layers"):
        return list(action.fcurves)
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                out.extend(bag.fcurves)
    return out


_INTERP = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}


def check_keys(frames, values=None, what: str = "The take") -> None:
    """The last guard before keys are written: at most the frame limit (``core/limits.py``), inside
    Blender's frame range, finite values; a FaceForgeError otherwise (the stages check their
    inputs earlier, with better messages)."""
    frames = np.asarray(frames, dtype=np.float64)
    limits.check_frames(len(frames), what)
    if len(frames) and not (np.isfinite(frames).all() and FRAME_MIN <= frames.min() and frames.max() <= FRAME_MAX):
        raise FaceForgeError(f"{what} would be keyed from frame {frames.min():g} to {frames.max():g}, outside "
                             f"Blender's frames {FRAME_MIN:,}..{FRAME_MAX:,}: choose another start frame")
    if values is not None and not np.isfinite(np.asarray(values, dtype=np.float64)).all():
        raise FaceForgeError(f"{what} has values that are not numbers (NaN or infinite); nothing was keyed")


def write_curves(bag, channels, frames, values, group: str | None = None,
                 interpolation: str = "LINEAR"):
    """Write one F-curve per channel, replacing any existing curve of that channel.

    bag: from :func:`channels_for`; channels: list of ``(data_path, array_index)``;
    frames: (F,); values: (F, C).
    """
    check_keys(frames, values)
    fcurves = bag.fcurves
    grp = None
    if group:
        grp = bag.groups.get(group) or bag.groups.new(group)
    frames = np.asarray(frames, dtype=np.float32)
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape != (len(frames), len(channels)):
        raise ValueError(f"values must be (frames={len(frames)}, channels={len(channels)}), got {values.shape}")
    written = []
    for c, (path, index) in enumerate(channels):
        old = fcurves.find(path, index=index)
        if old is not None:
            fcurves.remove(old)
        fc = fcurves.new(path, index=index)
        if grp is not None:
            fc.group = grp
        fc.keyframe_points.add(len(frames))
        co = np.empty(len(frames) * 2, dtype=np.float32)
        co[0::2] = frames
        co[1::2] = values[:, c]
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.full(len(frames), _INTERP[interpolation], np.int32))
        fc.update()
        written.append(fc)
    return written


def shape_key_channels(names) -> list[tuple[str, int]]:
    return [(f'key_blocks["{n}"].value', 0) for n in names]


def bake_shape_keys(obj, names, frames, weights, action_name: str, replace: bool = False,
                    interpolation: str = "LINEAR"):
    """Bake shape-key weights (F, K) for ``names`` into an Action on ``obj``'s Key.

    ``replace=False`` keeps the Key's current action untouched and bakes into
    a new action (named uniquely from ``action_name``); ``replace=True``
    reuses the current action, replacing only the F-curves of ``names``.
    Returns the action.
    """
    key = obj.data.shape_keys
    if key is None:
        raise ValueError(f"{obj.name} has no shape keys")
    anim = key.animation_data
    if replace and anim is not None and anim.action is not None:
        action = anim.action
    else:
        action = bpy.data.actions.new(action_name)
    bag = channels_for(action, key, slot_name=key.name)
    write_curves(bag, shape_key_channels(names), frames, weights, group="FaceForge",
                 interpolation=interpolation)
    return action


def evaluate_curve(fc, frames) -> np.ndarray:
    """An F-curve's values at ``frames`` (F,): read straight off the keys when every frame
    asked for is a whole frame with a key on it (a baked take), else ``fc.evaluate``."""
    frames = np.asarray(frames, dtype=np.float64)
    n = len(fc.keyframe_points)
    co = np.empty(n * 2, dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    kf, kv = co[0::2].astype(np.float64), co[1::2].astype(np.float64)
    whole = np.all(np.abs(frames - np.round(frames)) < 1e-6)
    if n and whole and np.all(np.abs(kf - np.round(kf)) < 1e-4) and n == len(np.unique(np.round(kf))):
        lookup = dict(zip(np.round(kf).astype(int).tolist(), kv.tolist()))
        wanted = np.round(frames).astype(int).tolist()
        if all(f in lookup for f in wanted):
            return np.array([lookup[f] for f in wanted])
    return np.array([fc.evaluate(float(f)) for f in frames])


def sample_shape_keys(action, names, frames) -> np.ndarray:
    """(F, K) values of ``action``'s shape-key curves for ``names`` at ``frames`` (0 where unkeyed)."""
    curves = {fc.data_path: fc for fc in all_fcurves(action)}
    out = np.zeros((len(frames), len(names)))
    for k, name in enumerate(names):
        fc = curves.get(f'key_blocks["{name}"].value')
        if fc is not None:
            out[:, k] = evaluate_curve(fc, frames)
    return out


def sample_shape_key_curves(obj, names, frames) -> np.ndarray:
    """The current take of ``obj`` at ``frames`` -> (F, K) (see :func:`sample_shape_keys`)."""
    return sample_shape_keys(obj.data.shape_keys.animation_data.action, names, frames)


def rotation_channels(mats: np.ndarray, mode: str):
    """Rotation matrices (F, 3, 3) -> (path suffix, values (F, C)) in Blender's ``mode``
    (``QUATERNION``, ``AXIS_ANGLE`` or an Euler order; Euler angles kept continuous)."""
    if mode == "QUATERNION":
        q = [Matrix(m.tolist()).to_quaternion() for m in mats]
        for i in range(1, len(q)):
            q[i].make_compatible(q[i - 1])
        return "rotation_quaternion", np.array([tuple(x) for x in q])
    if mode == "AXIS_ANGLE":
        aa = [Matrix(m.tolist()).to_quaternion().to_axis_angle() for m in mats]
        return "rotation_axis_angle", np.array([(a, *ax) for ax, a in aa])
    out, prev = [], None
    for m in mats:
        e = Matrix(m.tolist()).to_euler(mode, prev) if prev is not None else Matrix(m.tolist()).to_euler(mode)
        out.append(tuple(e))
        prev = e
    return "rotation_euler", np.array(out)
