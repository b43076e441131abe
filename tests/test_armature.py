"""Face armature + automatic weights on the real ICT head (landmarks from MediaPipe, detected once)."""

import subprocess
from pathlib import Path

import bpy
from mathutils import Vector
import numpy as np
import pytest

from faceforge.core.errors import FaceForgeError
from ui_recorder import LayoutRecorder

ROOT = Path(__file__).resolve().parents[1]
# MediaPipe indices used to find regions on the mesh.
CHIN, LOWER_LIP, UPPER_LIP, NOSE_TIP, FOREHEAD = 152, 14, 13, 1, 10


@pytest.fixture(scope="module")
def ict(data):
    """Detect landmarks on the ICT head once; each test re-imports the mesh and re-binds them."""
    from faceforge.api import binding, landmarks, scene

    path = str(data / "mesh/ict_neutral/generic_neutral_mesh.obj")
    scene.clear_scene()
    obj = scene.import_mesh(path, name="ICT")
    landmarks.detect_landmarks(obj)
    return dict(path=path, bind=binding.read_binding(obj))


def load(ict, name="ICT"):
    from faceforge.api import binding, scene

    obj = scene.import_mesh(ict["path"], name=name)
    binding.write_binding(obj, ict["bind"], "DETECTED")
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def evaluated(obj):
    from faceforge.api.mesh import vertex_coords

    dg = bpy.context.evaluated_depsgraph_get()
    return vertex_coords(obj.evaluated_get(dg).data, obj.matrix_world)


def weights_of(obj, names):
    """(N, B) weights read back from the vertex groups."""
    n = len(obj.data.vertices)
    w = np.zeros((n, len(names)))
    gi = {obj.vertex_groups[b].index: j for j, b in enumerate(names) if b in obj.vertex_groups}
    for v in obj.data.vertices:
        for g in v.groups:
            if g.group in gi:
                w[v.index, gi[g.group]] = g.weight
    return w


def lm_vertex(ict, i):
    b = ict["bind"]
    return int(b.verts[i][np.argmax(b.bary[i])])


@pytest.fixture
def rigged(ict):
    from faceforge.api import armature

    obj = load(ict)
    result = armature.generate_armature(obj)
    return obj, bpy.data.objects[result["armature"]], result


def test_bones_parts_and_weights_sum_to_one(rigged):
    obj, arm, result = rigged
    assert set(result["bones"]) >= {"root", "neck", "head", "jaw", "eye.L", "eye.R", "tongue.001"}
    assert result["eyes"] == "mesh"
    # The ICT head's parts (ICT-FaceKit's vertex ranges): skin = face + head/neck + mouth socket + eye
    # sockets (0-14061), gums & tongue 14062-17038, teeth 17039-21450, eyeballs 1570 each, 2128 loose
    # (lacrimal fluid, eye blend/occlusion, eyelashes).
    parts = result["parts"]
    assert parts["skin"] == 14062 and parts["mouth"] == 2977 and parts["loose"] == 2128
    assert parts["eye.L"] == parts["eye.R"] == 1570
    assert parts["teeth.upper"] + parts["teeth.lower"] == 4412 and min(parts["teeth.upper"], parts["teeth.lower"]) > 1500
    bones = arm.data.bones
    assert bones["jaw"].parent.name == "head" and bones["head"].parent.name == "neck"
    assert bones["eye.L"].parent.name == "head" and bones["tongue.001"].parent.name == "jaw"
    # Blender conventions: .L = subject's left = +X (armature space), mirrored pairs mirror exactly.
    hl, hr = np.array(bones["eye.L"].head_local), np.array(bones["eye.R"].head_local)
    assert hl[0] > 0 > hr[0]
    np.testing.assert_allclose(hl * [-1, 1, 1], hr, atol=1e-4)
    np.testing.assert_allclose(bones["eye.L"].matrix_local.to_euler(), bones["eye.R"].matrix_local.to_euler(),
                               atol=1e-5)
    # Blender's own Symmetrize (eye.L -> eye.R) finds nothing to change: names, roll and placement mirror.
    before = np.array(bones["eye.R"].matrix_local)
    bpy.context.view_layer.objects.active = arm
    with bpy.context.temp_override(active_object=arm, object=arm):
        bpy.ops.object.mode_set(mode="EDIT")
        for eb in arm.data.edit_bones:
            eb.select = eb.select_head = eb.select_tail = eb.name == "eye.L"
        assert bpy.ops.armature.symmetrize(direction="POSITIVE_X") == {"FINISHED"}
        bpy.ops.object.mode_set(mode="OBJECT")
    np.testing.assert_allclose(np.array(arm.data.bones["eye.R"].matrix_local), before, atol=1e-5)
    bones = arm.data.bones
    # The armature sits upright on the face (ICT is modelled upright).
    np.testing.assert_allclose(np.array(arm.matrix_world)[:3, :3], np.eye(3), atol=1e-6)
    deform = [b.name for b in bones if b.use_deform]
    w = weights_of(obj, deform)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=2e-3)  # stored at 1/4096 steps
    assert obj.modifiers[0].name == "FaceForge Armature" and obj.modifiers[0].object == arm


