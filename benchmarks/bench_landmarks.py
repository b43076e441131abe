"""Landmark benchmarks: placement accuracy on the ICT head and time to detect + bind on the
ICT head and on a >= 250k-vertex copy (the photo head's closed loop: bench_photo_head.py)."""

import json
import os
import sys

import numpy as np

from common import DATA, load, peak_rss_mb, timed


REGIONS = (("jaw 0-16", range(0, 17)), ("brows 17-26", range(17, 27)), ("nose 27-35", range(27, 36)),
           ("eyes 36-47", range(36, 48)), ("lips 48-67", range(48, 68)), ("all but jaw", range(17, 68)))


def reference_detector(obj, pos, gt):  # world positions: landmarks (478, 3), ground truth (68, 3)
    """The same close-up, read by a detector trained on iBUG's own 68-point
    annotations (dlib's shape_predictor_68, trained on iBUG 300-W; optional:
    benchmarks/requirements-reference.txt), against MediaPipe through our
    mapping: both in the image, where both detectors work."""
    try:
        import dlib
        import face_recognition_models
    except ImportError:
        print("reference iBUG detector: skipped (pip install -r benchmarks/requirements-reference.txt)")
        return
    from faceforge.api import render
    from faceforge.inference.face_mesh import detect_landmarks
    from faceforge.inference.ibug68 import ibug68_from_mediapipe
    from faceforge.inference.views import face_sphere

    c, r = face_sphere(pos)
    img, cam = render.render_view([obj], c, (0, 1, 0), (0, 0, 1), r, resolution=512)
    gt_px = cam.project(gt)[0]
    iod = np.linalg.norm(gt_px[36] - gt_px[45])
    rects = dlib.get_frontal_face_detector()(img, 1)
    if not rects:
        print("reference iBUG detector: dlib found no face on the render")
        return
    shape = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())(img, rects[0])
    ref = np.array([[shape.part(i).x + 0.5, shape.part(i).y + 0.5] for i in range(68)])
    mp = ibug68_from_mediapipe(detect_landmarks(img).points[:, :2])
    print("in the image (2D) on the same close-up, / outer-eye-corner distance:")
    for label, q in (("MediaPipe -> iBUG mapping", mp), ("dlib 68 (iBUG-trained)   ", ref)):
        e = np.linalg.norm(q - gt_px, axis=1) / iod
        parts = "  ".join(f"{name.split()[0]} {e[list(rr)].mean():.3f}" for name, rr in REGIONS[:5])
        print(f"  {label} mean {e.mean():.3f}  ({parts})")


def main():
    ff = load()
    import bpy

    from faceforge.api import binding, landmarks, scene
    from faceforge.inference.ibug68 import ibug68_from_mediapipe

    ict = os.path.join(DATA, "mesh/ict_neutral/generic_neutral_mesh.obj")
    scene.clear_scene()
    obj = scene.import_mesh(ict, name="ICT")
    t = {}
    with timed("detect + bind, ICT head (26,719 vertices)", t):
        summary = landmarks.detect_landmarks(obj)
    pos = binding.landmark_positions(obj)
    gt_idx = json.load(open(os.path.join(DATA, "mesh/ict_neutral/vertex_indices.json")))["idx_to_landmark_verts"]
    verts = np.array([v.co for v in obj.data.vertices])
    gt = verts[gt_idx]
    iod = np.linalg.norm(gt[36] - gt[45])
    ib = ibug68_from_mediapipe(pos)
    err = np.linalg.norm(ib - gt, axis=1) / iod
    print(f"iBUG-68 placement error / outer-eye-corner distance: mean {err.mean():.3f}, max {err.max():.3f}")
    # The same in the frontal image plane (iBUG's own, 2D definition; the ICT head
    # looks down its local +Z): the jaw's 3D error is mostly depth along grazing rays.
    err2 = np.linalg.norm((ib - gt)[:, :2], axis=1) / iod
    print(f"  frontal-plane (2D) error: mean {err2.mean():.3f}, all but jaw {err2[17:].mean():.3f}, "
          f"jaw {err2[:17].mean():.3f}")
    for name, r in REGIONS:
        print(f"  {name:12s} mean {err[list(r)].mean():.3f}  max {err[list(r)].max():.3f}")
    print(f"  landmarks made symmetric (mirror-symmetric mesh): {summary['symmetric']}")
    mw = np.array(obj.matrix_world)
    reference_detector(obj, binding.landmark_positions(obj, world=True), gt @ mw[:3, :3].T + mw[:3, 3])

    # the photo head's closed loop: benchmarks/bench_photo_head.py

    # big mesh
    scene.clear_scene()
    big = scene.import_mesh(ict, name="ICT_big")
    mod = big.modifiers.new("sub", "SUBSURF")
    mod.levels = 2
    with bpy.context.temp_override(object=big, active_object=big):
        bpy.ops.object.modifier_apply(modifier=mod.name)
    print(f"subdivided copy: {len(big.data.vertices):,} vertices")
    with timed(f"detect + bind, {len(big.data.vertices):,} vertices", t):
        landmarks.detect_landmarks(big)
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    ff.unregister()


if __name__ == "__main__":
    sys.exit(main())
