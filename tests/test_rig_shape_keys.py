"""Rig I: the 52 ARKit shape keys on the ICT head - closed loop through MediaPipe, locality,
symmetry, rigid parts, keys kept/replaced, transfer, contact sheet, CLI."""

import bpy
import numpy as np
import pytest

import rig_fixtures as RF
from faceforge.core.arkit import ARKIT_NAMES, mirror_name
from faceforge.core.errors import FaceForgeError
from faceforge.core.jobs import run_sync

ICT_FACE_END, ICT_HEAD_END = 9409, 11248  # ICT parts: face skin, then head and neck
BACK_OF_HEAD = slice(ICT_FACE_END, ICT_HEAD_END)


@pytest.fixture(scope="module")
def rigged(data):
    """The ICT head with landmarks and generated keys, and MediaPipe measurements of renders."""
    from faceforge.api import contact_sheet as CS
    from faceforge.api import mesh, shape_keys
    from faceforge.inference.face_mesh import FaceMeshDetector

    from faceforge.api import scene
    scene.clear_scene()
    obj = RF.import_ict(data)
    mesh.ensure_basis(obj)
    obj.shape_key_add(name="UserKey", from_mix=False)
    result = run_sync(shape_keys.generate_shape_keys_job(obj), on_progress=None)
    base = mesh.shape_key_coords(obj, "Basis")
    disp = {n: mesh.shape_key_coords(obj, n) - base for n in result["generated"]}
    shown = ["neutral", "eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthFunnel",
             "mouthPucker", "mouthLowerDownLeft"]
    seen = {}
    view = CS.face_view(obj)
    with FaceMeshDetector() as det:
        for name in shown:
            img, _ = CS.render_shape(obj, None if name == "neutral" else name, size=384, view=view)
            f = det.detect(img)
            assert f is not None, f"MediaPipe lost the face on {name}"
            seen[name] = (f.points.astype(np.float64), f.interocular())
    arr = mesh.mesh_arrays(obj)
    from faceforge.api import binding
    from faceforge.facemodel import load_model

    # ICT's own shapes on this head: the face model is ICT's, in metres (the OBJ is in cm)
    model = load_model()
    assert np.abs(base - 100.0 * model.neutral).max() < 1e-3
    truth = dict(zip(ARKIT_NAMES, 100.0 * model.shape_deltas().astype(np.float64)))
    return {"binding": binding.read_binding(obj), "keys": [k.name for k in obj.data.shape_keys.key_blocks],
            "result": result, "disp": disp, "base": base, "tris": arr.tris, "seen": seen, "truth": truth}


def test_the_ict_head_gets_icts_own_shapes(rigged):
    """The scan-based rig on the face model's own head gives back the model's shapes (cosine
    over all vertices, the 51 shapes ICT has).  The blinks' lids are FaceForge's own (procedural
    lids that meet on any mesh, ``scan_rig.OWN``; the skin round them the scan's): they point the
    same way as ICT's (measured 0.82)."""
    assert rigged["result"]["source"] == "scan"
    cos = {n: float(np.ravel(rigged["disp"][n]) @ np.ravel(rigged["truth"][n]) /
                    max(np.linalg.norm(rigged["disp"][n]) * np.linalg.norm(rigged["truth"][n]), 1e-30))
           for n in ARKIT_NAMES if n != "tongueOut"}
    values = np.array(list(cos.values()))
    lowest = sorted((round(v, 3), n) for n, v in cos.items())[:4]
    print("ICT head cosines: mean %.3f, lowest %s" % (values.mean(), lowest))
    scanned = np.array([v for n, v in cos.items() if n not in ("eyeBlinkLeft", "eyeBlinkRight")])
    assert values.mean() >= 0.97 and scanned.min() >= 0.8 and values.min() >= 0.7


def test_all_52_keys_named_as_arkit_on_a_basis_user_key_kept(rigged):
    keys = rigged["keys"]
    assert keys[0] == "Basis" and "UserKey" in keys
    made = set(rigged["result"]["generated"])
    # tongueOut only where a tongue is found (else skipped, and said so)
    assert made == set(ARKIT_NAMES) or (made == set(ARKIT_NAMES) - {"tongueOut"} and
                                        "tongueOut" in rigged["result"]["skipped"])
    assert all(np.abs(rigged["disp"][n]).max() > 0 for n in made)


def _m(rigged, name):
    return rigged["seen"][name]