def test_jaw_moves_chin_and_lower_lip_not_nose_or_forehead(rigged, ict):
    obj, arm, _ = rigged
    rest = evaluated(obj)
    arm.pose.bones["jaw"].rotation_euler[0] = -0.3
    moved = np.linalg.norm(evaluated(obj) - rest, axis=1)
    iod = np.linalg.norm(rest[lm_vertex(ict, 33)] - rest[lm_vertex(ict, 263)])
    d = {k: moved[lm_vertex(ict, i)] / iod for k, i in
         dict(chin=CHIN, lower=LOWER_LIP, upper=UPPER_LIP, nose=NOSE_TIP, forehead=FOREHEAD).items()}
    assert d["chin"] > 0.2 and d["lower"] > 0.15
    assert d["nose"] < 1e-6 and d["forehead"] < 1e-6 and d["upper"] < 0.02
    # Smooth fall-off through the cheek: some vertices move partially.
    assert ((moved > 0.05 * moved.max()) & (moved < 0.6 * moved.max())).sum() > 200


def test_eyeballs_follow_their_bone_exactly(rigged):
    obj, arm, result = rigged
    from faceforge.rigging import parts as P

    rest = evaluated(obj)
    w = weights_of(obj, ["eye.L", "eye.R"])
    left, right = w[:, 0] == 1.0, w[:, 1] == 1.0
    assert left.sum() == result["parts"]["eye.L"] and right.sum() == result["parts"]["eye.R"]
    pb = arm.pose.bones["eye.L"]
    pb.rotation_euler = (0.2, 0.0, 0.3)
    bpy.context.view_layer.update()
    posed = evaluated(obj)
    # Expected: rigid transform of the bone (armature space), in world space.
    m = np.array(arm.matrix_world) @ np.array(pb.matrix) @ np.linalg.inv(np.array(pb.bone.matrix_local)) \
        @ np.linalg.inv(np.array(arm.matrix_world))
    expect = rest[left] @ m[:3, :3].T + m[:3, 3]
    np.testing.assert_allclose(posed[left], expect, atol=1e-4)
    np.testing.assert_allclose(posed[right], rest[right], atol=1e-6)
    assert np.abs(posed[left] - rest[left]).max() > 0.1  # it did move


