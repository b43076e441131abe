"""MediaPipe Face Mesh landmark groups, the left/right mirror map and the face-local frame.

Landmark indices follow MediaPipe Face Mesh (478 points with irises).  "Left"
is always the *subject's* left (ARKit convention), which is MediaPipe's
"LEFT_*" sets (+x in the canonical face model).

Face-local frame (:class:`FaceFrame`): origin between the eye centres, ``x``
along the eye line toward the subject's left, ``y`` up (chin -> forehead,
made orthogonal to ``x``), ``z = x cross y`` forward (out of the face); the
unit is the inter-ocular distance (IOD, between the eye centres).  Every
expression in :mod:`rigging.shape_library` is written in this frame, so it
adapts to any face's size, proportions and placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 478

# --- lips (contours run from the subject's right corner to the left corner) --
LIP_CORNER_RIGHT, LIP_CORNER_LEFT = 61, 291          # outer contour corners
LIP_INNER_CORNER_RIGHT, LIP_INNER_CORNER_LEFT = 78, 308
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LOWER_LIP_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_LIP_MID_INNER, LOWER_LIP_MID_INNER = 13, 14
UPPER_LIP_MID_OUTER, LOWER_LIP_MID_OUTER = 0, 17

# --- eyes (margins run from the outer corner to the inner corner) ----------
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_OUTER_LEFT, EYE_INNER_LEFT = 263, 362
EYE_OUTER_RIGHT, EYE_INNER_RIGHT = 33, 133
IRIS_LEFT = (473, 474, 475, 476, 477)   # centre first
IRIS_RIGHT = (468, 469, 470, 471, 472)

# --- brows (inner -> outer) --------------------------------------------------
BROW_LEFT = (336, 296, 334, 293, 300, 285, 295, 282, 283, 276)
BROW_RIGHT = (107, 66, 105, 63, 70, 55, 65, 52, 53, 46)
BROW_INNER_LEFT, BROW_OUTER_LEFT = 336, 300
BROW_INNER_RIGHT, BROW_OUTER_RIGHT = 107, 70

# --- nose, cheeks, chin, outline ---------------------------------------------
NOSE_TIP, NOSE_BRIDGE = 1, 168
NOSE_WING_LEFT, NOSE_WING_RIGHT = 358, 129
CHEEK_LEFT, CHEEK_RIGHT = 425, 205            # the apple of the cheek
CHIN, CHIN_TOP = 152, 17
FOREHEAD = 10
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
# The iBUG/Multi-PIE 68 points as Face Mesh landmarks (approximate equivalents).
IBUG68 = (162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
          70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
          168, 197, 5, 4, 75, 97, 2, 326, 305,
          33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
          61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87)

# Landmark i mirrors to MIRROR[i] (exact for the canonical face model, which is symmetric).
MIRROR = np.array([
    0, 1, 2, 248, 4, 5, 6, 249, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 250, 251, 252,
    253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270,
    271, 272, 273, 274, 275, 276, 277, 278, 279, 280, 281, 282, 283, 284, 285, 286, 287, 288,
    289, 290, 291, 292, 293, 294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305, 306,
    307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322, 323, 94,
    324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 336, 337, 338, 339, 340, 341,
    342, 343, 344, 345, 346, 347, 348, 349, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359,
    360, 361, 362, 363, 364, 365, 366, 367, 368, 369, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 379, 151, 152, 380, 381, 382, 383, 384, 385, 386, 387, 388, 389, 390, 164, 391, 392,
    393, 168, 394, 395, 396, 397, 398, 399, 175, 400, 401, 402, 403, 404, 405, 406, 407, 408,
    409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 195, 419, 197, 420, 199, 200, 421, 422,
    423, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434, 435, 436, 437, 438, 439, 440,
    441, 442, 443, 444, 445, 446, 447, 448, 449, 450, 451, 452, 453, 454, 455, 456, 457, 458,
    459, 460, 461, 462, 463, 464, 465, 466, 467, 3, 7, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
    30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75,
    76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 95, 96, 97, 98, 99,
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117,
    118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135,
    136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 153, 154, 155,
    156, 157, 158, 159, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 173, 174, 176,
    177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194,
    196, 198, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216,
    217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 473, 476, 475, 474, 477,
    468, 471, 470, 469, 472
], dtype=np.int64)
assert MIRROR.shape == (NUM_LANDMARKS,) and (MIRROR[MIRROR] == np.arange(NUM_LANDMARKS)).all()


@dataclass
class FaceFrame:
    """Face-local frame: ``local = (p - origin) @ axes.T / scale``.

    ``axes`` rows are x (subject's left), y (up), z (forward), orthonormal.
    """

    origin: np.ndarray  # (3,)
    axes: np.ndarray  # (3, 3)
    scale: float  # inter-ocular distance, mesh units

    def to_local(self, p: np.ndarray) -> np.ndarray:
        return (np.asarray(p, dtype=np.float64) - self.origin) @ self.axes.T / self.scale

    def vec_to_world(self, d: np.ndarray) -> np.ndarray:
        """Displacements in IOD units (local axes) -> mesh units."""
        return np.asarray(d, dtype=np.float64) @ self.axes * self.scale

    def to_world(self, q: np.ndarray) -> np.ndarray:
        return self.vec_to_world(q) + self.origin


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye-opening centres: the mean of each eye's margin points."""
    left = lm[list(EYE_LEFT_UPPER) + list(EYE_LEFT_LOWER)].mean(axis=0)
    right = lm[list(EYE_RIGHT_UPPER) + list(EYE_RIGHT_LOWER)].mean(axis=0)
    return left, right


def face_frame(lm: np.ndarray) -> FaceFrame:
    """The face-local frame of 478 (or 468) landmark positions (L, 3)."""
    lm = np.asarray(lm, dtype=np.float64)
    left, right = eye_centres(lm)
    x = left - right
    scale = float(np.linalg.norm(x))
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError("degenerate landmarks: the eyes coincide")
    x /= scale
    up = lm[FOREHEAD] - lm[CHIN]
    y = up - x * (up @ x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return FaceFrame(origin=(left + right) / 2, axes=np.stack([x, y, z]), scale=scale)


def mirror_landmarks(lm_local: np.ndarray) -> np.ndarray:
    """Mirror local-frame landmarks (or displacements) left <-> right: flip x, swap twins."""
    out = np.asarray(lm_local, dtype=np.float64)[MIRROR].copy()
    out[:, 0] *= -1
    return out