def test_blink_closes_only_that_eye_as_mediapipe_sees_it(rigged):
    p0, _ = _m(rigged, "neutral")
    for name, side, other in (("eyeBlinkLeft", "left", "right"),):
        p, _ = _m(rigged, name)
        drop = 1 - RF.eye_aspect(p, side) / RF.eye_aspect(p0, side)
        other_change = abs(RF.eye_aspect(p, other) / RF.eye_aspect(p0, other) - 1)
        # MediaPipe on an untextured head's eyes is noisy: the blinking eye must lose at
        # least 40 % of its opening (measured ~50-60 %), the other eye changes less.
        assert drop >= 0.4, (name, drop)
        assert other_change < drop, (name, drop, other_change)


def test_blinks_bring_the_upper_lid_margin_onto_the_lower(rigged):
    from faceforge.rigging import regions as R

    b, base = rigged["binding"], rigged["base"]
    lm0 = b.positions(base)
    for name, up, lo in (("eyeBlinkLeft", R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER),
                         ("eyeBlinkRight", R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)):
        lm = b.positions(base + rigged["disp"][name])
        cols = [2, 3, 4, 5, 6]
        gap0 = np.linalg.norm(lm0[[up[i] for i in cols]] - lm0[[lo[i] for i in cols]], axis=1)
        gap = np.linalg.norm(lm[[up[i] for i in cols]] - lm[[lo[i] for i in cols]], axis=1)
        true = b.positions(base + rigged["truth"][name])
        gap_true = np.linalg.norm(true[[up[i] for i in cols]] - true[[lo[i] for i in cols]], axis=1)
        # nearly as closed as ICT's own blink (its lids meet a little in front of the bound margin
        # points).  Known gap: towards the outer corner the transferred lid stops short (measured
        # 0.34 of the opening left where ICT's own leaves 0.12)
        assert (gap < 0.4 * gap0).all() and gap.mean() < gap_true.mean() + 0.1 * gap0.mean(), \
            (name, gap / gap0, gap_true / gap0)
        # and the upper lid did most of the travel
        travel_up = np.linalg.norm(lm[[up[i] for i in cols]] - lm0[[up[i] for i in cols]], axis=1).mean()
        travel_lo = np.linalg.norm(lm[[lo[i] for i in cols]] - lm0[[lo[i] for i in cols]], axis=1).mean()
        assert travel_up > 2 * travel_lo


def test_jaw_open_opens_the_mouth_and_funnel_rounds_it(rigged):
    p0, iod = _m(rigged, "neutral")
    gap0 = np.linalg.norm(p0[13, :2] - p0[14, :2]) / iod
    p, iod1 = _m(rigged, "jawOpen")
    assert np.linalg.norm(p[13, :2] - p[14, :2]) / iod1 - gap0 > 0.25
    assert (p[152, 1] - p0[152, 1]) / iod > 0.05  # the chin went down
    # pucker narrows the mouth
    pp, _ = _m(rigged, "mouthPucker")
    w0 = np.linalg.norm(p0[61, :2] - p0[291, :2])
    assert np.linalg.norm(pp[61, :2] - pp[291, :2]) < 0.92 * w0


def test_smile_left_raises_the_left_corner(rigged):
    p0, iod = _m(rigged, "neutral")
    p, _ = _m(rigged, "mouthSmileLeft")
    up_left = (p0[291, 1] - p[291, 1]) / iod  # image y grows down; 291 = subject's left corner
    up_right = (p0[61, 1] - p[61, 1]) / iod
    assert up_left > 0.05 and up_left > 2 * up_right, (up_left, up_right)


def test_lower_down_left_lowers_only_the_left_lower_lip(rigged):
    # MediaPipe does not read the lips of the untextured ICT head well enough for this one:
    # checked on the mesh's own lip landmarks instead (local frame, IOD units).
    from faceforge.rigging import regions as R

    b, base = rigged["binding"], rigged["base"]
    fr = R.face_frame(b.positions(base))
    d = fr.to_local(b.positions(base + rigged["disp"]["mouthLowerDownLeft"])) - fr.to_local(b.positions(base))
    assert d[[317, 402, 405, 321], 1].mean() < -0.05  # left lower lip down
    assert abs(d[[87, 178, 181, 91], 1].mean()) < 0.5 * abs(d[[317, 402, 405, 321], 1].mean())
    # the upper lip stays (within what ICT's own shape moves it)
    t = fr.to_local(b.positions(base + rigged["truth"]["mouthLowerDownLeft"])) - fr.to_local(b.positions(base))
    upper = list(R.UPPER_LIP_OUTER[1:-1])
    assert np.abs(d[upper, 1]).max() < max(0.01, 1.5 * np.abs(t[upper, 1]).max())


