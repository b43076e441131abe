"""Editing landmarks (mirrored), and the manual path for faces MediaPipe can't find."""

import bpy
import numpy as np
import pytest
from skimage import data as skdata


@pytest.fixture
def photo_face(tmp_path):
    import cv2

    from faceforge.api import photo_face

    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    return bpy.data.objects[photo_face.face_from_photo(str(path))["object"]]


def test_template_is_symmetric_and_matches_mediapipes_canonical_mirror(data):
    from scipy.spatial import cKDTree

    from faceforge.rigging.landmark_edit import mirror_map, template

    pts, m = template()
    assert (m == mirror_map()).all()  # the map found from a photo is the shipped table
    assert pts.shape == (478, 3) and (m[m] == np.arange(478)).all()
    np.testing.assert_allclose(pts * [-1, 1, 1], pts[m], atol=1e-6)
    canon = np.array([[float(x) for x in l.split()[1:4]]
                      for l in open(data / "mesh/mediapipe_canonical/canonical_face_model.obj") if l.startswith("v ")])
    _, twin = cKDTree(canon).query(canon * [-1, 1, 1])
    assert (twin == m[:468]).all()
    assert m[33] == 263 and m[61] == 291 and m[1] == 1 and m[468] == 473


def test_template_triangulation_resembles_mediapipes_own(data):
    """The photo mask's Delaunay triangulation (the template's surface) vs the canonical Face Mesh
    triangles (from MediaPipe)."""
    from faceforge.inference.face_mesh import detect_landmarks
    from faceforge.rigging.photo_face import INNER_LIPS, build_photo_face

    face = detect_landmarks(skdata.astronaut())
    pf = build_photo_face(face.points, face.image_size)
    ours = {tuple(sorted(t)) for t in pf.tris.tolist()}
    canon = set()
    for line in open(data / "mesh/mediapipe_canonical/canonical_face_model.obj"):
        if line.startswith("f "):
            canon.add(tuple(sorted(int(t.split("/")[0]) - 1 for t in line.split()[1:])))
    edges = lambda tris: {tuple(sorted(e)) for t in tris for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))}  # noqa: E731
    shared_edges = len(edges(canon) & edges(ours)) / len(edges(canon))
    assert shared_edges > 0.6, shared_edges
    # The mouth is open: no triangle made only of inner-lip points.
    assert not any(set(t) <= set(INNER_LIPS) for t in ours)
    # One connected surface, consistently wound toward -Y (the face looks at the viewer).
    v = pf.verts
    n = np.cross(v[pf.tris[:, 1]] - v[pf.tris[:, 0]], v[pf.tris[:, 2]] - v[pf.tris[:, 0]])
    assert (n[:, 1] <= 0).mean() > 0.97


def test_fit_template_recovers_a_similarity_exactly():
    from faceforge.rigging.landmark_edit import KEY_POINTS, fit_template, template

    tpl = template()[0]
    ang = 0.4
    r = np.array([[np.cos(ang), -np.sin(ang), 0], [np.sin(ang), np.cos(ang), 0], [0, 0, 1]])
    moved = 3.0 * tpl @ r.T + [1, 2, 3]
    fitted = fit_template({n: moved[i] for n, i in KEY_POINTS.items()})
    np.testing.assert_allclose(fitted, moved, atol=1e-6)
    with pytest.raises(Exception, match="at least 4"):
        fit_template({"nose_tip": moved[1]})


def test_mirrored_edit_moves_the_twin(photo_face):
    from faceforge.api import binding, landmarks

    obj = photo_face
    before = binding.landmark_positions(obj, world=True)
    assert landmarks.begin_edit(obj) == 478
    # Drag the subject's right mouth corner (61) onto a nearby upper-lip point (185).
    bpy.data.objects["FF_LM_061"].location = before[185]
    bpy.context.view_layer.update()
    moved = landmarks.apply_edit(obj, mirror=True)
    after = binding.landmark_positions(obj, world=True)
    assert moved == 1
    np.testing.assert_allclose(after[61], before[185], atol=1e-4)  # on the surface where dropped
    # Its twin (291) followed, mirrored: it sits near 185's own twin (409) on the left.
    assert np.linalg.norm(after[291] - before[409]) < 0.25 * np.linalg.norm(before[291] - before[409])
    others = np.setdiff1d(np.arange(478), [61, 291])
    np.testing.assert_allclose(after[others], before[others], atol=1e-9)
    assert not any(o.name.startswith("FF_LM_") for o in bpy.data.objects)


def test_cancel_edit_keeps_landmarks(photo_face):
    from faceforge.api import binding, landmarks

    before = binding.landmark_positions(photo_face)
    landmarks.begin_edit(photo_face)
    bpy.data.objects["FF_LM_001"].location.x += 0.01
    landmarks.cancel_edit(photo_face)
    np.testing.assert_allclose(binding.landmark_positions(photo_face), before)
    assert not any(o.name.startswith("FF_LM_") for o in bpy.data.objects)


