"""Face from photo: a textured 3D face mesh from one image, landmarks already bound."""

from __future__ import annotations

import os

import numpy as np

import bpy

from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..rigging.photo_face import build_photo_face
from ..rigging.binding import Binding
from .binding import write_binding


def read_image(path: str) -> np.ndarray:
    """RGB uint8 (H, W, 3) from an image file, with a clear error if unreadable."""
    import cv2

    path = os.path.abspath(bpy.path.abspath(path)) if path else ""
    if not path or not os.path.isfile(path):
        raise FaceForgeError(f"Photo not found: {path or '(no file chosen)'}")
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FaceForgeError(f"Can't read {os.path.basename(path)} as an image (is it a JPEG/PNG photo?)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _detect(rgb):
    from ..inference.face_mesh import FaceMeshDetector

    with FaceMeshDetector(video=False, max_faces=4, min_confidence=0.5) as det:
        return det.detect(rgb)


def face_from_photo_job(image_path: str, name: str = "PhotoFace", collection=None):
    """Build the face mesh from a photo; returns a summary with the new object."""
    yield Progress(0.0, "reading the photo")
    rgb = read_image(image_path)
    yield Progress(0.1, "finding the face")
    face = yield Offload(_detect, (rgb,))
    if face is None:
        raise FaceForgeError(f"No face found in {os.path.basename(image_path)}: use a clear, "
                             "front-facing photo of one face")
    yield Progress(0.6, "building the mesh")
    pf = build_photo_face(face.points, face.image_size)
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(pf.verts))
    mesh.vertices.foreach_set("co", pf.verts.astype(np.float32).ravel())
    n_tris = len(pf.tris)
    mesh.loops.add(n_tris * 3)
    mesh.polygons.add(n_tris)
    mesh.loops.foreach_set("vertex_index", pf.tris.astype(np.int32).ravel())
    mesh.polygons.foreach_set("loop_start", np.arange(0, n_tris * 3, 3, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(n_tris, 3, dtype=np.int32))
    mesh.update(calc_edges=True)
    mesh.validate()
    uv = mesh.uv_layers.new(name="Photo")
    uv.data.foreach_set("uv", pf.uvs[pf.tris.ravel()].astype(np.float32).ravel())
    mesh.polygons.foreach_set("use_smooth", np.ones(n_tris, dtype=bool))
    mesh.materials.append(_photo_material(name, image_path))
    obj = bpy.data.objects.new(name, mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)
    ident = np.arange(len(pf.verts), dtype=np.int32)
    bary = np.zeros((len(ident), 3))
    bary[:, 0] = 1.0
    write_binding(obj, Binding(np.stack([ident] * 3, axis=1), bary, np.full(len(ident), face.score)),
                  source="PHOTO", score=face.score, view_axis="-Y")
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    yield Progress(1.0, "done")
    note = f"{face.num_faces} faces in the photo: used the largest" if face.num_faces > 1 else ""
    return {"object": obj.name, "vertices": len(pf.verts), "triangles": n_tris, "score": face.score,
            "faces_in_photo": face.num_faces, "note": note}


def _photo_material(name, image_path):
    mat = bpy.data.materials.new(f"{name}_photo")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    bsdf = nodes.get("Principled BSDF")
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(os.path.abspath(bpy.path.abspath(image_path)), check_existing=True)
    tex.image.pack()  # the .blend keeps the photo
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    if "Roughness" in bsdf.inputs:
        bsdf.inputs["Roughness"].default_value = 0.7
    return mat


def face_from_photo(image_path: str, **kwargs):
    return run_sync(face_from_photo_job(image_path, **kwargs))
