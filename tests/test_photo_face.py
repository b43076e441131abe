"""Face from a single photo (scikit-image's astronaut, a real face photo)."""

import bpy
import numpy as np
import pytest
from skimage import data as skdata

from faceforge.core.errors import FaceForgeError


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def test_triangulation_resembles_mediapipes_own(data):
    """Our Delaunay triangulation vs the canonical Face Mesh triangles (from MediaPipe)."""
    from faceforge.inference.face_mesh import detect_landmarks
    from faceforge.rigging.photo_face import INNER_LIPS, build_photo_face

    face = detect_landmarks(skdata.astronaut())
    pf = build_photo_face(face.points, face.image_size)
    ours = {tuple(sorted(t)) for t in pf.tris.tolist()}
    canon = set()
    for line in open(data / "mesh/mediapipe_canonical/canonical_face_model.obj"):
        if line.startswith("f "):
            canon.add(tuple(sorted(int(t.split("/")[0]) - 1 for t in line.split()[1:])))
    edges = lambda tris: {tuple(sorted(e)) for t in tris for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))}
    shared_edges = len(edges(canon) & edges(ours)) / len(edges(canon))
    assert shared_edges > 0.6, shared_edges
    # The mouth is open: no triangle made only of inner-lip points.
    assert not any(set(t) <= set(INNER_LIPS) for t in ours)
    # One connected surface, consistently wound toward -Y (the face looks at the viewer).
    v = pf.verts
    n = np.cross(v[pf.tris[:, 1]] - v[pf.tris[:, 0]], v[pf.tris[:, 2]] - v[pf.tris[:, 0]])
    assert (n[:, 1] <= 0).mean() > 0.97


def test_face_from_photo_real_size_facing_the_user_with_landmarks(astronaut_png):
    from faceforge.api import binding, photo_face

    result = photo_face.face_from_photo(str(astronaut_png))
    obj = bpy.data.objects[result["object"]]
    v = np.array([vv.co for vv in obj.data.vertices])
    assert len(v) == 478
    iod = np.linalg.norm(v[[263, 362]].mean(0) - v[[33, 133]].mean(0))
    assert iod == pytest.approx(0.063, rel=1e-3)
    assert v[1, 1] < v[[33, 263], 1].mean() - 0.01  # nose tip in front (-Y) of the eyes
    assert v[10, 2] > v[152, 2] + 0.1  # forehead above chin (+Z up)
    assert v[473, 0] > 0 > v[468, 0]  # subject's left eye at +X
    lm = obj.faceforge.landmarks
    assert lm.source == "PHOTO" and len(lm.points) == 478
    np.testing.assert_allclose(binding.landmark_positions(obj), v, atol=1e-6)
    mat = obj.active_material
    img = [n for n in mat.node_tree.nodes if n.type == "TEX_IMAGE"][0].image
    assert img.packed_file is not None and tuple(img.size) == (512, 512)
    assert len(obj.data.uv_layers) == 1


def test_photo_face_closed_loop_redetects_its_landmarks(astronaut_png):
    """Render the photo face from the front, run MediaPipe again: same landmarks."""
    from faceforge.api import binding, photo_face, render
    from faceforge.inference.face_mesh import detect_landmarks
    from faceforge.inference.views import face_sphere

    obj = bpy.data.objects[photo_face.face_from_photo(str(astronaut_png))["object"]]
    pos = binding.landmark_positions(obj, world=True)
    c, r = face_sphere(pos, margin=1.3)
    img, cam = render.render_view([obj], c, (0, 1, 0), (0, 0, 1), r, resolution=512)
    face = detect_landmarks(img)
    assert face is not None
    px, _ = cam.project(pos)
    iod = np.linalg.norm(px[[263, 362]].mean(0) - px[[33, 133]].mean(0))
    err = np.linalg.norm(face.points[:468, :2] - px[:468], axis=1) / iod
    print(f"photo closed loop: mean {err.mean():.3f} IOD, max {err.max():.3f}")
    assert err.mean() < 0.05


def test_bad_photos(tmp_path):
    from faceforge.api import photo_face

    with pytest.raises(FaceForgeError, match="not found"):
        photo_face.face_from_photo(str(tmp_path / "missing.jpg"))
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(FaceForgeError, match="Can't read"):
        photo_face.face_from_photo(str(junk))
    import cv2

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((256, 256, 3), 200, np.uint8))
    with pytest.raises(FaceForgeError, match="No face found"):
        photo_face.face_from_photo(str(blank))
    assert len(bpy.data.objects) == 0 and len(bpy.data.meshes) == 0


def test_several_faces_picks_the_largest(tmp_path):
    import cv2

    from faceforge.api import photo_face

    face = skdata.astronaut()[30:330, 100:400]
    canvas = np.full((400, 800, 3), 255, np.uint8)
    canvas[20:380, 420:780] = cv2.resize(face, (360, 360))
    canvas[60:340, 40:320] = cv2.resize(face, (280, 280))
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    result = photo_face.face_from_photo(str(path))
    assert result["faces_in_photo"] == 2 and "largest" in result["note"]
    obj = bpy.data.objects[result["object"]]
    uv_x = np.mean([l.uv[0] for l in obj.data.uv_layers[0].data])
    assert uv_x > 0.55  # the big face is on the right of the canvas
