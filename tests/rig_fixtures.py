"""Helpers for the rig tests: the ICT head with landmarks, MediaPipe measurements.

Until landmark detection on meshes is available everywhere, the ICT head's
landmarks come from fitting MediaPipe's canonical face to the ICT's own 68
ground-truth iBUG vertices (similarity + smooth warp) and projecting onto the
skin - a stand-in for tests only.
"""

from __future__ import annotations

import json

import numpy as np


def load_canonical(data) -> np.ndarray:
    path = data / "mesh" / "mediapipe_canonical" / "canonical_face_model.obj"
    return np.array([[float(x) for x in line.split()[1:4]] for line in open(path) if line.startswith("v ")])


def ict_landmark_binding(obj, data):
    """A landmark Binding for the imported ICT head (its 68 iBUG vertices guide the fit)."""
    from faceforge.api import binding, mesh
    from faceforge.rigging import regions as R
    from faceforge.rigging import transfer as T

    arr = mesh.mesh_arrays(obj)
    idx68 = json.load(open(data / "mesh" / "ict_neutral" / "vertex_indices.json"))["idx_to_landmark_verts"]
    canon = load_canonical(data)
    placed = T.fit_landmarks(canon, canon[list(R.IBUG68)], arr.verts[idx68], smoothing=1e-3)
    # irises: in front of each eye-opening centre, on the eyeball
    left, right = R.eye_centres(np.vstack([placed, np.zeros((10, 3))]))
    fr = R.face_frame(np.vstack([placed, np.zeros((10, 3))]))
    iris = []
    for c in (right, left):
        ring = [c] + [c + fr.axes[i % 2] * 0.09 * fr.scale * (1 if i < 2 else -1) for i in range(4)]
        iris += ring
    pts = np.vstack([placed, np.array(iris) + fr.axes[2] * 0.1 * fr.scale])
    # skin = first 9409 (face) + head; the eyes/mouth inside are other parts
    skin_tri = np.all(arr.tris < 14062, axis=1)
    eye_tri = np.all((arr.tris >= 21451) & (arr.tris < 24591), axis=1)
    sp_skin = T.closest_points(arr.verts, arr.tris, pts[:468], tri_mask=skin_tri)
    sp_eye = T.closest_points(arr.verts, arr.tris, pts[468:], tri_mask=eye_tri)
    verts = np.vstack([sp_skin.verts, sp_eye.verts]).astype(np.int32)
    bary = np.vstack([sp_skin.bary, sp_eye.bary])
    return binding.Binding(verts=verts, bary=bary, confidence=np.ones(478))


def import_ict(data, with_landmarks: bool = True):
    from faceforge.api import binding, scene

    obj = scene.import_mesh(str(data / "mesh" / "ict_neutral" / "generic_neutral_mesh.obj"), name="ICT")
    if with_landmarks:
        binding.write_binding(obj, ict_landmark_binding(obj, data), source="MANUAL")
    return obj


# --- MediaPipe measurements ---------------------------------------------------------

def eye_aspect(points: np.ndarray, side: str) -> float:
    """Eye opening height / width from 2D landmarks (subject's side)."""
    from faceforge.rigging import regions as R

    up, lo = (R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER) if side == "left" else (R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)
    p = points[:, :2]
    h = np.mean([np.linalg.norm(p[up[i]] - p[lo[i]]) for i in (2, 3, 4, 5, 6)])
    w = np.linalg.norm(p[up[0]] - p[up[-1]])
    return float(h / w)


