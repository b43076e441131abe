"""Test helper (no tests here): render the fixture face with Cycles (CPU) so MediaPipe can see it.

Paints the canonical face with vertex colours (skin, dark eyes and brows, red
lips) so the detector finds a face, and frames it with a camera looking down
the face's forward axis.
"""

from __future__ import annotations

import numpy as np

import bpy

EYE_RIGHT = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
EYE_LEFT = [362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409]
BROWS = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276]


def _paint(obj):
    mesh = obj.data
    n = len(mesh.vertices)
    col = np.tile([0.80, 0.58, 0.47, 1.0], (n, 1))
    col[LIPS_OUTER + LIPS_INNER] = [0.55, 0.18, 0.18, 1.0]
    col[BROWS] = [0.12, 0.07, 0.05, 1.0]
    col[EYE_LEFT + EYE_RIGHT] = [0.06, 0.04, 0.03, 1.0]  # dark almond eyes: a blink closes them
    attr = mesh.color_attributes.get("ff_paint") or mesh.color_attributes.new("ff_paint", "FLOAT_COLOR", "POINT")
    attr.data.foreach_set("color", col.astype(np.float32).reshape(-1))
    mat = bpy.data.materials.new("ff_skin")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    bsdf = nodes["Principled BSDF"]
    node = nodes.new("ShaderNodeAttribute")
    node.attribute_name = "ff_paint"
    mat.node_tree.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.6
    mesh.materials.clear()
    mesh.materials.append(mat)


def _iris_disks(obj):
    """Dark discs behind the eye openings (irises), parented to the face."""
    from faceforge.api.mesh import vertex_coords

    v = vertex_coords(obj.data)
    made = []
    for ids in (EYE_LEFT, EYE_RIGHT):
        c = v[ids].mean(axis=0)
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.55, location=(c[0], c[1], c[2] - 0.35), segments=16,
                                             ring_count=8)
        s = bpy.context.active_object
        s.parent = obj
        s.matrix_parent_inverse.identity()
        s.location = (c[0], c[1], c[2] - 0.35)
        m = bpy.data.materials.new("ff_iris")
        m.use_nodes = True
        m.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.05, 0.03, 0.02, 1)
        s.data.materials.append(m)
        made.append(s)
    return made


def prepare_render(obj, size: int = 320):
    """Camera, light and paint for renders of ``obj`` (the canonical face, local y up, looking +z)."""
    scene = bpy.context.scene
    _paint(obj)
    m = np.array(obj.matrix_world)
    centre = m[:3, :3] @ np.array([0.0, 0.0, 4.0]) + m[:3, 3]
    forward = m[:3, :3] @ np.array([0.0, 0.0, 1.0])
    up = m[:3, :3] @ np.array([0.0, 1.0, 0.0])
    cam_data = bpy.data.cameras.new("ff_cam")
    cam_data.lens = 50
    cam = bpy.data.objects.new("ff_cam", cam_data)
    scene.collection.objects.link(cam)
    pos = centre + forward * 38.0
    z = forward / np.linalg.norm(forward)  # camera looks down its -Z
    y = up / np.linalg.norm(up)
    x = np.cross(y, z)
    mat = np.eye(4)
    mat[:3, 0], mat[:3, 1], mat[:3, 2], mat[:3, 3] = x, y, z, pos
    from mathutils import Matrix

    cam.matrix_world = Matrix(mat.tolist())
    cam_data.clip_end = 1000
    scene.camera = cam
    light_data = bpy.data.lights.new("ff_key", "SUN")
    light_data.energy = 3.0
    light = bpy.data.objects.new("ff_key", light_data)
    scene.collection.objects.link(light)
    light.matrix_world = cam.matrix_world
    world = scene.world or bpy.data.worlds.new("ff_world")
    scene.world = world
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.35, 0.38, 0.42, 1)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.8
    scene.render.use_sequencer = False  # render the 3D scene even if a reference strip is there
    scene.render.use_compositing = False
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    return cam


def render(path: str) -> str:
    bpy.context.scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    return path
