"""The face model as a Blender object: the one place that turns :mod:`facemodel` into a mesh.

``build_face_object(identity, expression, ...)`` makes a mesh object of the scan-based
head (``facemodel.load_model()``), in metres, facing -Y, Z up, the subject's left +X
(:func:`facemodel.to_blender`).  The object has

* ICT's polygons (quads kept) and per-loop UVs (layer ``UVMap``), smooth shading;
* one vertex group per part (``face``, ``head_neck``, ``mouth_socket``, ``eye_socket_L``...,
  ``eyeball_L`` / ``eyeball_R`` = sclera + iris, ``iris_L`` ...: ``facemodel.model.PARTS``
  and the eyeball groups) - vertex indices are the model's, so any model array indexes it;
* one material slot per look (skin, eyebrows, lips, mouth, gums and tongue, teeth,
  sclera, iris, pupil, eyelashes, clear eye films and corneas), flat colours that
  render in Workbench, EEVEE and Cycles (``FaceModel.polygon_looks``);
* its 478 landmarks already bound (source ``MODEL``: the model's own correspondence);
* optionally the 52 ARKit shape keys for this head (``shape_keys=True``; the eyeLook
  keys turn the eyeballs linearly, see ``FaceModel.shape_deltas``).

With ``texture`` (a :class:`facemodel.texture.PhotoTexture`, the photo head) the skin, brows and
lips share one material with the texture image (packed into the .blend, so FBX/glTF exports
carry it), the UVs are the texture's atlas (:func:`facemodel.texture.atlas_uv`: ICT's face and
head tiles side by side in one image), the irises take the photo's colour (these materials are
the object's own: ``<name> skin``, ``<name> iris``) and the lashes are clear (the photo's lashes
are painted on the lids).

``set_face_vertices(obj, identity, expression)`` re-poses an existing head object (same
topology) in place.  Custom properties: ``faceforge_identity`` (K floats).
"""

from __future__ import annotations

import numpy as np

import bpy

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from ..core.paths import safe_filename
from ..facemodel import texture as photo_texture
from ..facemodel.model import LOOKS, PART_GROUPS, PART_NAMES, load_model, to_blender
from . import compat
from .binding import Binding, write_binding

# Flat colours (linear RGBA) per look; the clear films and corneas are fully transparent.
LOOK_COLOURS = {
    "skin": (0.80, 0.58, 0.47, 1.0), "mouth": (0.35, 0.08, 0.08, 1.0), "gums_tongue": (0.70, 0.25, 0.27, 1.0),
    "teeth": (0.90, 0.88, 0.80, 1.0), "sclera": (0.88, 0.86, 0.83, 1.0), "iris": (0.25, 0.14, 0.07, 1.0),
    "pupil": (0.02, 0.02, 0.02, 1.0), "eyelashes": (0.05, 0.04, 0.03, 0.25), "clear": (1.0, 1.0, 1.0, 0.0),
    "brows": (0.10, 0.07, 0.05, 1.0), "lips": (0.60, 0.30, 0.28, 1.0),
}
VERTEX_GROUPS = PART_NAMES + ("eyeball_L", "eyeball_R")
# wet and glossy parts (by the material name's end); the rest 0.6
ROUGHNESS = (("sclera", 0.2), ("iris", 0.2), ("pupil", 0.2), ("teeth", 0.3), ("gums_tongue", 0.35))


def _material(name: str, rgba, made=None, shared: bool = True) -> "bpy.types.Material":
    """A flat-colour material; ``shared``: the one of that name if it exists.  New ones go to ``made``."""
    mat = bpy.data.materials.get(name) if shared else None
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    if made is not None:
        made.append(mat)
    mat.diffuse_color = rgba  # Workbench's colour
    tree = compat.node_tree(mat)
    bsdf = tree.nodes.get("Principled BSDF") if tree else None
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = rgba
        bsdf.inputs["Alpha"].default_value = rgba[3]
        bsdf.inputs["Roughness"].default_value = next((r for end, r in ROUGHNESS if name.endswith(end)), 0.6)
    if rgba[3] < 1.0:
        if hasattr(mat, "surface_render_method"):
            mat.surface_render_method = "BLENDED"
        if hasattr(mat, "blend_method"):
            mat.blend_method = "BLEND"
    return mat


