"""Landmarks bound to a mesh surface, stored on the object.

A binding is, per landmark, a triangle (three vertex indices) and barycentric
weights on it, plus a confidence - not world positions - so the landmarks
follow the mesh (edits, shape keys, transforms).  Stored in
``obj.faceforge.landmarks`` (see ``properties/landmarks.py``).

Shapes: ``verts`` (L, 3) int32, ``bary`` (L, 3) float64 (rows sum to 1),
``confidence`` (L,) float64.  L is 478 for MediaPipe Face Mesh.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import FaceForgeError
from ..rigging.binding import Binding
from .mesh import vertex_coords


def has_binding(obj) -> bool:
    return obj is not None and obj.type == "MESH" and len(obj.faceforge.landmarks.points) > 0


def read_binding(obj) -> Binding:
    pts = obj.faceforge.landmarks.points
    n = len(pts)
    if n == 0:
        raise FaceForgeError(f"'{obj.name}' has no landmarks yet: run Detect Landmarks (or Face from Photo) first")
    verts = np.empty(n * 3, dtype=np.int32)
    bary = np.empty(n * 3, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    pts.foreach_get("verts", verts)
    pts.foreach_get("bary", bary)
    pts.foreach_get("confidence", conf)
    b = Binding(verts.reshape(n, 3), bary.reshape(n, 3).astype(np.float64), conf.astype(np.float64))
    if b.verts.max() >= len(obj.data.vertices):
        raise FaceForgeError(f"'{obj.name}' changed topology since its landmarks were found: detect them again")
    return b


def write_binding(obj, binding: Binding, source: str, score: float = 1.0, view_axis: str = "",
                  symmetric: bool = False) -> None:
    """Replace the object's landmarks with ``binding`` (``symmetric``: they were made
    symmetric on a mirror-symmetric mesh)."""
    lm = obj.faceforge.landmarks
    pts = lm.points
    pts.clear()
    n = len(binding.verts)
    for _ in range(n):
        pts.add()
    pts.foreach_set("verts", np.ascontiguousarray(binding.verts, dtype=np.int32).reshape(-1))
    pts.foreach_set("bary", np.ascontiguousarray(binding.bary, dtype=np.float32).reshape(-1))
    pts.foreach_set("confidence", np.ascontiguousarray(binding.confidence, dtype=np.float32).reshape(-1))
    lm.source = source
    lm.score = float(score)
    lm.view_axis = view_axis
    lm.symmetric = bool(symmetric)


def landmark_positions(obj, coords: np.ndarray | None = None, world: bool = False) -> np.ndarray:
    """(L, 3) landmark positions on the base mesh (or on ``coords``, e.g. a shape key)."""
    b = read_binding(obj)
    if coords is None:
        coords = vertex_coords(obj.data)
    pos = b.positions(coords)
    if world:
        m = np.array(obj.matrix_world, dtype=np.float64)
        pos = pos @ m[:3, :3].T + m[:3, 3]
    return pos