def test_mirrored_input_gives_mirrored_weights(ict):
    from faceforge.api import binding, mesh
    from faceforge.rigging import weights as W

    obj = load(ict)
    a = mesh.mesh_arrays(obj, world=True)
    lm = binding.landmark_positions(obj, world=True)
    flip = np.array([-1.0, 1.0, 1.0])
    plan = W.plan_rig(a.verts, a.tris, lm)
    mplan = W.plan_rig(a.verts * flip, a.tris[:, ::-1], lm * flip)
    swap = {"eye.L": "eye.R", "eye.R": "eye.L"}
    assert plan.weights.bones == mplan.weights.bones
    for b in plan.weights.bones:
        np.testing.assert_allclose(mplan.weights.column(swap.get(b, b)), plan.weights.column(b), atol=1e-6)
    np.testing.assert_allclose(plan.weights.weights.sum(1), 1.0, atol=1e-9)


def test_rerun_and_unregister_leave_no_stray_data(ff, ict):
    from faceforge.api import armature

    obj = load(ict)
    armature.generate_armature(obj)
    groups = sorted(g.name for g in obj.vertex_groups)
    armature.generate_armature(obj)
    ff.unregister()
    ff.register()
    armature.generate_armature(obj)
    assert sorted(o.name for o in bpy.data.objects) == ["ICT", "ICT_FaceRig"]
    assert len(bpy.data.armatures) == 1 and [m.name for m in obj.modifiers] == ["FaceForge Armature"]
    assert sorted(g.name for g in obj.vertex_groups) == groups


def test_operator_is_undoable(ff, ict):
    obj = load(ict)
    obj.vertex_groups.new(name="mine")
    bpy.ops.ed.undo_push(message="start")
    assert bpy.ops.faceforge.generate_armature("EXEC_DEFAULT", True) == {"FINISHED"}
    assert "ICT_FaceRig" in bpy.data.objects
    bpy.ops.ed.undo()
    obj = bpy.data.objects["ICT"]
    assert "ICT_FaceRig" not in bpy.data.objects and not len(obj.modifiers)
    assert [g.name for g in obj.vertex_groups] == ["mine"]


def test_separate_eye_objects_and_no_eyeballs(ict):
    """A head with its eyeballs as separate objects; the same head with no eyeballs at all."""
    from faceforge.api import armature, binding, mesh

    obj = load(ict)
    # Split the eyeball shells off into their own objects.
    plan_parts = armature.generate_armature(obj)["parts"]
    w = weights_of(obj, ["eye.L", "eye.R"])
    armature.remove_rig([obj])
    old_coords = mesh.vertex_coords(obj.data)
    for v in obj.data.vertices:
        v.select = bool(w[v.index].max() == 1.0)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.separate(type="SELECTED")
    bpy.ops.object.mode_set(mode="OBJECT")
    eyes = [o for o in bpy.context.selected_objects if o is not obj]
    assert len(eyes) == 1 and len(eyes[0].data.vertices) == plan_parts["eye.L"] + plan_parts["eye.R"]
    eyes[0].name = "Eyes"
    # Separating renumbered the head's vertices: re-bind the same landmarks by position.
    from scipy.spatial import cKDTree

    _, new_index = cKDTree(mesh.vertex_coords(obj.data)).query(old_coords)
    b = ict["bind"]
    binding.write_binding(obj, binding.Binding(new_index[b.verts].astype(np.int32), b.bary, b.confidence),
                          "DETECTED")
    result = armature.generate_armature([obj, *eyes])
    assert result["eyes"] == "mesh" and result["parts"]["eye.L"] == plan_parts["eye.L"]
    eye = eyes[0]
    assert sorted(g.name for g in eye.vertex_groups) == ["eye.L", "eye.R"]
    we = weights_of(eye, ["eye.L", "eye.R"])
    x = mesh.vertex_coords(eye.data, eye.matrix_world)[:, 0]
    assert (we[x > 0, 0] == 1.0).all() and (we[x < 0, 1] == 1.0).all()
    assert eye.modifiers[0].name == "FaceForge Armature"
    # Without the eye objects: eyes placed from the iris landmarks, near the real eyeballs.
    arm = bpy.data.objects[result["armature"]]
    real = {b: np.array(arm.matrix_world @ arm.data.bones[b].head_local) for b in ("eye.L", "eye.R")}
    assert armature.generate_armature(obj)["objects"] == ["ICT", "Eyes"]  # a re-run keeps the eyes
    bpy.data.objects.remove(eye)
    result = armature.generate_armature(obj)
    arm = bpy.data.objects[result["armature"]]
    assert result["eyes"] == "landmarks"
    for b in ("eye.L", "eye.R"):
        guess = np.array(arm.matrix_world @ arm.data.bones[b].head_local)
        assert np.linalg.norm(guess - real[b]) < 0.25 * 6.4  # within a quarter of the eye distance


