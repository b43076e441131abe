"""Make FaceForge's average-face template from a real photo (no downloads).

Runs MediaPipe Face Mesh on scikit-image's astronaut photo (a registry
package), frontalises the 478 points (metres, face looking -Y, +Z up,
subject's left +X), finds each landmark's left/right twin by optimal
assignment against the mirrored face, and symmetrises the face.  Writes
``models/face_template.npz`` with:

* ``points`` (478, 3) float32 - the symmetric template, metres;
* ``mirror`` (478,) int32 - index of each landmark's left/right twin
  (midline points map to themselves).

Used by manual landmark fitting (a few clicked points -> all 478) and by
mirrored landmark editing.  Run: ``.venv/bin/python scripts/make_face_template.py``.
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def main():
    import launch
    from scipy.optimize import linear_sum_assignment
    from skimage import data

    launch.load_package()
    from faceforge.inference.face_mesh import detect_landmarks
    from faceforge.rigging.photo_face import build_photo_face

    face = detect_landmarks(data.astronaut())
    pts = build_photo_face(face.points, face.image_size).verts
    mirrored = pts * np.array([-1.0, 1.0, 1.0])
    mirror = np.empty(478, dtype=np.int32)
    for block in (np.arange(468), np.arange(468, 478)):  # face and irises separately
        cost = np.linalg.norm(pts[block][:, None] - mirrored[block][None], axis=2)
        rows, cols = linear_sum_assignment(cost)
        mirror[block[rows]] = block[cols]
    assert (mirror[mirror] == np.arange(478)).all(), "mirror map must be an involution"
    sym = (pts + mirrored[mirror]) / 2.0
    out = os.path.join(ROOT, "models", "face_template.npz")
    np.savez_compressed(out, points=sym.astype(np.float32), mirror=mirror)
    print(f"wrote {out}: {int((mirror == np.arange(478)).sum())} midline points")


if __name__ == "__main__":
    main()
