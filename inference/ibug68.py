"""MediaPipe Face Mesh index for each of the 68 iBUG / Multi-PIE landmarks.

The widely used correspondence (0-based iBUG order): jaw line 0-16 (from the
subject's right ear to the left), brows 17-26, nose bridge 27-30, nostrils
31-35, eyes 36-47 (36 = subject's right outer corner, 45 = left outer
corner), outer lips 48-59, inner lips 60-67.  MediaPipe has no points
exactly on the jaw's silhouette: 0-16 use the face-oval points nearest to
iBUG's definition, so the jaw is the least exact group.

Used to compare our placement with meshes that come with iBUG ground truth
(the ICT head) and to import/export 68-point data.
"""

MP_FOR_IBUG68: tuple[int, ...] = (
    # jaw 0-16
    127, 234, 93, 132, 58, 172, 136, 150, 152, 379, 365, 397, 288, 361, 323, 454, 356,
    # right brow 17-21, left brow 22-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30, nostrils 31-35
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # right eye 36-41, left eye 42-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips 48-59
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner lips 60-67
    78, 82, 13, 312, 308, 317, 14, 87,
)
assert len(MP_FOR_IBUG68) == 68

IBUG_OUTER_EYE_RIGHT, IBUG_OUTER_EYE_LEFT = 36, 45

import numpy as np  # noqa: E402

# MediaPipe's face-oval points from the subject's right temple, down round the
# chin (152) and up to the left temple.
FACE_OVAL_RIGHT_TO_LEFT: tuple[int, ...] = (
    127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152,
    377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356,
)


def ibug68_from_mediapipe(points: np.ndarray) -> np.ndarray:
    """The 68 iBUG points (68, D) from MediaPipe's (478, D) points.

    iBUG's jaw points 0-16 are spaced evenly along the jaw contour; MediaPipe's
    face-oval points are not spaced the same way, so the jaw is resampled at
    17 even arc-length steps along the oval polyline (from the temple to the
    chin to the other temple).  The other 51 points use ``MP_FOR_IBUG68``.
    """
    points = np.asarray(points, dtype=np.float64)
    out = points[list(MP_FOR_IBUG68)].copy()
    oval = points[list(FACE_OVAL_RIGHT_TO_LEFT)]
    seg = np.linalg.norm(np.diff(oval, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, s[-1], 17)
    for d in range(points.shape[1]):
        out[:17, d] = np.interp(targets, s, oval[:, d])
    return out
