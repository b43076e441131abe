"""A small fixture character for tests and benchmarks (no other stage needed).

``make_character()`` builds, from nothing, what the rig stage produces: a head
mesh ("Face") with a Basis and the 52 ARKit shape keys, each a visible bump
or dent in its own patch of the face (``Left`` shapes on +X, the subject's
left), optionally parented to a small armature (root / head / jaw / eye.L /
eye.R).  ``bake_take()`` bakes known weights into an Action with
``api.actions.bake_shape_keys``; ``known_weights()`` gives smooth, distinct
curves per shape so sampling errors show.

Importable by any test (``from fixtures_character import make_character``);
conftest puts ``tests/`` on ``sys.path``.
"""

from __future__ import annotations

from contextlib import contextmanager

import bpy
import numpy as np

from faceforge.core.arkit import ARKIT_NAMES



def new_shape_key(obj, name):
    """A shape key at value 0 on every Blender line (5.x creates new keys at 1.0)."""
    from faceforge.api.compat import new_shape_key as _new

    return _new(obj, name)

def _patch_centres(n: int) -> np.ndarray:
    """``n`` unit directions spread over the front (-Y) half of a sphere."""
    i = np.arange(n) + 0.5
    z = 0.85 - 1.6 * i / n  # top of the face to the chin
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    r = np.sqrt(1 - z * z)
    x = r * np.cos(phi) * 0.9
    y = -np.sqrt(np.clip(1 - z * z - x * x, 0.05, 1))
    d = np.stack([x, y, z], 1)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def shape_centres() -> np.ndarray:
    """(52, 3) patch centre (unit direction) per ARKit name; Left names on +X, Right on -X."""
    c = _patch_centres(52)
    for k, name in enumerate(ARKIT_NAMES):
        if name.endswith("Left"):
            c[k, 0] = abs(c[k, 0]) + 0.15
        elif name.endswith("Right"):
            c[k, 0] = -abs(c[k, 0]) - 0.15
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def make_character(name: str = "Face", radius: float = 0.1, segments: int = 32, rings: int = 16,
                   armature: bool = True):
    """Build the fixture head; returns the mesh object (its armature is ``obj.parent``)."""
    bpy.ops.mesh.primitive_uv_sphere_add(segments=segments, ring_count=rings, radius=radius,
                                         location=(0, 0, 0))
    obj = bpy.context.active_object
    obj.name = name
    obj.data.name = name
    n = len(obj.data.vertices)
    base = np.empty(n * 3, np.float32)
    obj.data.vertices.foreach_get("co", base)
    base = base.reshape(n, 3).astype(np.float64)
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    new_shape_key(obj, "Basis")
    for k, (sk_name, centre) in enumerate(zip(ARKIT_NAMES, shape_centres())):
        fall = np.exp(-(np.linalg.norm(unit - centre, axis=1) / 0.35) ** 2)
        sign = 1.0 if k % 2 == 0 else -0.6
        coords = base + unit * (sign * 0.3 * radius * fall)[:, None]
        kb = new_shape_key(obj, sk_name)
        kb.data.foreach_set("co", coords.astype(np.float32).ravel())
    obj.data.update()
    if armature:
        _add_armature(obj, radius)
    return obj


def _add_armature(obj, radius: float):
    arm_data = bpy.data.armatures.new(obj.name + "Rig")
    arm = bpy.data.objects.new(obj.name + "Rig", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    view_layer = bpy.context.view_layer
    for o in view_layer.objects:
        o.select_set(False)
    view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    eb = arm_data.edit_bones
    root = eb.new("root")
    root.head, root.tail = (0, 0, -2 * radius), (0, 0, -1.5 * radius)
    head = eb.new("head")
    head.head, head.tail = (0, 0, -radius), (0, 0, radius)
    head.parent = root
    jaw = eb.new("jaw")
    jaw.head, jaw.tail = (0, 0, -0.2 * radius), (0, -0.8 * radius, -0.6 * radius)
    jaw.parent = head
    for side, x in (("L", 0.35 * radius), ("R", -0.35 * radius)):
        eye = eb.new(f"eye.{side}")
        eye.head, eye.tail = (x, -0.8 * radius, 0.3 * radius), (x, -1.2 * radius, 0.3 * radius)
        eye.parent = head
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.parent = arm
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    group = obj.vertex_groups.new(name="head")
    group.add(list(range(len(obj.data.vertices))), 1.0, "REPLACE")
    view_layer.objects.active = obj
    obj.select_set(True)
    return arm


def known_weights(frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 52) smooth weights in [0, 1], a different phase and speed per shape."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    speed = rng.uniform(0.05, 0.25, 52)[None, :]
    phase = rng.uniform(0, 2 * np.pi, 52)[None, :]
    return (0.5 + 0.5 * np.sin(t * speed + phase)).astype(np.float64)


def bake_take(obj, weights: np.ndarray, name: str = "Take", start: int = 1):
    """Bake (F, 52) weights from frame ``start`` into a new Action; returns it."""
    from faceforge.api import actions

    frames = np.arange(start, start + len(weights))
    return actions.bake_shape_keys(obj, ARKIT_NAMES, frames, weights, name)


@contextmanager
def scene_settings_kept():
    """Restore the scene's frame rate, frame range and name afterwards (tests change them)."""
    scene = bpy.context.scene
    saved = (scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end,
             scene.frame_current, scene.name)
    try:
        yield scene
    finally:
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = saved[0], saved[1]
        scene.frame_start, scene.frame_end = saved[2], saved[3]
        scene.frame_set(saved[4])
        scene.name = saved[5]