def _leak(d, where):
    """How much of a shape's largest motion reaches the vertices ``where``."""
    size = np.linalg.norm(d, axis=1)
    return float(size[where].max() / max(size.max(), 1e-12))


def test_locality_back_of_head_still_and_no_flips(rigged):
    from faceforge.rigging import regions as R

    base, tris = rigged["base"], rigged["tris"]
    face = np.all(tris < ICT_HEAD_END, axis=1)  # the skin (face + head/neck)
    t = tris[face]
    q = R.face_frame(rigged["binding"].positions(base)).to_local(base)
    back = (q[:, 2] < -1.4) & (np.arange(len(base)) < ICT_HEAD_END)  # the skin behind the ears (IOD)

    def normals(co):
        n = np.cross(co[t[:, 1]] - co[t[:, 0]], co[t[:, 2]] - co[t[:, 0]])
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    n0 = normals(base)
    bad = {}
    for name, d in rigged["disp"].items():
        if name == "mouthClose":  # made to play on top of jawOpen (alone its lips cross)
            d = d + rigged["disp"]["jawOpen"]
        assert np.abs(d[back]).max() == 0.0, name
        # the rest of the head and neck: no more than ICT's own shape moves it
        if name in rigged["truth"]:
            assert _leak(d, BACK_OF_HEAD) <= _leak(rigged["truth"][name], BACK_OF_HEAD) + 0.05, name
        flipped = ((normals(base + d) * n0).sum(1) < 0).sum()
        own = rigged["truth"].get(name)
        if own is not None:  # the scans fold skin where the lips press together: no more than they do
            if name == "mouthClose":
                own = own + rigged["truth"]["jawOpen"]
            flipped -= ((normals(base + own) * n0).sum(1) < 0).sum()
        bad[name] = flipped
    # Known gap: a few triangles fold deep in the mouth socket (jawOpen) and at the inner
    # eye corners (eyeBlink; ICT's own blinks fold there too); none on the visible face
    # elsewhere.  Bound them tightly.
    bad = {k: v for k, v in bad.items() if v > 0.0015 * len(t)}
    assert not bad, bad


def test_regions_are_local(rigged):
    """Brow and lid shapes stay off the lower face and mouth shapes off the upper face - as
    local as ICT's own scanned shapes (within 3 % of each shape's largest motion)."""
    d, truth = rigged["disp"], rigged["truth"]
    base = rigged["base"]
    y = base[:, 1]  # the ICT head is +Y up in its own mesh space
    eye_y = base[21451:24591, 1].mean()
    mouth_y = base[17039:21451, 1].mean()
    lower_face = (y < (eye_y + mouth_y) / 2) & (np.arange(len(y)) < ICT_FACE_END)
    upper_face = (y > eye_y + 0.5) & (np.arange(len(y)) < ICT_FACE_END)
    for names, where in ((("browInnerUp", "browDownLeft", "eyeBlinkLeft", "eyeWideLeft"), lower_face),
                         (("jawOpen", "mouthSmileLeft", "mouthPucker", "mouthFunnel"), upper_face)):
        for name in names:
            assert _leak(d[name], where) <= _leak(truth[name], where) + 0.03, \
                (name, _leak(d[name], where), _leak(truth[name], where))


def test_mirrored_pairs_agree(rigged):
    """Each landmark's motion against its twin's mirror, beside ICT's own shapes (the ICT head
    is nearly symmetric, and so are its scanned shapes)."""
    from faceforge.rigging import regions as R

    b = rigged["binding"]
    base = rigged["base"]
    fr = R.face_frame(b.positions(base))
    rest = fr.to_local(b.positions(base))

    def asymmetry(shapes, name, twin):
        dl = fr.to_local(b.positions(base + shapes[name])) - rest
        dr = fr.to_local(b.positions(base + shapes[twin])) - rest
        return np.abs(dl[:468] - R.mirror_landmarks(dr)[:468]).max() / max(np.abs(dl).max(), 1e-6)

    worse = {}
    for name in ARKIT_NAMES:
        twin = mirror_name(name)
        if twin == name or not name.endswith("Left"):
            continue
        made, own = asymmetry(rigged["disp"], name, twin), asymmetry(rigged["truth"], name, twin)
        worse[name] = round(float(made - own), 3)
    print("asymmetry beyond ICT's own:", sorted(worse.items(), key=lambda kv: -kv[1])[:6])
    # Known gap: the scan-based shapes are less symmetric than ICT's own at the landmarks
    # (measured beyond ICT's own: median 0.09 of the shape's largest landmark motion, at most
    # 0.32, eyeLookDown's lids), though they match ICT's shapes at cosine 0.99.  The fit follows
    # this fixture's landmarks (fitted to the head's 68 iBUG points, not made symmetric) and the
    # registration slides a little along the skin with them, which shifts steep motion (lid and
    # lip margins).  Bounded here so it does not grow.
    assert max(worse.values()) < 0.4 and np.median(list(worse.values())) < 0.12, worse


