"""A 3D face mask from one photo's 478 MediaPipe landmarks (pure).

Used to make the landmark template (``scripts/make_face_template.py``) and, in the tests, a
small open mesh made from a photo.  ``faceforge.face_from_photo`` builds a whole head from the
face model instead (``facemodel.photo``, ``facemodel.texture``, ``api.photo_face``).

Shapes: ``points`` (478, 3) MediaPipe pixels (x right, y down, z toward the
camera negative); returns vertices (478, 3) in metres in Blender's frame (the
face looks down -Y, +Z up, subject's left at +X), triangles (T, 3) and UVs
(478, 2) into the photo.  Vertex i is landmark i.

The triangulation is made here, not shipped: a Delaunay triangulation of the
frontalised 2D landmarks, with the mouth opening cut out (so the jaw can open
it) and slivers along the face outline removed.  The eyes stay closed
surfaces that include the iris points, so the photo's eyes show and move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import regions as R

# Landmark rings (MediaPipe indices).
# The mouth opening as a closed ring: lower inner lip corner to corner, back along the upper.
INNER_LIPS = R.LOWER_LIP_INNER + R.UPPER_LIP_INNER[-2:0:-1]
EYE_CENTRE_RIGHT = (33, 133)
EYE_CENTRE_LEFT = (263, 362)
AVERAGE_IOD_M = 0.063  # adult distance between the eye centres, metres


@dataclass
class PhotoFace:
    verts: np.ndarray  # (478, 3) float64, metres, Blender frame
    tris: np.ndarray  # (T, 3) int32
    uvs: np.ndarray  # (478, 2) float64 in [0, 1] (v up)
    scale_m_per_px: float


def _inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Which points (N, 2) lie strictly inside the polygon (K, 2)."""
    import cv2

    contour = np.asarray(poly, np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) > 0 for x, y in pts], bool)


def triangulate(points2d: np.ndarray) -> np.ndarray:
    """Triangles (T, 3) over the frontal 2D landmarks (478, 2) (x right, y up)."""
    from scipy.spatial import Delaunay

    tri = Delaunay(points2d).simplices.astype(np.int32)
    cent = points2d[tri].mean(axis=1)
    keep = ~_inside(points2d[list(INNER_LIPS)], cent)  # the mouth opens
    lips = set(INNER_LIPS)
    keep &= ~np.array([set(t) <= lips for t in tri.tolist()])
    # Remove slivers on the concave parts of the outline: long edges.
    e = np.linalg.norm(points2d[tri] - points2d[np.roll(tri, 1, axis=1)], axis=2)
    keep &= e.max(axis=1) < 4.0 * np.median(e)
    # Remove near-degenerate boundary triangles (area ~ 0).
    a, b, c = points2d[tri[:, 0]], points2d[tri[:, 1]], points2d[tri[:, 2]]
    area = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    keep &= area > 1e-3 * np.median(area)
    return tri[keep]


def build_photo_face(points: np.ndarray, image_size: tuple[int, int],
                     iod_m: float = AVERAGE_IOD_M) -> PhotoFace:
    """Mesh arrays from MediaPipe points (478, 3) of a photo of ``image_size`` (w, h)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (478, 3):
        raise ValueError(f"expected (478, 3) landmarks, got {points.shape}")
    w, h = image_size
    p = points * np.array([1.0, -1.0, -1.0])  # MediaPipe's pixels made right-handed: y up, z toward the camera
    rot = R.face_frame(p).axes  # rows: the face's left, up and forward
    centre = (p[list(EYE_CENTRE_RIGHT)].mean(0) + p[list(EYE_CENTRE_LEFT)].mean(0)) / 2
    local = (p - centre) @ rot.T  # x to the face's left, y up, z forward
    iod_px = np.linalg.norm(local[list(EYE_CENTRE_LEFT)].mean(0) - local[list(EYE_CENTRE_RIGHT)].mean(0))
    s = iod_m / iod_px
    # Blender: the face looks down -Y, up is +Z, the subject's left is +X.
    verts = np.stack([local[:, 0], -local[:, 2], local[:, 1]], axis=1) * s
    tris = triangulate(local[:, :2])
    # Blender wants counter-clockwise seen from the front (from -Y): fix winding.
    a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    normal_y = np.cross(b - a, c - a)[:, 1]
    flip = normal_y > 0
    tris[flip] = tris[flip][:, [0, 2, 1]]
    uvs = np.stack([points[:, 0] / w, 1.0 - points[:, 1] / h], axis=1)
    return PhotoFace(verts=verts, tris=tris, uvs=uvs, scale_m_per_px=float(s))