def test_face_moved_and_scaled_100x(ict):
    from faceforge.api import armature

    obj = load(ict)
    ref = armature.generate_armature(obj)
    w0 = weights_of(obj, ["head", "jaw", "neck"])
    obj.scale = (100, 100, 100)
    obj.location = (300.0, -50.0, 120.0)
    bpy.context.view_layer.update()
    result = armature.generate_armature(obj)
    assert result["parts"] == ref["parts"]
    np.testing.assert_allclose(weights_of(obj, ["head", "jaw", "neck"]), w0, atol=2e-3)
    arm = bpy.data.objects[result["armature"]]
    assert abs(arm.data.bones["eye.L"].head_local[0] - 100 * 3.14) < 5  # bones in world units


def test_existing_armature_modifier_and_groups_are_kept(ict):
    from faceforge.api import armature

    obj = load(ict)
    other = bpy.data.objects.new("OldRig", bpy.data.armatures.new("OldRig"))
    bpy.context.scene.collection.objects.link(other)
    old = obj.modifiers.new("Armature", "ARMATURE")
    old.object = other
    result = armature.generate_armature(obj)
    assert "Armature" in obj.modifiers and obj.modifiers["Armature"].object == other
    assert not obj.modifiers["Armature"].show_viewport and result["notes"]
    assert "OldRig" in bpy.data.objects
    # A vertex group of ours' name that FaceForge did not make: explained, nothing changed.
    armature.remove_rig([obj])
    obj.vertex_groups.new(name="jaw")
    with pytest.raises(FaceForgeError, match="rename"):
        armature.generate_armature(obj)
    assert [g.name for g in obj.vertex_groups] == ["jaw"] and "FaceForge Armature" not in obj.modifiers
    assert not [o for o in bpy.data.objects if o.name.endswith("_FaceRig")]


def test_bad_selection_messages(ict):
    from faceforge.api import armature, scene

    with pytest.raises(FaceForgeError, match="Select"):
        armature.generate_armature([])
    obj = scene.import_mesh(ict["path"], name="Bare")
    with pytest.raises(FaceForgeError, match="Detect Landmarks"):
        armature.generate_armature(obj)
    assert not obj.modifiers and not obj.vertex_groups and len(bpy.data.objects) == 1