def _check_lengths(model, identity, expression):
    if identity is not None and len(np.ravel(identity)) > model.n_identity:
        raise FaceForgeError(f"identity has {len(np.ravel(identity))} values; the face model has "
                             f"{model.n_identity} modes")
    if expression is not None and np.shape(expression) != (52,):
        raise FaceForgeError(f"expression must hold the 52 ARKit weights, got shape {np.shape(expression)}")


def build_face_object(identity=None, expression=None, *, name: str = "FaceForge Head", shape_keys: bool = False,
                      landmarks: bool = True, model=None, collection=None, texture=None):
    """A new mesh object of the face model (see the module docstring); returns the object.

    ``identity`` (K,) unit-variance coefficients (None: the average head), ``expression``
    (52,) ARKit weights baked into the base mesh (None: neutral), ``shape_keys``: add Basis
    + the 52 ARKit keys for this identity's head (an ``expression`` stays baked in the Basis),
    ``texture``: a :class:`facemodel.texture.PhotoTexture` for the skin and the irises.
    Nothing is left behind when it fails."""
    model = model or load_model()
    _check_lengths(model, identity, expression)
    made = []
    try:
        return _build(model, identity, expression, name, shape_keys, landmarks, collection, texture, made)
    except BaseException:
        _remove_made(made)
        raise


def _remove_made(made) -> None:
    """Remove Blender data blocks (objects, meshes, materials, images) made for a head, newest first."""
    for block in reversed(made):
        for coll in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.images, bpy.data.actions):
            try:
                if block.name in coll and coll[block.name] == block:
                    coll.remove(block)
                    break
            except ReferenceError:  # already gone with its owner
                break


def remove_head(obj) -> None:
    """Remove a head object, its mesh, and the materials and images only it used."""
    mesh = obj.data
    mats = [m for m in mesh.materials if m is not None]
    images = {n.image for m in mats if m.node_tree for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image}
    bpy.data.objects.remove(obj)
    if mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    for m in mats:
        if m.users == 0 and not m.use_fake_user:
            bpy.data.materials.remove(m)
    for img in images:
        if img.users == 0 and not img.use_fake_user:
            bpy.data.images.remove(img)


def _build(model, identity, expression, name, shape_keys, landmarks, collection, texture, made):
    verts = to_blender(model.evaluate(identity, expression)).astype(np.float32)
    me = bpy.data.meshes.new(name)
    made.append(me)
    me.vertices.add(model.n_vertices)
    me.vertices.foreach_set("co", verts.ravel())
    me.loops.add(len(model.polygon_vertices))
    me.loops.foreach_set("vertex_index", model.polygon_vertices.astype(np.int32))
    me.polygons.add(len(model.polygon_sizes))
    me.polygons.foreach_set("loop_start", model.polygon_starts.astype(np.int32))
    me.polygons.foreach_set("loop_total", model.polygon_sizes.astype(np.int32))
    me.update(calc_edges=True)
    uv = me.uv_layers.new(name="UVMap")
    loop_uv = model.loop_uv if texture is None else photo_texture.atlas_uv(model)
    uv.data.foreach_set("uv", loop_uv.astype(np.float32).ravel())
    me.polygons.foreach_set("use_smooth", np.ones(len(model.polygon_sizes), dtype=bool))
    looks = model.polygon_looks()
    own = _paint(name, texture, made) if texture is not None else {}
    mats, slot_of = [], {}
    for i, look in enumerate(LOOKS):
        if own and not np.any(looks == i):
            continue
        mat = own.get(look) or _material(f"FaceForge_{look}", LOOK_COLOURS[look], made)
        if mat not in mats:
            mats.append(mat)
            me.materials.append(mat)
        slot_of[i] = mats.index(mat)
    slot = np.array([slot_of.get(i, 0) for i in range(len(LOOKS))], np.int32)
    me.polygons.foreach_set("material_index", slot[looks])
    me.update()
    obj = bpy.data.objects.new(name, me)
    made.append(obj)
    (collection or bpy.context.scene.collection).objects.link(obj)
    for group in VERTEX_GROUPS:
        vg = obj.vertex_groups.new(name=group)
        vg.add(model.part(group).tolist(), 1.0, "REPLACE")
    obj["faceforge_identity"] = [float(x) for x in (np.ravel(identity) if identity is not None else [])]
    if landmarks and len(model.landmark_triangles):
        write_binding(obj, Binding(model.landmark_vertices.astype(np.int32), model.landmark_bary,
                                   np.ones(len(model.landmark_triangles))), source="MODEL", score=1.0,
                      view_axis="-Y", symmetric=False)
    if shape_keys:
        add_shape_keys(obj, identity, model=model)
    return obj