def test_manual_path_on_suzanne(ff):
    """Suzanne has no human face for MediaPipe: key points + template fit still bind 478 points."""
    from faceforge.api import binding, landmarks, mesh

    bpy.ops.mesh.primitive_monkey_add()
    obj = bpy.context.active_object
    names = landmarks.place_key_points(obj)
    assert len(names) == 8
    # Snap the key points where an animator would put them on Suzanne (front = -Y).
    verts = mesh.vertex_coords(obj.data)
    spots = {"eye_outer.R": (-0.65, 0.35), "eye_inner.R": (-0.25, 0.3), "eye_inner.L": (0.25, 0.3),
             "eye_outer.L": (0.65, 0.35), "mouth_corner.R": (-0.3, -0.45), "mouth_corner.L": (0.3, -0.45),
             "nose_tip": (0.0, -0.1), "chin": (0.0, -0.75)}
    for name, (x, z) in spots.items():
        front = verts[np.argmin(np.hypot(verts[:, 0] - x, verts[:, 2] - z) + 0.01 * verts[:, 1])]
        bpy.data.objects[f"FF_KEY_{name}"].location = front
    bpy.context.view_layer.update()
    result = landmarks.fit_manual(obj)
    assert result["landmarks"] == 478 and obj.faceforge.landmarks.source == "MANUAL"
    pos = binding.landmark_positions(obj)
    assert pos[291, 0] > 0.15 > -0.15 > pos[61, 0]  # mouth corners where they were placed
    assert pos[152, 2] < pos[1, 2] < pos[10, 2]  # chin below nose below forehead
    assert not any(o.name.startswith("FF_KEY_") for o in bpy.data.objects)


def _rotation(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _template_surface(samples=0):
    """The symmetric template face as a surface: (verts, normals), optionally
    re-sampled at random points of its triangles (then no vertex has an exact twin)."""
    from faceforge.rigging.binding import vertex_normals
    from faceforge.rigging.landmark_edit import template
    from faceforge.rigging.photo_face import triangulate

    v = template()[0][:468]
    tris = triangulate(v[:, [0, 2]])
    if not samples:
        return v, vertex_normals(v, tris)
    rng = np.random.default_rng(1)
    t = rng.integers(0, len(tris), samples)
    w = rng.dirichlet(np.ones(3), samples)
    pts = (v[tris[t]] * w[..., None]).sum(axis=1)
    fn = np.cross(v[tris[t, 1]] - v[tris[t, 0]], v[tris[t, 2]] - v[tris[t, 0]])
    return pts, fn / np.linalg.norm(fn, axis=1, keepdims=True)


@pytest.mark.parametrize("samples", [0, 20000])
def test_mirror_plane_of_a_symmetric_mesh_is_found_from_biased_landmarks(samples):
    """A symmetric face, turned and moved: its mirror plane is found although the
    landmarks (as MediaPipe gives them on a symmetric head) are not symmetric."""
    from faceforge.rigging.landmark_edit import mesh_mirror_plane, reflect, symmetrize, template

    tpl = template()[0]
    iod = np.linalg.norm(tpl[263] - tpl[33])
    verts, normals = _template_surface(samples)
    r, t = _rotation(0.3, -0.5, 0.8), np.array([0.4, -1.0, 2.0])
    lm = tpl.copy()
    lm[tpl[:, 0] > 0, 1] += 0.04 * iod  # the left side read 4 % deeper: a tilted first guess
    lm[:, 2] += 0.02 * iod * np.sign(tpl[:, 0])
    plane = mesh_mirror_plane(lm @ r.T + t, verts @ r.T + t, normals @ r.T)
    assert plane is not None
    c, n = plane
    true_n = r @ [1.0, 0.0, 0.0]
    assert abs(n @ true_n) > np.cos(np.radians(0.5))
    assert abs((c - t) @ true_n) < 0.005 * iod  # passes through the (moved) midline
    sym = symmetrize(lm @ r.T + t, plane, np.ones(478, bool))
    np.testing.assert_allclose(sym, reflect(sym[template()[1]], plane), atol=0.01 * iod)


def test_an_asymmetric_mesh_has_no_mirror_plane():
    from faceforge.rigging.landmark_edit import mesh_mirror_plane, template

    tpl = template()[0]
    iod = np.linalg.norm(tpl[263] - tpl[33])
    verts, normals = _template_surface()
    bent = verts.copy()
    bent[:, 1] += 0.08 * iod * np.clip(verts[:, 0] / iod, 0, None)  # the left cheek pushed back
    assert mesh_mirror_plane(tpl, verts, normals) is not None
    assert mesh_mirror_plane(tpl, bent, normals) is None


def test_edit_empties_know_their_mesh_and_clear_resets_every_field(photo_face):
    """The edit empties point at their mesh (typed state, survives a rename); Clear Landmarks
    puts every landmark field back - the symmetric flag too - and drops the empties."""
    from faceforge.api import landmarks

    obj = photo_face
    lm = obj.faceforge.landmarks
    lm.symmetric, lm.view_axis, lm.score = True, "-Y", 0.9
    landmarks.begin_edit(obj)
    empty = bpy.data.objects["FF_LM_001"]
    obj.name = "Renamed"
    assert landmarks.edited_mesh(empty) == obj and landmarks.edited_mesh(obj) == obj
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.faceforge.clear_landmarks() == {"FINISHED"}
    assert (len(lm.points), lm.source, lm.score, lm.view_axis, lm.symmetric) == (0, "NONE", 0.0, "", False)
    assert "FF_LM_001" not in bpy.data.objects
