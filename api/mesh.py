"""Mesh data <-> numpy, in bulk (``foreach_get``/``foreach_set``, never per vertex).

Shapes: ``verts`` (N, 3) float64 in the object's local space unless a
``world`` flag says otherwise; ``tris`` (T, 3) int32 vertex indices (Blender's
loop triangulation); ``tri_polys`` (T,) int32 polygon of each triangle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import FaceForgeError
from . import compat


@dataclass
class MeshArrays:
    verts: np.ndarray  # (N, 3) float64
    tris: np.ndarray  # (T, 3) int32
    tri_polys: np.ndarray  # (T,) int32


def require_mesh(obj, what: str = "the face mesh"):
    if obj is None:
        raise FaceForgeError(f"Select {what} first (nothing is selected)")
    if obj.type != "MESH":
        raise FaceForgeError(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select {what}")
    if len(obj.data.vertices) == 0:
        raise FaceForgeError(f"'{obj.name}' has no vertices")
    return obj


def vertex_coords(mesh, world_matrix=None) -> np.ndarray:
    n = len(mesh.vertices)
    co = np.empty(n * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(n, 3).astype(np.float64)
    if world_matrix is not None:
        m = np.array(world_matrix, dtype=np.float64)
        co = co @ m[:3, :3].T + m[:3, 3]
    return co


def triangles(mesh) -> tuple[np.ndarray, np.ndarray]:
    mesh.calc_loop_triangles()
    t = len(mesh.loop_triangles)
    tris = np.empty(t * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", tris)
    polys = np.empty(t, dtype=np.int32)
    mesh.loop_triangles.foreach_get("polygon_index", polys)
    return tris.reshape(t, 3), polys


def mesh_arrays(obj, world: bool = False) -> MeshArrays:
    """The object's base mesh (no modifiers, no shape keys applied)."""
    require_mesh(obj)
    verts = vertex_coords(obj.data, obj.matrix_world if world else None)
    tris, polys = triangles(obj.data)
    return MeshArrays(verts, tris, polys)


# --- shape keys -----------------------------------------------------------

def ensure_basis(obj):
    if obj.data.shape_keys is None:
        compat.new_shape_key(obj, "Basis")
    return obj.data.shape_keys.key_blocks[0]


def shape_key_coords(obj, name: str) -> np.ndarray:
    kb = obj.data.shape_keys.key_blocks[name]
    n = len(kb.data)
    co = np.empty(n * 3, dtype=np.float32)
    kb.data.foreach_get("co", co)
    return co.reshape(n, 3).astype(np.float64)


def set_shape_key(obj, name: str, coords: np.ndarray):
    """Create or overwrite shape key ``name`` with absolute local coordinates (N, 3)."""
    ensure_basis(obj)
    keys = obj.data.shape_keys.key_blocks
    kb = keys.get(name) or compat.new_shape_key(obj, name)
    coords = np.asarray(coords, dtype=np.float32).reshape(-1)
    if coords.size != len(kb.data) * 3:
        raise ValueError(f"shape key {name}: expected {len(kb.data)} x 3 coordinates, got {coords.size}")
    kb.data.foreach_set("co", coords)
    obj.data.update()
    return kb