def srgb_to_linear(c) -> np.ndarray:
    """sRGB 0..1 -> linear (Blender's colours)."""
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _image(name: str, rgb: np.ndarray, made) -> "bpy.types.Image":
    """A packed sRGB image from (H, W, 3) uint8 (row 0 at the top)."""
    h, w = rgb.shape[:2]
    img = bpy.data.images.new(name, w, h, alpha=False)
    made.append(img)
    px = np.ones((h, w, 4), np.float32)
    px[..., :3] = rgb[::-1].astype(np.float32) / 255.0  # Blender's rows run bottom-up
    img.pixels.foreach_set(px.ravel())
    img.file_format = "PNG"
    img.filepath_raw = f"//{safe_filename(name)}.png"
    img.pack()
    return img


def _paint(name: str, texture, made) -> dict:
    """The photo head's own materials by look: one textured skin that the skin, brows and lips
    share, and the irises in the photo's colour."""
    skin = bpy.data.materials.new(f"{name} skin")
    made.append(skin)
    skin.diffuse_color = tuple(srgb_to_linear(texture.skin)) + (1.0,)
    nodes = compat.node_tree(skin).nodes
    bsdf = nodes.get("Principled BSDF")
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = _image(f"{name} skin", texture.image, made)
    tex.location = (-400, 200)
    if bsdf is not None:
        skin.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.55
    nodes.active = tex
    iris = _material(f"{name} iris", tuple(srgb_to_linear(texture.iris)) + (1.0,), made, shared=False)
    # the photo's lashes are on the skin already: ICT's lash cards would draw a second, heavy fringe
    clear = _material("FaceForge_clear", LOOK_COLOURS["clear"], made)
    return {"skin": skin, "brows": skin, "lips": skin, "iris": iris, "eyelashes": clear}


def add_shape_keys(obj, identity=None, names=ARKIT_NAMES, model=None) -> int:
    """Add (or overwrite) the ARKit shape keys of the face model on a head object it built.
    Returns how many keys were written."""
    from .mesh import ensure_basis

    model = model or load_model()
    if obj.type != "MESH" or len(obj.data.vertices) != model.n_vertices:
        raise FaceForgeError(f"'{obj.name}' is not a face-model head (vertex count differs)")
    ensure_basis(obj)
    base = np.empty(model.n_vertices * 3, np.float32)
    obj.data.shape_keys.key_blocks[0].data.foreach_get("co", base)
    base = base.reshape(-1, 3)
    deltas = model.shape_deltas(identity, names=names)
    keys = obj.data.shape_keys.key_blocks
    for name, d in zip(names, deltas):
        kb = keys.get(name) or compat.new_shape_key(obj, name)  # at 0 on every Blender
        kb.data.foreach_set("co", (base + to_blender(d)).astype(np.float32).ravel())
        kb.slider_min, kb.slider_max = 0.0, 1.0
    obj.data.update()
    return len(names)


def set_face_vertices(obj, identity=None, expression=None, model=None) -> None:
    """Re-pose a head object made by :func:`build_face_object` (its base mesh; shape keys untouched)."""
    model = model or load_model()
    _check_lengths(model, identity, expression)
    if obj.type != "MESH" or len(obj.data.vertices) != model.n_vertices:
        raise FaceForgeError(f"'{obj.name}' is not a face-model head (vertex count differs)")
    verts = to_blender(model.evaluate(identity, expression)).astype(np.float32)
    obj.data.vertices.foreach_set("co", verts.ravel())
    if obj.data.shape_keys is not None:
        obj.data.shape_keys.key_blocks[0].data.foreach_set("co", verts.ravel())
    obj.data.update()


__all__ = ["build_face_object", "add_shape_keys", "set_face_vertices", "remove_head", "srgb_to_linear",
           "VERTEX_GROUPS", "PART_GROUPS"]
