"""Head pose vs expression: rigid similarity alignment of MediaPipe landmarks.

Frames
------
* **image**: MediaPipe pixels, x right, y down, z toward the camera negative.
* **camera** (:func:`to_camera_frame`): right-handed, x right, y up, z toward
  the camera - a face looking into the lens faces +z.
* **Blender** for a character looking down -Y (Z up): ``X = x, Y = -z, Z = y``
  (:data:`CAMERA_TO_BLENDER`).  The image's right is the subject's left = +X.

:func:`align` finds, per frame (vectorised), the similarity ``s R p + t`` that
maps the frame's *stable* landmarks (forehead, nose bridge, eye corners,
temples - points the expression barely moves) onto a reference shape; the
aligned landmarks carry the expression only, and ``R`` (its transpose)
is the head's rotation relative to the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Face Mesh landmarks that expressions barely move.
STABLE = np.array([
    10, 151, 9, 8, 168, 6, 197, 195, 5,  # forehead down the nose bridge
    33, 133, 263, 362,  # eye corners
    127, 356, 234, 454, 162, 389, 21, 251,  # temples, cheek sides
    67, 297, 109, 338, 103, 332, 54, 284,  # upper forehead ring
    98, 327, 2,  # under the nose
])

# Regions (Face Mesh indices) for per-region retargeting scale.
LIPS = np.array(sorted({61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270,
                        409, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311,
                        310, 415}))
EYE_RIGHT = np.array([33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246])
EYE_LEFT = np.array([362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398])
BROW_RIGHT = np.array([70, 63, 105, 66, 107, 55, 65, 52, 53, 46])
BROW_LEFT = np.array([300, 293, 334, 296, 336, 285, 295, 282, 283, 276])
REGIONS = {"lips": LIPS, "eye_right": EYE_RIGHT, "eye_left": EYE_LEFT,
           "brow_right": BROW_RIGHT, "brow_left": BROW_LEFT}

# Useful single points (subject's side).
LIP_UPPER_INNER, LIP_LOWER_INNER = 13, 14
MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT = 61, 291
EYE_UPPER_RIGHT, EYE_LOWER_RIGHT = 159, 145
EYE_UPPER_LEFT, EYE_LOWER_LEFT = 386, 374
EYE_OUTER_RIGHT, EYE_INNER_RIGHT, EYE_OUTER_LEFT, EYE_INNER_LEFT = 33, 133, 263, 362
IRIS_RIGHT, IRIS_LEFT = 468, 473

CAMERA_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def to_camera_frame(points: np.ndarray) -> np.ndarray:
    """Image-frame landmarks (..., L, 3) -> camera frame (y up, z toward the camera)."""
    return np.asarray(points, dtype=np.float64) * np.array([1.0, -1.0, -1.0])


def interocular(points: np.ndarray) -> np.ndarray:
    """Distance between the eye centres (corner midpoints), for (..., L, 3) -> (...)."""
    left = (points[..., EYE_OUTER_LEFT, :] + points[..., EYE_INNER_LEFT, :]) / 2
    right = (points[..., EYE_OUTER_RIGHT, :] + points[..., EYE_INNER_RIGHT, :]) / 2
    return np.linalg.norm(left - right, axis=-1)


@dataclass
class Similarity:
    """``dst ≈ scale * (rotation @ src) + translation``, batched: (F,), (F,3,3), (F,3)."""
    scale: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(F, L, 3) -> (F, L, 3)."""
        m = self.scale[:, None, None] * np.transpose(self.rotation, (0, 2, 1))
        return np.matmul(points, m) + self.translation[:, None, :]


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> Similarity:
    """Umeyama least-squares similarity mapping ``src`` onto ``dst``, per frame.

    src: (F, n, 3) or (n, 3); dst: (F, n, 3) or (n, 3); weights: (n,) or None.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim == 2:
        src = src[None]
    if dst.ndim == 2:
        dst = dst[None]
    f = max(len(src), len(dst))
    src = np.broadcast_to(src, (f,) + src.shape[1:])
    dst = np.broadcast_to(dst, (f,) + dst.shape[1:])
    n = src.shape[1]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = np.einsum("n,fnd->fd", w, src)
    mu_d = np.einsum("n,fnd->fd", w, dst)
    xs = src - mu_s[:, None]
    xd = dst - mu_d[:, None]
    cov = np.einsum("n,fni,fnj->fij", w, xd, xs)
    u, sv, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d[d == 0] = 1.0
    dm = np.ones((f, 3))
    dm[:, 2] = d
    rot = np.einsum("fij,fj,fjk->fik", u, dm, vt)
    var_s = np.einsum("n,fnd->f", w, xs * xs)
    scale = (sv * dm).sum(axis=1) / np.maximum(var_s, 1e-12)
    trans = mu_d - scale[:, None] * np.einsum("fij,fj->fi", rot, mu_s)
    return Similarity(scale, rot, trans)


@dataclass
class Aligned:
    points: np.ndarray  # (F, L, 3) expression-only landmarks in the reference frame
    head_rotation: np.ndarray  # (F, 3, 3) head rotation relative to the reference (camera frame)
    head_translation: np.ndarray  # (F, 3) head position in the camera frame (reference units)
    head_scale: np.ndarray  # (F,) apparent size relative to the reference (distance cue)


def align(points: np.ndarray, reference: np.ndarray, stable: np.ndarray = STABLE) -> Aligned:
    """Remove each frame's rigid head motion.

    points: (F, L, 3) camera frame; reference: (L, 3) camera frame.  Returns
    the landmarks mapped onto the reference by a similarity fitted on the
    ``stable`` landmarks, and the head's rotation relative to the reference.
    """
    sim = similarity(points[:, stable], reference[stable])
    aligned = sim.apply(points)
    head_rot = np.transpose(sim.rotation, (0, 2, 1))
    # Where the reference's centre lands in each frame (inverse transform of the reference centre).
    c = reference[stable].mean(axis=0)
    head_t = np.einsum("fij,fj->fi", head_rot, c[None] - sim.translation) / sim.scale[:, None]
    return Aligned(aligned, head_rot, head_t, 1.0 / sim.scale)


def normalise(shape: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Centre a (L, 3) shape on its stable points and scale it to unit inter-ocular distance.

    Returns (normalised shape, scale applied, centre removed).
    """
    centre = shape[STABLE].mean(axis=0)
    iod = float(interocular(shape))
    if not np.isfinite(iod) or iod <= 1e-9:
        raise ValueError("degenerate face shape (zero inter-ocular distance)")
    return (shape - centre) / iod, 1.0 / iod, centre