def paint_eyes(obj) -> int:
    """Give an untextured head's eyeballs a white sclera, a brown iris and a black pupil
    (materials on the eyeball faces), so MediaPipe can see its eyes open and closed.

    The eye's shells are the closed spherical mesh parts under each bound iris
    landmark (the eyeball, and a cornea shell in front of it); all are painted
    about the biggest one's centre, whose front is the direction to the iris
    landmark.  Open shells there (the ICT head's tear lines and occlusion films,
    which a renderer shows transparent) get a fully transparent material.
    Returns how many shells were painted.
    """
    import bpy

    from faceforge.api import binding, mesh
    from faceforge.rigging import regions as R
    from faceforge.rigging.binding import mesh_parts
    from faceforge.rigging.parts import boundary_vertices, fit_sphere

    arr = mesh.mesh_arrays(obj)
    lm = binding.read_binding(obj).positions(arr.verts)
    parts = mesh_parts(arr.verts, arr.tris)
    open_edge = boundary_vertices(arr.tris, len(arr.verts))
    mats = []
    for name, rgb in (("FF_test_sclera", (0.85, 0.83, 0.8)), ("FF_test_iris", (0.25, 0.14, 0.07)),
                      ("FF_test_pupil", (0.02, 0.02, 0.02))):
        m = bpy.data.materials.get(name) or bpy.data.materials.new(name)
        m.diffuse_color = (*rgb, 1.0)
        mats.append(m)
    base = len(obj.data.materials)
    if base == 0:
        skin = bpy.data.materials.get("FF_test_skin") or bpy.data.materials.new("FF_test_skin")
        skin.diffuse_color = (0.8, 0.8, 0.8, 1.0)
        obj.data.materials.append(skin)
        base = 1
    for m in mats:
        obj.data.materials.append(m)
    poly_index = np.zeros(len(obj.data.polygons), dtype=np.int32)
    obj.data.polygons.foreach_get("material_index", poly_index)
    centres = np.zeros(len(obj.data.polygons) * 3)
    obj.data.polygons.foreach_get("center", centres)
    centres = centres.reshape(-1, 3)
    poly_verts = np.array([p.vertices[0] for p in obj.data.polygons])
    painted = 0
    clear = []
    for iris in (R.IRIS_LEFT[0], R.IRIS_RIGHT[0]):
        d = np.linalg.norm(arr.verts - lm[iris], axis=1)
        comps = set(parts.labels[np.argsort(d)[:50]]) - {int(np.argmax(parts.areas))}
        # every closed spherical shell there, painted about the biggest one's centre
        shells = []
        for c in comps:
            vid = np.nonzero(parts.labels == c)[0]
            if open_edge[vid].any():
                clear.append(c)
                continue
            if len(vid) < 100:
                continue
            centre, radius, residual = fit_sphere(arr.verts[vid])
            if radius > 0 and residual < 0.12 * radius and np.linalg.norm(lm[iris] - centre) <= 1.5 * radius:
                shells.append((parts.areas[c], c, centre))
        if not shells:
            continue
        centre = max(shells, key=lambda t: t[0])[2]
        fwd = (lm[iris] - centre) / np.linalg.norm(lm[iris] - centre)
        for _, c, _ in shells:
            sel = np.nonzero(parts.labels[poly_verts] == c)[0]
            dirs = centres[sel] - centre
            cosang = dirs @ fwd / np.maximum(np.linalg.norm(dirs, axis=1), 1e-12)
            poly_index[sel] = base + np.where(cosang > np.cos(np.radians(12)), 2,
                                              np.where(cosang > np.cos(np.radians(26)), 1, 0))
            painted += 1
    if clear:
        glass = bpy.data.materials.get("FF_test_clear") or bpy.data.materials.new("FF_test_clear")
        glass.diffuse_color = (1.0, 1.0, 1.0, 0.0)
        glass.blend_method = "BLEND"
        obj.data.materials.append(glass)
        poly_index[np.isin(parts.labels[poly_verts], clear)] = len(obj.data.materials) - 1
    obj.data.polygons.foreach_set("material_index", poly_index)
    obj.data.update()
    return painted


def photo_mask(path, name: str = "PhotoFace"):
    """The 478-vertex face mask of a photo (``rigging.photo_face.build_photo_face``: vertex i is
    landmark i, the mouth open, the photo as its texture, landmarks bound with source PHOTO): a
    small, open, photo-made mesh for the rig stage's tests.  (``faceforge.face_from_photo`` builds a
    whole head from the face model instead.)"""
    import bpy

    from faceforge.api import compat
    from faceforge.api.binding import write_binding
    from faceforge.formats.video import read_image
    from faceforge.inference.face_mesh import detect_landmarks
    from faceforge.rigging.binding import Binding
    from faceforge.rigging.photo_face import build_photo_face

    rgb = read_image(str(path))
    face = detect_landmarks(rgb)
    assert face is not None, f"no face in {path}"
    pf = build_photo_face(face.points, face.image_size)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(pf.verts.tolist(), [], pf.tris.tolist())
    uv = mesh.uv_layers.new(name="Photo")
    loops = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", loops)
    uv.data.foreach_set("uv", pf.uvs[loops].astype(np.float32).ravel())
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), bool))
    mat = bpy.data.materials.new(f"{name}_photo")
    tree = compat.node_tree(mat)
    tex = tree.nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(str(path), check_existing=True)
    tree.links.new(tex.outputs["Color"], tree.nodes["Principled BSDF"].inputs["Base Color"])
    mesh.materials.append(mat)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    ident = np.arange(len(pf.verts), dtype=np.int32)
    bary = np.zeros((len(ident), 3))
    bary[:, 0] = 1.0
    write_binding(obj, Binding(np.stack([ident] * 3, axis=1), bary, np.full(len(ident), face.score)),
                  source="PHOTO", score=face.score, view_axis="-Y")
    bpy.context.view_layer.objects.active = obj
    return obj