def test_rigid_parts(rigged):
    d = rigged["disp"]
    base = rigged["base"]
    upper_tooth, lower_tooth = slice(18067, 18143), slice(20263, 20349)  # central incisors
    eyeball = slice(21451, 22221)  # left eyeball
    assert np.abs(d["jawOpen"][upper_tooth]).max() < 1e-6
    lt = base[lower_tooth]
    moved = lt + d["jawOpen"][lower_tooth]
    # rigid: pairwise distances kept
    i = np.arange(0, len(lt), 7)
    dist0 = np.linalg.norm(lt[i][:, None] - lt[i][None], axis=2)
    dist1 = np.linalg.norm(moved[i][:, None] - moved[i][None], axis=2)
    assert np.abs(dist1 - dist0).max() < 1e-3 * max(dist0.max(), 1)
    assert d["jawOpen"][lower_tooth][:, 1].mean() < -0.5  # down (cm)
    assert np.abs(d["eyeBlinkLeft"][eyeball]).max() < 1e-6  # the lid moves, not the eye
    e = base[eyeball]
    c = e.mean(0)
    look = e + d["eyeLookUpLeft"][eyeball]
    r0, r1 = np.linalg.norm(e - c, axis=1), np.linalg.norm(look - look.mean(0), axis=1)
    assert np.abs(r0 - r1).max() < 1e-3 and np.abs(d["eyeLookUpLeft"][eyeball]).max() > 0.1


def test_rerun_needs_replace_and_keeps_user_keys(data):
    # the replace rules are the same for both sources: the quick one
    from faceforge.api import shape_keys

    obj = RF.import_ict(data)
    run_sync(shape_keys.generate_shape_keys_job(obj, source="procedural"), on_progress=None)
    obj.shape_key_add(name="MyCorrective", from_mix=False)
    with pytest.raises(FaceForgeError, match="Replace"):
        run_sync(shape_keys.generate_shape_keys_job(obj, source="procedural"), on_progress=None)
    out = run_sync(shape_keys.generate_shape_keys_job(obj, replace=True, intensity=0.5, source="procedural"),
                   on_progress=None)
    keys = obj.data.shape_keys.key_blocks
    assert "MyCorrective" in keys and len(out["generated"]) >= 51 and len(keys) == len(out["generated"]) + 2


def test_no_landmarks_is_a_clear_error(ff):
    from faceforge.api import shape_keys

    bpy.ops.mesh.primitive_uv_sphere_add()
    with pytest.raises(FaceForgeError, match="landmarks"):
        run_sync(shape_keys.generate_shape_keys_job(bpy.context.active_object), on_progress=None)


def test_operator_generates_and_is_undoable(data):
    obj = RF.import_ict(data)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.faceforge.generate_shape_keys() == {"FINISHED"}
    assert "jawOpen" in obj.data.shape_keys.key_blocks
    assert "UNDO" in bpy.types.FACEFORGE_OT_generate_shape_keys.bl_options



def test_per_shape_intensity_scales_the_key(data):
    from faceforge.api import mesh, shape_keys

    obj = RF.import_ict(data)
    run_sync(shape_keys.generate_shape_keys_job(obj, source="procedural"), on_progress=None)
    base = mesh.shape_key_coords(obj, "Basis")
    full = mesh.shape_key_coords(obj, "jawOpen") - base
    run_sync(shape_keys.generate_shape_keys_job(obj, scales={"jawOpen": 0.5}, replace=True, source="procedural"),
             on_progress=None)
    half = mesh.shape_key_coords(obj, "jawOpen") - base
    np.testing.assert_allclose(half, 0.5 * full, atol=1e-4)
