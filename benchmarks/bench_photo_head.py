"""Face from photo: time from photo to rigged head, closed-loop error, neutral residual.

For each photo (scikit-image's astronaut, first frames of GRID clips, scikit-image's camera man
at 2x: his face is 60 px in the original, under the 64 px floor):

* **time**: ``api.photo_face.face_from_photo`` (read, find the face, fit, paint, build the head
  with its 52 keys); the first photo also pays the per-process caches (the atlas' texels, the
  mirror map, the model file);
* **closed loop**: the head posed with the photo's Action, rendered through the photo's camera
  (Workbench), read by the tracker again; mean distance to the photo's own 468 points / IOD;
* **neutral**: a frontal render of the Basis read by the tracker and fitted with the head's
  identity (and with the identity fitted too): the largest weight, the mean over the 52, and
  the largest of the shapes the photo showed (>= 0.3).

``--views DIR`` writes front / three-quarter / side / back renders of each head there.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, load  # noqa: E402

GRID = ("bbaf2n", "lbbc2a", "lbax4n", "swiz3n")


def photos(folder):
    import cv2
    from skimage import data

    out = {}
    path = os.path.join(folder, "astronaut.png")
    cv2.imwrite(path, cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    out["astronaut"] = path
    for clip in GRID:
        cap = cv2.VideoCapture(os.path.join(DATA, "video", "grid", f"{clip}.mpg"))
        ok, frame = cap.read()
        cap.release()
        if ok:
            out[f"grid {clip}"] = os.path.join(folder, f"{clip}.png")
            cv2.imwrite(out[f"grid {clip}"], frame)
    path = os.path.join(folder, "camera2x.png")
    cv2.imwrite(path, cv2.resize(data.camera(), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    out["camera x2"] = path
    return out


def measure(obj, summary, photo, det, model):
    import bpy
    import cv2
    import numpy as np

    from faceforge.api import actions, binding, photo_face, render
    from faceforge.core.arkit import ARKIT_NAMES, INDEX
    from faceforge.facemodel import fit_expression, fit_identity
    from faceforge.facemodel.fit import IMAGE_DEPTH_WEIGHT
    from faceforge.facemodel.texture import iod_px
    from faceforge.inference.face_mesh import find_face
    from faceforge.inference.views import face_sphere

    keys = obj.data.shape_keys.key_blocks
    w = actions.sample_shape_keys(bpy.data.actions[summary["action"]], ARKIT_NAMES, [1])[0]
    for name, v in zip(ARKIT_NAMES, w):
        keys[name].value = float(v)
    rgb = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
    seen = render.render_camera([obj], photo_face.photo_camera(obj))
    ref, again = find_face(rgb), find_face(seen)  # small faces too
    loop = float("nan")
    if ref is not None and again is not None:
        loop = float((np.linalg.norm(again.points[:468, :2] - ref.points[:468, :2], axis=1)
                      / iod_px(ref.points)).mean())
    for name in ARKIT_NAMES:
        keys[name].value = 0.0
    pos = binding.landmark_positions(obj, world=True)
    centre, radius = face_sphere(pos[:468])
    img, cam = render.render_view([obj], centre, (0, 1, 0), (0, 0, 1), radius, resolution=512)
    face = det.detect(img)
    out = {"loop": loop}
    if face is None:
        return out
    camera = (cam.focal_px, cam.width / 2, cam.height / 2)
    on = [INDEX[n] for n, v in summary["expression"].items() if v >= 0.3]
    for tag, e in (("known", fit_expression(model, face.points, identity=np.array(obj["faceforge_identity"]),
                                            depth_weight=IMAGE_DEPTH_WEIGHT, camera=camera).expression),
                   ("fitted", fit_identity(model, face.points, depth_weight=IMAGE_DEPTH_WEIGHT,
                                           camera=camera).frame(0).expression)):
        out[tag] = (float(e.max()), float(e.mean()), float(e[on].max()) if on else 0.0)
    return out


def views(obj, path):
    import cv2
    import numpy as np

    from faceforge.api import render

    ims = [render.render_view([obj], np.zeros(3), d, (0, 0, 1), 0.17, resolution=320)[0]
           for d in ((0, 1, 0), (-0.7, 0.7, 0), (-1, 0, 0), (0.5, -0.85, 0))]
    cv2.imwrite(path, cv2.cvtColor(np.hstack(ims), cv2.COLOR_RGB2BGR))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--views", help="write each head's renders into this folder")
    args = ap.parse_args()
    load()
    import bpy

    from faceforge.api import photo_face, scene
    from faceforge.core.errors import FaceForgeError
    from faceforge.facemodel import load_model
    from faceforge.inference.face_mesh import FaceMeshDetector

    model = load_model()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FaceMeshDetector(video=False) as det:
        for label, path in photos(tmp).items():
            scene.clear_scene()
            t0 = time.perf_counter()
            try:
                summary = photo_face.face_from_photo(path, name="Head")
            except FaceForgeError as exc:
                print(f"{label}: refused: {exc}")
                continue
            seconds = time.perf_counter() - t0
            obj = bpy.data.objects[summary["object"]]
            m = measure(obj, summary, path, det, model)
            if args.views:
                os.makedirs(args.views, exist_ok=True)
                views(obj, os.path.join(args.views, f"{label.replace(' ', '_')}.png"))
            rows.append((label, seconds, summary, m))
    print(f"\n{'photo':16s} {'time s':>7s} {'turn':>5s} {'fit':>6s} {'loop':>6s}   neutral, head's identity "
          "(max / mean / photo's shapes) | identity fitted too")
    for label, seconds, s, m in rows:
        neutral = " | ".join(f"{m[k][0]:.2f} / {m[k][1]:.3f} / {m[k][2]:.2f}" if k in m else "not read"
                             for k in ("known", "fitted"))
        print(f"{label:16s} {seconds:7.2f} {s['turn_deg']:5.1f} {s['residual_iod']:6.3f} {m['loop']:6.3f}   {neutral}")
    if rows:
        import numpy as np

        print(f"\ntime: first {rows[0][1]:.2f} s (with the per-process caches), then median "
              f"{np.median([r[1] for r in rows[1:]] or [rows[0][1]]):.2f} s; closed loop mean "
              f"{np.nanmean([r[3]['loop'] for r in rows]):.4f} IOD (worst {np.nanmax([r[3]['loop'] for r in rows]):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