# --- heads of the face model, re-meshed ------------------------------------------------

def remeshed_head(seed: int, ratio: float = 0.35, name: str | None = None):
    """A new head: the face model at a random identity (``seed``), decimated to ``ratio`` of its
    faces (Blender's Decimate: all triangles, new vertex positions) and its vertex order
    shuffled, so nothing can rely on the model's topology; it keeps the model's materials so it
    renders like a face.  Returns ``(obj, truth)``: ``truth`` (52, N, 3) the model's own ARKit
    deltas for that identity carried onto the new vertices (each at its closest point on the
    part of the original head it came from), in the object's space (metres, Blender's axes)."""
    import bpy

    from faceforge.api import facemodel as api_fm
    from faceforge.api import mesh
    from faceforge.facemodel import load_model, to_blender
    from faceforge.rigging import correspond as C
    from faceforge.rigging.parts import components
    from scipy.spatial import cKDTree

    model = load_model()
    identity = model.random_identity(seed)
    src = api_fm.build_face_object(identity, name=f"src{seed}", landmarks=False)
    mod = src.modifiers.new("decimate", "DECIMATE")
    mod.ratio = ratio
    with bpy.context.temp_override(object=src, active_object=src):
        bpy.ops.object.modifier_apply(modifier=mod.name)
    arr = mesh.mesh_arrays(src)
    mats = np.zeros(len(src.data.polygons), np.int32)
    src.data.polygons.foreach_get("material_index", mats)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(arr.verts))
    where = np.argsort(perm)
    verts, tris = arr.verts[perm], where[arr.tris]
    me = bpy.data.meshes.new(name or f"Remeshed{seed}")
    me.from_pydata(verts.tolist(), [], tris.tolist())
    for m in src.data.materials:
        me.materials.append(m)
    me.polygons.foreach_set("material_index", mats[arr.tri_polys])
    me.update()
    obj = bpy.data.objects.new(me.name, me)
    bpy.context.scene.collection.objects.link(obj)
    bpy.data.objects.remove(src)
    # the truth: per part of the new head, closest points on the original head's matching part
    orig = to_blender(model.evaluate(identity)).astype(np.float64)
    deltas = to_blender(model.shape_deltas(identity)).astype(np.float64)
    ocomp = components(model.triangles, model.n_vertices)
    tri_comp = ocomp[model.triangles[:, 0]]
    ncomp = components(tris, len(verts))
    _, nn = cKDTree(orig).query(verts)
    truth = np.zeros((len(deltas), len(verts), 3))
    for c in np.unique(ncomp):
        sel = np.flatnonzero(ncomp == c)
        oc = np.bincount(ocomp[nn[sel]]).argmax()
        h = C.SurfaceIndex(orig, model.triangles, np.flatnonzero(tri_comp == oc)).query(verts[sel])
        tv = model.triangles[h.tri]
        truth[:, sel] = np.einsum("pk,spkd->spd", h.bary, deltas[:, tv])
    bpy.context.view_layer.objects.active = obj
    return obj, truth


def cosines(disp: dict, truth: np.ndarray, names) -> dict:
    """{name: cosine} of each generated shape (N, 3) with the true deltas (over all vertices)."""
    out = {}
    for k, name in enumerate(names):
        if name not in disp:
            continue
        a, b = np.ravel(disp[name]), np.ravel(truth[k])
        out[name] = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
    return out
