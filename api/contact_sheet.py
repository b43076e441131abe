"""Render a mesh's shapes: single frontal renders and a labelled contact sheet (PNG).

Renders with Cycles on the CPU (works headless, no GPU or display needed):
an orthographic camera looks at the face along its own forward axis (from
the landmarks), a key light and a soft world light.  Everything this module
adds to the scene is removed again afterwards, and the shape-key values are
restored.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import bpy
from mathutils import Matrix

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from ..core.jobs import Progress
from . import binding as _binding

_TMP = "FaceForge_sheet"


def _face_view(obj):
    """(centre, forward, up, height) of the face in world space, from its landmarks."""
    from ..rigging import regions as R

    lm = _binding.landmark_positions(obj, world=True)
    fr = R.face_frame(lm)
    centre = fr.origin + fr.axes[1] * (-0.55 * fr.scale)
    return centre, fr.axes[2], fr.axes[1], 3.0 * fr.scale


class FrontalCamera:
    """A temporary camera + lights looking at ``obj``'s face; use as a context manager."""

    def __init__(self, obj, size: int = 384, samples: int = 4, margin: float = 1.0):
        self.obj, self.size, self.samples, self.margin = obj, size, samples, margin
        self._made = []

    def __enter__(self):
        scene = bpy.context.scene
        self._saved = dict(camera=scene.camera, engine=scene.render.engine,
                           rx=scene.render.resolution_x, ry=scene.render.resolution_y,
                           pct=scene.render.resolution_percentage, world=scene.world,
                           fmt=scene.render.image_settings.file_format)
        centre, fwd, up, height = _face_view(self.obj)
        cam_data = bpy.data.cameras.new(_TMP)
        cam_data.type = "ORTHO"
        cam_data.ortho_scale = height * self.margin
        cam = bpy.data.objects.new(_TMP, cam_data)
        scene.collection.objects.link(cam)
        dist = height * 3
        loc = centre + fwd * dist
        z = fwd / np.linalg.norm(fwd)  # camera looks down its -Z
        y = up - z * (up @ z)
        y /= np.linalg.norm(y)
        x = np.cross(y, z)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, loc
        cam.matrix_world = Matrix(m.tolist())
        cam_data.clip_end = dist * 4
        self._made += [cam, cam_data]
        light_data = bpy.data.lights.new(_TMP, "SUN")
        light_data.energy = 3.0
        light_data.angle = 0.3
        light = bpy.data.objects.new(_TMP + "_key", light_data)
        scene.collection.objects.link(light)
        ld = fwd * 1.0 + up * 0.6 + x * 0.35
        lz = ld / np.linalg.norm(ld)
        ly = up - lz * (up @ lz)
        ly /= np.linalg.norm(ly)
        lx = np.cross(ly, lz)
        lm = np.eye(4)
        lm[:3, 0], lm[:3, 1], lm[:3, 2], lm[:3, 3] = lx, ly, lz, centre + ld * dist
        light.matrix_world = Matrix(lm.tolist())
        self._made += [light, light_data]
        world = bpy.data.worlds.new(_TMP)
        world.use_nodes = True
        bg = world.node_tree.nodes.get("Background")
        bg.inputs[0].default_value = (0.55, 0.55, 0.58, 1.0)
        bg.inputs[1].default_value = 1.0
        self._made.append(world)
        scene.world = world
        scene.camera = cam
        scene.render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = self.samples
        scene.cycles.use_denoising = False
        scene.render.resolution_x = scene.render.resolution_y = self.size
        scene.render.resolution_percentage = 100
        scene.render.image_settings.file_format = "PNG"
        # Opaque surfaces: some imports (OBJ "illum 4") come in as glass.
        self._mats = []
        for slot in self.obj.material_slots:
            mat = slot.material
            if mat is None or not mat.use_nodes:
                continue
            for node in mat.node_tree.nodes:
                if node.type == "BSDF_PRINCIPLED":
                    for key, value in (("Transmission Weight", 0.0), ("Alpha", 1.0)):
                        sock = node.inputs.get(key)
                        if sock is not None and not sock.is_linked and sock.default_value != value:
                            self._mats.append((sock, sock.default_value))
                            sock.default_value = value
        self.hidden = []
        for o in scene.objects:
            if o.type == "MESH" and o is not self.obj and not o.hide_render:
                o.hide_render = True
                self.hidden.append(o)
        return self

    def render(self) -> np.ndarray:
        """(size, size, 3) uint8 RGB."""
        scene = bpy.context.scene
        fd, path = tempfile.mkstemp(suffix=".png", prefix="faceforge_")
        os.close(fd)
        try:
            scene.render.filepath = path
            bpy.ops.render.render(write_still=True)
            img = bpy.data.images.load(path, check_existing=False)
            try:
                w, h = img.size
                px = np.empty(w * h * 4, np.float32)
                img.pixels.foreach_get(px)
            finally:
                bpy.data.images.remove(img)
        finally:
            os.unlink(path)
        px = px.reshape(h, w, 4)[::-1, :, :3]
        return (np.clip(px, 0, 1) ** (1 / 1.0) * 255 + 0.5).astype(np.uint8)

    def __exit__(self, *exc):
        scene = bpy.context.scene
        s = self._saved
        scene.camera = s["camera"]
        scene.render.engine = s["engine"]
        scene.render.resolution_x, scene.render.resolution_y = s["rx"], s["ry"]
        scene.render.resolution_percentage = s["pct"]
        scene.render.image_settings.file_format = s["fmt"]
        scene.world = s["world"]
        for o in self.hidden:
            o.hide_render = False
        for sock, value in self._mats:
            sock.default_value = value
        for block in self._made:
            if isinstance(block, bpy.types.Object):
                bpy.data.objects.remove(block)
        for block in self._made:
            if isinstance(block, bpy.types.Camera):
                bpy.data.cameras.remove(block)
            elif isinstance(block, bpy.types.Light):
                bpy.data.lights.remove(block)
            elif isinstance(block, bpy.types.World):
                bpy.data.worlds.remove(block)
        return False


class ShapePose:
    """Set shape-key values for a render, restore them afterwards."""

    def __init__(self, obj, weights: dict[str, float]):
        self.obj, self.weights = obj, weights

    def __enter__(self):
        keys = self.obj.data.shape_keys.key_blocks if self.obj.data.shape_keys else []
        self.saved = {kb.name: kb.value for kb in keys}
        for kb in keys:
            kb.value = self.weights.get(kb.name, 0.0)
        return self

    def __exit__(self, *exc):
        keys = self.obj.data.shape_keys.key_blocks if self.obj.data.shape_keys else []
        for kb in keys:
            if kb.name in self.saved:
                kb.value = self.saved[kb.name]
        return False


def render_shapes(obj, names, size: int = 256, samples: int = 4, weight: float = 1.0, margin: float = 1.0):
    """Yield ``(name, image)`` for the neutral (name ``"neutral"``) and each shape at ``weight``."""
    with FrontalCamera(obj, size=size, samples=samples, margin=margin) as cam:
        for name in names:
            with ShapePose(obj, {} if name == "neutral" else {name: weight}):
                yield name, cam.render()