@pytest.mark.parametrize("mode", ["BONES", "SHAPE_KEYS"])
def test_jaw_and_eyes_by_bone_or_shape_key_never_both(ict, mode):
    """With ARKit keys jawOpen/eyeLookOutLeft on the mesh, setting the key moves the jaw once."""
    from faceforge.api import armature, mesh

    obj = load(ict)
    base = mesh.vertex_coords(obj.data)
    chin = lm_vertex(ict, CHIN)
    jaw_key = base.copy()
    jaw_key[chin] += [0.0, -2.0, 0.0]  # local Y is up for the imported OBJ: chin down 2 cm
    mesh.set_shape_key(obj, "jawOpen", jaw_key)
    mesh.set_shape_key(obj, "eyeLookOutLeft", base)
    rest = evaluated(obj)
    result = armature.generate_armature(obj, mode=mode)
    keys = obj.data.shape_keys.key_blocks
    keys["jawOpen"].value = 1.0
    keys["eyeLookOutLeft"].value = 1.0
    bpy.context.view_layer.update()
    posed = evaluated(obj)
    arm = bpy.data.objects[result["armature"]]
    nose = lm_vertex(ict, NOSE_TIP)
    assert np.linalg.norm(posed[nose] - rest[nose]) < 1e-5
    if mode == "BONES":
        assert result["driven"] == ["jaw", "eye.L"] and keys["jawOpen"].mute
        assert arm.pose.bones["jaw"].matrix_basis.to_euler().x != 0
        # The bone opens the jaw: the chin goes down (and not by the key's 2 cm on top of it).
        assert posed[chin][2] < rest[chin][2] - 1.0
        lower = lm_vertex(ict, LOWER_LIP)
        assert posed[lower][2] < rest[lower][2] - 0.5  # the key never moved the lip: the bone did
        # Eye looks out = towards the subject's left (+X): the front of the eye moves +X.
        eye_front = np.flatnonzero(weights_of(obj, ["eye.L"])[:, 0] == 1.0)
        front = eye_front[np.argmin(rest[eye_front, 1])]
        assert posed[front][0] > rest[front][0] + 0.3
    else:
        assert result["driven"] == ["jaw", "eye.L"] and not keys["jawOpen"].mute
        np.testing.assert_allclose(posed[chin] - rest[chin], [0.0, 0.0, -2.0], atol=1e-4)
        # A keyed/posed jaw rotation (e.g. from another tool) cannot add a second opening: held at rest.
        arm.pose.bones["jaw"].rotation_euler[0] = 0.4
        bpy.context.view_layer.update()
        np.testing.assert_allclose(evaluated(obj)[chin], posed[chin], atol=1e-5)
        assert "eye.R" not in result["driven"]  # no eyeLook*Right keys: the right eye stays free
    # Switching mode by re-running restores the keys we muted.
    armature.generate_armature(obj, mode="SHAPE_KEYS")
    assert not keys["jawOpen"].mute