def camera_rotation_to_blender(rot: np.ndarray) -> np.ndarray:
    """Head rotations (F, 3, 3) in the camera frame -> Blender frame of a face looking down -Y."""
    c = CAMERA_TO_BLENDER
    return np.einsum("ij,fjk,lk->fil", c, rot, c)


def eye_gaze(aligned: np.ndarray, neutral: np.ndarray | None = None, gain: float = 2.5) -> np.ndarray:
    """Eye rotations from the irises: (F, L>=478, 3) -> (F, 2, 2) [eye (left, right), (yaw, pitch)] radians.

    Iris offset from the eye-corner midpoint, in eye widths, relative to the
    ``neutral`` shape's offsets, mapped through arcsin (eyeball radius ≈ 0.4
    eye widths).  Positive yaw = looking toward the subject's left (+X),
    positive pitch = looking up.
    """
    if aligned.shape[1] < 478:
        return np.zeros((len(aligned), 2, 2))

    def offsets(p):
        out = []
        for iris, a, b in ((IRIS_LEFT, EYE_OUTER_LEFT, EYE_INNER_LEFT),
                           (IRIS_RIGHT, EYE_OUTER_RIGHT, EYE_INNER_RIGHT)):
            mid = (p[..., a, :] + p[..., b, :]) / 2
            width = np.linalg.norm(p[..., a, :2] - p[..., b, :2], axis=-1)
            out.append((p[..., iris, :2] - mid[..., :2]) / np.maximum(width, 1e-9)[..., None])
        return np.stack(out, axis=-2)  # (..., 2, 2)

    off = offsets(aligned)
    if neutral is not None:
        off = off - offsets(neutral)[None]
    return np.arcsin(np.clip(off * gain, -0.95, 0.95))


def matrix_to_rotvec(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices (F, 3, 3) -> rotation vectors (F, 3) (axis * angle), numpy only."""
    rot = np.asarray(rot, dtype=np.float64)
    cos = np.clip((np.trace(rot, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    axis = np.stack([rot[:, 2, 1] - rot[:, 1, 2], rot[:, 0, 2] - rot[:, 2, 0], rot[:, 1, 0] - rot[:, 0, 1]], axis=1)
    sin = np.sin(angle)
    out = np.empty_like(axis)
    small = sin < 1e-6
    out[~small] = axis[~small] * (angle[~small] / (2.0 * sin[~small]))[:, None]
    out[small] = axis[small] / 2.0  # angle ~ 0: R - R^T ~ 2 [v]x
    near_pi = small & (cos < 0)
    if near_pi.any():  # angle ~ pi: axis from the symmetric part
        for i in np.flatnonzero(near_pi):
            w, v = np.linalg.eigh((rot[i] + rot[i].T) / 2.0)
            out[i] = v[:, np.argmax(w)] * np.pi
    return out


def rotvec_to_matrix(rv: np.ndarray) -> np.ndarray:
    """Rotation vectors (F, 3) -> matrices (F, 3, 3) (Rodrigues)."""
    rv = np.asarray(rv, dtype=np.float64)
    angle = np.linalg.norm(rv, axis=1)
    axis = rv / np.maximum(angle, 1e-12)[:, None]
    k = np.zeros((len(rv), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = axis[:, 2], -axis[:, 1], axis[:, 0]
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * k + (1 - c) * (k @ k)
