"""MediaPipe Face Mesh landmarks -> the 68 iBUG / Multi-PIE landmarks.

0-based iBUG order: jaw line 0-16 (from the subject's right ear to the left),
brows 17-26, nose bridge 27-30, nostrils 31-35, eyes 36-47 (36 = subject's
right outer corner, 45 = left outer corner), outer lips 48-59, inner lips
60-67.  ``MP_FOR_IBUG68`` is the widely used index-for-index correspondence;
:func:`ibug68_from_mediapipe` is the documented mapping FaceForge uses: iBUG's
contour points (jaw, nose bridge, lips) are resampled at even steps along
MediaPipe's contours, because the two conventions sample them differently.

Used to compare our placement with meshes that come with iBUG ground truth
(the ICT head) and to import/export 68-point data."""

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

from ..rigging import regions as _R  # noqa: E402  (pure: Face Mesh topology only)

# The nose ridge from between the eyes (iBUG 27) to the tip (iBUG 30).
NOSE_RIDGE: tuple[int, ...] = (168, 6, 197, 195, 5, 4)


def _arc(poly: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(poly, axis=0), axis=1))])


def resample_polyline(poly: np.ndarray, count: int) -> np.ndarray:
    """``count`` points (count, D) at even arc-length steps along ``poly`` (P, D),
    both ends included."""
    poly = np.asarray(poly, dtype=np.float64)
    s = _arc(poly)
    t = np.linspace(0.0, s[-1], count)
    return np.stack([np.interp(t, s, poly[:, d]) for d in range(poly.shape[1])], axis=1)


def _face_up(points: np.ndarray) -> np.ndarray:
    x = points[263] - points[33]
    x = x / np.linalg.norm(x)
    up = points[10] - points[152]
    up = up - (up @ x) * x
    return up / np.linalg.norm(up)


def _jaw_side(points: np.ndarray, loop: np.ndarray, chin: int, step: int, level: float,
              up: np.ndarray) -> np.ndarray:
    """The face oval from the chin, walking ``step`` along ``loop``, up to where it
    crosses ``level`` (a height along ``up``)."""
    out = [points[loop[chin]]]
    i = chin
    for _ in range(len(loop)):
        j = (i + step) % len(loop)
        a, b = points[loop[i]] @ up, points[loop[j]] @ up
        if b >= level:
            t = (level - a) / (b - a) if b != a else 0.0
            out.append(points[loop[i]] + t * (points[loop[j]] - points[loop[i]]))
            break
        out.append(points[loop[j]])
        i = j
    return np.array(out)


def ibug68_from_mediapipe(points: np.ndarray) -> np.ndarray:
    """The 68 iBUG points (68, D) from MediaPipe's (478, D) points (D = 2 or 3).

    iBUG places its contour points at even steps between well-defined ends;
    MediaPipe's contours are sampled differently, so those iBUG points are
    resampled at even arc-length steps along MediaPipe's contour polylines:

    - jaw 0-16: along the face oval from where it crosses the height of the
      outer eye corners (0 and 16), round the chin (8 = landmark 152);
    - nose bridge 27-30: along the ridge 168-6-197-195-5-4;
    - outer lips 48-59: along the upper (61 -> 291) and lower outer contours,
      six even steps each; inner lips 60-67: four even steps along the upper
      (78 -> 308) and lower inner contours.

    Brows, nostrils and eyes use the fixed indices of ``MP_FOR_IBUG68``.
    """
    p = np.asarray(points, dtype=np.float64)
    out = p[list(MP_FOR_IBUG68)].copy()
    up = _face_up(p if p.shape[1] == 3 else np.c_[p, np.zeros(len(p))])
    up = up[: p.shape[1]]
    loop = np.array(_R.FACE_OVAL)
    chin = int(np.nonzero(loop == 152)[0][0])
    level = 0.5 * (p[33] @ up + p[263] @ up)
    # FACE_OVAL runs from the forehead down the subject's left (+1 reaches the
    # left side from the chin going backwards) and up the right side
    left = _jaw_side(p, loop, chin, -1, level, up)
    right = _jaw_side(p, loop, chin, +1, level, up)
    out[0:9] = resample_polyline(right, 9)[::-1]
    out[8:17] = resample_polyline(left, 9)
    out[27:31] = resample_polyline(p[list(NOSE_RIDGE)], 4)
    out[48:55] = resample_polyline(p[list(_R.UPPER_LIP_OUTER)], 7)
    out[54:60] = resample_polyline(p[list(_R.LOWER_LIP_OUTER)][::-1], 7)[:6]
    out[60:65] = resample_polyline(p[list(_R.UPPER_LIP_INNER)], 5)
    out[65:68] = resample_polyline(p[list(_R.LOWER_LIP_INNER)][::-1], 5)[1:4]
    return out