def test_cli_on_a_character_blend(ict, tmp_path):
    from faceforge.api import scene

    load(ict)
    src = scene.save_blend(str(tmp_path / "char.blend"))
    out = tmp_path / "rigged.blend"
    proc = subprocess.run([str(ROOT / "faceforge"), "armature", "--character", src, "--object", "ICT",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ICT_FaceRig" in proc.stdout and out.is_file()
    proc = subprocess.run([str(ROOT / "faceforge"), "armature", "--character", src, "--object", "Nope",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "No object named 'Nope'" in proc.stderr


def test_rigid_and_loose_parts_and_rotated_head(ict):
    """Teeth rigid to head/jaw, tongue on its chain, loose parts copy the skin under them; a head
    turned 90 degrees gets the same weights."""
    from scipy.spatial import cKDTree

    from faceforge.api import binding, mesh
    from faceforge.rigging import parts as P
    from faceforge.rigging import weights as W

    obj = load(ict)
    a = mesh.mesh_arrays(obj, world=True)
    lm = binding.landmark_positions(obj, world=True)
    plan = W.plan_rig(a.verts, a.tris, lm)
    w, parts = plan.weights, plan.parts
    assert (w.column("head")[parts.mask(P.TEETH_UP)] == 1).all()
    assert (w.column("jaw")[parts.mask(P.TEETH_LO)] == 1).all()
    tongue = sum(w.column(b) for b in ("tongue.001", "tongue.002", "tongue.003"))
    assert (tongue > 0.99).sum() > 500 and (tongue[parts.mask(P.SKIN)] < 1e-9).all()
    skin = np.flatnonzero(parts.mask(P.SKIN))
    loose = np.flatnonzero(parts.mask(P.LOOSE))
    _, nn = cKDTree(a.verts[skin]).query(a.verts[loose])
    np.testing.assert_allclose(w.weights[loose], w.weights[skin[nn]], atol=1e-9)
    # Head/neck blend: a band of the neck is partly head, partly neck.
    blend = (w.column("neck") > 0.2) & (w.column("head") > 0.2)
    assert blend.sum() > 100
    # The same head turned 90 degrees about Z and moved: same weights, bones turned with it.
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    move = np.array([5.0, -3.0, 2.0])
    turned = W.plan_rig(a.verts @ rot.T + move, a.tris, lm @ rot.T + move)
    np.testing.assert_allclose(turned.weights.weights, w.weights, atol=1e-6)
    np.testing.assert_allclose(turned.skeleton.frame.rotation, rot @ plan.skeleton.frame.rotation, atol=1e-9)


def test_controls_test_pose_sliders_drive_bones_and_reset_pose(ict):
    """Bone controls draw; the rig stage's Test Pose sliders (mirrored) drive our bones in BONES mode;
    Reset Pose puts bones, keys and sliders back."""
    from faceforge.api import armature, mesh
    from faceforge.core.arkit import ARKIT_NAMES
    from faceforge.panels import armature as panels

    obj = load(ict)
    base = mesh.vertex_coords(obj.data)
    for name in ARKIT_NAMES:
        mesh.set_shape_key(obj, name, base)
    result = armature.generate_armature(obj, mode="BONES")
    assert result["driven"] == ["jaw", "eye.L", "eye.R"]
    arm = bpy.data.objects[result["armature"]]
    drawn = {}
    for cls in panels.classes:
        assert cls.bl_parent_id == "VIEW3D_PT_faceforge_rig"
        assert not hasattr(cls, "poll") or cls.poll(bpy.context)
        layout = LayoutRecorder()
        cls.draw(type("P", (), {"layout": layout})(), bpy.context)
        drawn[cls.__name__] = layout.calls
    ops = {c[1][0] for calls in drawn.values() for c in calls if c[0] == "operator"}
    assert ops == {"faceforge.generate_armature", "faceforge.reset_face_pose"}
    bones = {c[1][0].name for c in drawn["VIEW3D_PT_faceforge_rig_armature_controls"] if c[0] == "prop"}
    assert bones == {"head", "neck", "jaw", "eye.L", "eye.R"}
    # Test Pose sliders (rig stage) with Mirror: eyeLookOutLeft also sets eyeLookOutRight; both eyes turn.
    bpy.context.scene.faceforge.rig.mirror_pose = True
    pose = obj.faceforge.rig.pose
    pose.jawOpen = 0.5
    pose.eyeLookOutLeft = 1.0
    bpy.context.view_layer.update()
    keys = obj.data.shape_keys.key_blocks
    assert keys["eyeLookOutRight"].value == pytest.approx(1.0)
    assert abs(arm.pose.bones["jaw"].matrix_basis.to_euler().x) > 0.1
    zl = arm.pose.bones["eye.L"].matrix_basis.to_euler().z
    zr = arm.pose.bones["eye.R"].matrix_basis.to_euler().z
    assert abs(zl) > 0.3 and zl == pytest.approx(-zr)  # mirrored turns: both look outwards
    # Reset Pose, from the rig: bones to rest, keys and sliders to 0.
    arm.pose.bones["head"].rotation_euler = (0.3, 0.1, 0.0)
    bpy.context.view_layer.objects.active = arm
    assert bpy.ops.faceforge.reset_face_pose() == {"FINISHED"}
    bpy.context.view_layer.update()
    assert tuple(arm.pose.bones["head"].rotation_euler) == (0.0, 0.0, 0.0)
    assert all(kb.value == 0.0 for kb in keys) and pose.jawOpen == 0.0 and pose.eyeLookOutLeft == 0.0
    assert abs(arm.pose.bones["jaw"].matrix_basis.to_euler().x) < 1e-9


def test_skin_only_mesh_no_eyeballs_no_teeth(ict):
    """Only the skin (no eyeballs, teeth, gums or tongue): eyes from the irises, no tongue chain."""
    from faceforge.api import binding, mesh
    from faceforge.rigging import parts as P
    from faceforge.rigging import weights as W

    obj = load(ict)
    a = mesh.mesh_arrays(obj, world=True)
    lm = binding.landmark_positions(obj, world=True)
    full = W.plan_rig(a.verts, a.tris, lm)
    keep = full.parts.mask(P.SKIN)
    new_index = np.cumsum(keep) - 1
    tris = new_index[a.tris[keep[a.tris].all(1)]]
    plan = W.plan_rig(a.verts[keep], tris, lm)
    assert plan.skeleton.eye_source == "landmarks" and "tongue.001" not in plan.skeleton.names()
    assert plan.parts.counts() == {"skin": int(keep.sum())}
    np.testing.assert_allclose(plan.weights.weights.sum(1), 1.0, atol=1e-9)
    hl, hr = plan.skeleton.bone("eye.L").head, plan.skeleton.bone("eye.R").head
    np.testing.assert_allclose(hl * [-1, 1, 1], hr, atol=1e-9)  # a mirror-symmetric pair (X-mirror works)
    for b in ("eye.L", "eye.R"):  # landmark-based eye centres land near the fitted eyeballs
        est = plan.skeleton.frame.to_world(plan.skeleton.bone(b).head)
        true = full.skeleton.frame.to_world(full.skeleton.bone(b).head)
        assert np.linalg.norm(est - true) < 0.15 * full.skeleton.frame.size
    # The skin's weights do not depend on the inner parts: without eyeballs the face's mid-plane comes
    # from the mesh's own mirror symmetry, which is where the eyeball pair put it.
    for b in ("head", "jaw", "neck"):
        np.testing.assert_allclose(plan.weights.column(b), full.weights.column(b)[keep], atol=1e-6)


def test_face_from_photo_gets_a_working_rig(tmp_path):
    """The other way in: the whole head made from one photo (eyeballs, teeth, tongue, the back of
    the head): the armature stage works on it as on any head."""
    import cv2
    from skimage import data as skdata

    from faceforge.api import armature, binding, photo_face

    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    obj = bpy.data.objects[photo_face.face_from_photo(str(path))["object"]]
    result = armature.generate_armature(obj)
    assert result["eyes"] == "mesh" and "jaw" in result["driven"]  # its own eyeballs; jawOpen drives the jaw
    key = obj.data.shape_keys.key_blocks["jawOpen"]
    assert key.mute  # BONES: the key's value turns the bone
    rest = evaluated(obj)
    key.value = 1.0
    moved = np.linalg.norm(evaluated(obj) - rest, axis=1)
    b = binding.read_binding(obj)
    spots = dict(chin=CHIN, lower=LOWER_LIP, upper=UPPER_LIP, nose=NOSE_TIP)
    at = {k: moved[b.verts[i]].max() for k, i in spots.items()}
    print("jaw bone at jawOpen 1, moved (m):", {k: round(float(v), 4) for k, v in at.items()})
    assert at["chin"] > 0.01 and at["lower"] > 0.005 and at["upper"] < 0.5 * at["lower"] and at["nose"] < 1e-4


def test_cancel_leaves_the_previous_rig(ict):
    """Esc during the solve (the worker's report raises Cancelled): the scene is as it was."""
    from faceforge.api import armature
    from faceforge.core.errors import Cancelled
    from faceforge.core.jobs import Offload

    obj = load(ict)
    armature.generate_armature(obj, mode="SHAPE_KEYS")
    state = lambda: (sorted(o.name for o in bpy.data.objects), [m.name for m in obj.modifiers],  # noqa: E731
                     sorted(g.name for g in obj.vertex_groups), bpy.data.objects["ICT_FaceRig"].data.name)
    before = state()
    job = armature.generate_armature_job(obj)
    item = next(job)
    while not isinstance(item, Offload):
        item = next(job)
    with pytest.raises(Cancelled):
        job.throw(Cancelled())
    assert state() == before


def test_video_animation_drives_our_head_eye_and_jaw_bones(ff, data):
    """Video stage on a real GRID clip: head/eye rotation go to our bones, jawOpen drives the jaw bone."""
    import math

    from test_video import fixture_character

    from faceforge.api import animate_video, armature
    from faceforge.core.jobs import run_sync

    obj = fixture_character(data)  # MediaPipe's canonical face with ARKit keys and an identity binding
    result = armature.generate_armature(obj, mode="BONES")
    assert result["driven"] == ["jaw"]  # the fixture has jawOpen; its eye shapes are not eyeLook*
    res = run_sync(animate_video.animate_from_video_job(obj, str(data / "video/grid/bbaf2n.mpg"), smoothing=0.3,
                                                       start_frame=1), on_progress=None)
    if bpy.context.scene.sequence_editor is not None:
        bpy.context.scene.sequence_editor_clear()
    assert res["head"] == "bone head" and res["eyes"] == 2
    arm = bpy.data.objects[result["armature"]]
    key = obj.data.shape_keys.key_blocks["jawOpen"]
    head = arm.pose.bones["head"]

    def chin_in_head():
        """The chin in the head bone's rest frame (world): the head's turn taken out."""
        deform = arm.matrix_world @ head.matrix @ head.bone.matrix_local.inverted() @ arm.matrix_world.inverted()
        return np.array(deform.inverted() @ Vector(evaluated(obj)[CHIN]))

    chin_rest = chin_in_head()
    opens, jaws, drops = [], [], []
    for f in range(1, 73, 6):
        bpy.context.scene.frame_set(f)
        opens.append(key.value)
        jaws.append(arm.pose.bones["jaw"].matrix_basis.to_euler().x)
        drops.append(chin_rest[2] - chin_in_head()[2])
    opens, jaws, drops = map(np.array, (opens, jaws, drops))
    assert opens.max() > 0.2 and key.mute
    np.testing.assert_allclose(np.abs(jaws), opens * math.radians(25), atol=1e-5)
    assert np.corrcoef(opens, drops)[0, 1] > 0.9  # the chin drops as the mouth opens


def test_bones_agree_with_the_generated_arkit_keys(ict):
    """With the rig stage's real ARKit keys, the jaw/eye bones (BONES mode) reproduce jawOpen and
    eyeLook* on the parts bound rigidly to them (the jaw turns and slides as the scanned key
    does), and nothing moves twice."""
    from faceforge.api import armature, mesh, shape_keys
    from faceforge.rigging.parts import components, rigid_vertices

    obj = load(ict)
    shape_keys.generate_shape_keys(obj)
    keys = obj.data.shape_keys.key_blocks
    base = mesh.shape_key_coords(obj, "Basis")
    arrays = mesh.mesh_arrays(obj)
    comp = components(arrays.tris, len(arrays.verts))
    to_world = np.array(obj.matrix_world)
    for mode in ("SHAPE_KEYS", "BONES"):
        result = armature.generate_armature(obj, mode=mode)
        for name, bone, tol in (("jawOpen", "jaw", 0.1), ("eyeLookUpLeft", "eye.L", 0.15),
                                ("eyeLookOutLeft", "eye.L", 0.15)):
            # the parts bound wholly to the bone (lower teeth; an eyeball): a scanned key moves them
            # rigidly (the chin's skin it also bends, which no bone can)
            rigid = rigid_vertices(weights_of(obj, [bone])[:, 0], comp)
            target = mesh.shape_key_coords(obj, name)[rigid] @ to_world[:3, :3].T + to_world[:3, 3]
            start = base[rigid] @ to_world[:3, :3].T + to_world[:3, 3]
            keys[name].value = 1.0
            bpy.context.view_layer.update()
            got = evaluated(obj)[rigid]
            keys[name].value = 0.0
            err = np.linalg.norm(got - target, axis=1).mean()
            motion = np.linalg.norm(target - start, axis=1).mean()
            assert motion > 0.3 and err < tol * motion, (mode, name, err, motion)
    assert result["driven"] == ["jaw", "eye.L", "eye.R"]
