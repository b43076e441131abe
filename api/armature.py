"""Face armature + automatic skin weights on one or several mesh objects.

``generate_armature_job(objs, mode="BONES")`` (a job generator, see
``core/jobs.py``):

1. reads every mesh (world space) and the landmarks bound to the face mesh
   (the first object that has them);
2. in a worker thread: classifies the mesh parts, places the bones and
   computes the weights (``rigging.weights.plan_rig``);
3. at the end, on the main thread: removes the rig a previous run made (our
   armature object, our modifier, our vertex groups - nothing else), builds
   the armature object ``<face>_FaceRig``, writes the vertex groups and adds
   an Armature modifier named ``FaceForge Armature`` to every object.

``mode`` says how jaw and eyes animate when the face also has the ARKit
shape keys ``jawOpen`` / ``eyeLook*``: ``"BONES"`` mutes those keys and
drives the jaw/eye bones from their values (so animation keyed on the shape
keys moves the bones, never both); ``"SHAPE_KEYS"`` leaves the keys live and
the jaw/eye bones undriven.  See docs/armature.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix

from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress, run_sync
from ..rigging import armature as pure_arm
from ..rigging import parts as pure_parts
from ..rigging import weights as pure_weights
from . import mesh as mesh_api
from .binding import has_binding, landmark_positions

MODIFIER = "FaceForge Armature"
MODES = ("BONES", "SHAPE_KEYS")

# Driven bone rotations (radians at shape-key value 1).
JAW_OPEN = math.radians(25.0)
EYE_SIDE = math.radians(28.0)
EYE_VERTICAL = math.radians(22.0)
EYE_KEYS = {
    pure_arm.EYE_L: dict(up="eyeLookUpLeft", down="eyeLookDownLeft", out="eyeLookOutLeft", into="eyeLookInLeft"),
    pure_arm.EYE_R: dict(up="eyeLookUpRight", down="eyeLookDownRight", out="eyeLookOutRight", into="eyeLookInRight"),
}
BONE_KEYS = ("jawOpen", *[k for d in EYE_KEYS.values() for k in d.values()])


def rig_of(obj):
    """The FaceForge armature object that deforms ``obj`` (or None)."""
    mod = obj.modifiers.get(MODIFIER) if obj is not None and obj.type == "MESH" else None
    return mod.object if mod is not None else None


def _face_object(objs):
    for o in objs:
        if has_binding(o):
            return o
    names = ", ".join(f"'{o.name}'" for o in objs)
    raise FaceForgeError(f"None of {names} has landmarks: select the face mesh and run Detect Landmarks "
                         "(or Face from Photo) first")


def _check_objects(objs):
    objs = [o for o in (objs if isinstance(objs, (list, tuple)) else [objs]) if o is not None]
    if not objs:
        raise FaceForgeError("Select the face mesh first (nothing is selected)")
    seen = []
    for o in objs:
        mesh_api.require_mesh(o)
        if o.mode != "OBJECT":
            raise FaceForgeError("Switch to Object Mode first")
        if o not in seen:
            seen.append(o)
    return seen


def _foreign_groups(obj, names):
    ours = {g.name for g in obj.faceforge.armature.groups}
    return [n for n in names if n in obj.vertex_groups and n not in ours]


def generate_armature_job(objs, mode: str = "BONES"):
    """Build the face armature and weights for ``objs`` (the face mesh first; eye/teeth objects may follow)."""
    if mode not in MODES:
        raise FaceForgeError(f"Unknown mode '{mode}': use one of {', '.join(MODES)}")
    objs = _check_objects(objs)
    face = _face_object(objs)
    objs = [face] + [o for o in objs if o is not face]
    # A re-run keeps skinning every object the face's previous rig deformed (eyes, teeth...).
    old = rig_of(face)
    if old is not None:
        objs += [o for o in bpy.data.objects if o.type == "MESH" and o not in objs and rig_of(o) == old]
    yield Progress(0.0, "reading the meshes")
    verts, tris, offsets = [], [], [0]
    for o in objs:
        a = mesh_api.mesh_arrays(o, world=True)
        tris.append(a.tris.astype(np.int64) + offsets[-1])
        verts.append(a.verts)
        offsets.append(offsets[-1] + len(a.verts))
    verts = np.concatenate(verts)
    tris = np.concatenate(tris)
    if not np.isfinite(verts).all():
        raise FaceForgeError(f"'{face.name}' has vertices at infinite/NaN positions: fix the mesh first")
    lm = landmark_positions(face, world=True)
    plan = yield Offload(pure_weights.plan_rig, (verts, tris, lm), report=True, span=(0.05, 0.85))
    for o in objs:
        clash = _foreign_groups(o, plan.weights.bones)
        if clash:
            raise FaceForgeError(f"'{o.name}' already has vertex groups named {', '.join(clash)} that FaceForge "
                                 "did not make: rename them (they would be overwritten)")
    yield Progress(0.85, "building the armature")
    notes = []
    arm_obj = None
    try:
        remove_rig(objs)
        arm_obj = _build_armature(face, plan.skeleton)  # no yield from here on: Esc cannot stop it half-way
        for i, o in enumerate(objs):
            _write_groups(o, plan.weights, offsets[i], offsets[i + 1])
            note = _add_modifier(o, arm_obj)
            if note:
                notes.append(note)
        driven = _set_mode(face, arm_obj, plan.skeleton, mode, plan.weights, offsets[1])
    except BaseException:
        if arm_obj is not None:
            remove_rig(objs)
        raise
    counts = plan.parts.counts()
    for o in objs:
        o.update_tag()
    return dict(armature=arm_obj.name, objects=[o.name for o in objs], bones=plan.skeleton.names(),
                eyes=plan.skeleton.eye_source, parts=counts, mode=mode, driven=driven,
                vertices=int(len(verts)), notes=notes)


def generate_armature(objs, mode: str = "BONES", on_progress=None) -> dict:
    """Synchronous wrapper (CLI, scripts, tests)."""
    kw = {} if on_progress is None else {"on_progress": on_progress}
    return run_sync(generate_armature_job(objs, mode=mode), **kw)


# --- building ---------------------------------------------------------------

def remove_rig(objs):
    """Remove what a previous run made for these objects: armature, modifier, our groups, our mutes."""
    rigs = set()
    for o in objs:
        mod = o.modifiers.get(MODIFIER)
        if mod is not None:
            if mod.object is not None:
                rigs.add(mod.object)
            o.modifiers.remove(mod)
        for item in o.faceforge.armature.groups:
            g = o.vertex_groups.get(item.name)
            if g is not None:
                o.vertex_groups.remove(g)
        o.faceforge.armature.groups.clear()
        _unmute(o)
    for a in list(bpy.data.objects):
        if a.type == "ARMATURE" and (a in rigs or a.faceforge.armature.face in objs):
            data = a.data
            bpy.data.objects.remove(a)
            if data is not None and data.users == 0:
                bpy.data.armatures.remove(data)


def _set_names(collection, names) -> None:
    """Replace the items of a name list (``FACEFORGE_PG_name``) with ``names``."""
    collection.clear()
    for name in names:
        collection.add().name = name


def _unmute(o):
    keys = o.data.shape_keys
    for item in o.faceforge.armature.muted_keys:
        if keys is not None and item.name in keys.key_blocks:
            keys.key_blocks[item.name].mute = False
    o.faceforge.armature.muted_keys.clear()


def _build_armature(face, sk):
    name = f"{face.name}_FaceRig"
    data = bpy.data.armatures.new(name)
    data.display_type = "STICK"
    arm = bpy.data.objects.new(name, data)
    arm.faceforge.armature.face = face
    arm.show_in_front = True
    for coll in face.users_collection or [bpy.context.scene.collection]:
        coll.objects.link(arm)
    arm.matrix_world = Matrix([list(map(float, r)) for r in sk.frame.matrix()])  # rotation + origin, scale 1
    view_layer = bpy.context.view_layer
    prev_active = view_layer.objects.active
    prev_sel = [o for o in bpy.context.selected_objects]
    view_layer.objects.active = arm
    with bpy.context.temp_override(active_object=arm, object=arm, selected_objects=[arm],
                                   selected_editable_objects=[arm]):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            for b in sk.bones:
                eb = data.edit_bones.new(b.name)
                eb.head = tuple(b.head)
                eb.tail = tuple(b.tail)
                d = b.tail - b.head
                up = np.array([0.0, -1.0, 0.0]) if abs(d[2]) > 0.9 * np.linalg.norm(d) else np.array([0.0, 0.0, 1.0])
                eb.align_roll(tuple(up))
                eb.use_deform = b.deform
                if b.parent:
                    eb.parent = data.edit_bones[b.parent]
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = prev_active if prev_active is not None else face
    for o in prev_sel:
        o.select_set(True)
    for pb in arm.pose.bones:
        pb.rotation_mode = "XYZ"
    return arm


def _write_groups(o, w, start, end):
    """Vertex groups from weights rows [start, end) (bulk: one ``add`` call per distinct weight)."""
    rows = w.weights[start:end]
    written = []
    for j, name in enumerate(w.bones):
        col = rows[:, j]
        nz = np.flatnonzero(col > 0)
        if not len(nz):
            continue
        g = o.vertex_groups.new(name=name)
        written.append(name)
        q = np.round(col[nz] * 4096).astype(np.int64)
        order = np.argsort(q, kind="stable")
        qs = q[order]
        cuts = np.flatnonzero(np.diff(qs)) + 1
        for chunk, val in zip(np.split(nz[order], cuts), qs[np.r_[0, cuts]] if len(qs) else []):
            if val > 0:
                g.add(chunk.tolist(), float(val) / 4096.0, "REPLACE")
    _set_names(o.faceforge.armature.groups, written)


def _add_modifier(o, arm):
    note = ""
    for m in o.modifiers:
        if m.type == "ARMATURE" and m.name != MODIFIER and (m.show_viewport or m.show_render):
            m.show_viewport = False
            m.show_render = False
            note = (f"'{o.name}': kept its modifier '{m.name}' but switched it off (two armatures would "
                    "deform twice); switch it back on in the modifier panel to use it")
    mod = o.modifiers.new(MODIFIER, "ARMATURE")
    mod.object = arm
    mod.use_vertex_groups = True
    mod.use_bone_envelopes = False
    # Deform before subdivision & co.: first in the stack.
    try:
        o.modifiers.move(len(o.modifiers) - 1, 0)
    except (AttributeError, RuntimeError, TypeError):
        pass
    return note


def _rotation_sign(bone, axis_index, want):
    """+1/-1 so a positive rotation about the bone's local axis moves its tail towards ``want`` (armature space)."""
    m = np.array(bone.matrix_local, dtype=np.float64)[:3, :3]
    axis = m[:, axis_index]
    v = np.array(bone.tail_local) - np.array(bone.head_local)
    return 1.0 if np.cross(axis, v) @ np.asarray(want, dtype=np.float64) > 0 else -1.0


def _drive(arm, bone, index, keys, terms, path="rotation_euler"):
    """Driver on pose bone ``path``[index] (rotation_euler or location) = sum(coef * key value)."""
    fc = arm.pose.bones[bone].driver_add(path, index)
    drv = fc.driver
    drv.type = "SCRIPTED"
    parts = []
    for i, (key, coef) in enumerate(terms):
        var = drv.variables.new()
        var.name = f"k{i}"
        var.type = "SINGLE_PROP"
        t = var.targets[0]
        t.id_type = "KEY"
        t.id = keys
        t.data_path = f'key_blocks["{key}"].value'
        parts.append(f"{coef:+.6f}*k{i}")
    drv.expression = "".join(parts) or "0.0"  # no terms: the channel is held at rest
    drv.use_self = False


def _key_angle_fitter(face, arm, weights, count):
    """measure(key, bone, axis_index, default, slide=False) -> ``(angle, shift)``: the rotation
    (radians) that makes the bone agree with the shape key, fitted on the vertices bound rigidly to
    the bone (the lower teeth, else the chin, for the jaw; the eyeball for an eye) when the key rotates them, else
    ``(default, 0)``; with ``slide`` also the bone-space location (3,) that carries the rest of the
    key's rigid motion (a scanned jaw slides as it opens), zeros otherwise."""
    keys = face.data.shape_keys
    none = np.zeros(3)
    if weights is None or keys is None:
        return lambda key, bone, index, default, slide=False: (default, none)
    to_arm = np.linalg.inv(np.array(arm.matrix_world)) @ np.array(face.matrix_world)

    def arm_space(co):
        return co @ to_arm[:3, :3].T + to_arm[:3, 3]

    arrays = mesh_api.mesh_arrays(face)
    comp = pure_parts.components(arrays.tris, len(arrays.verts))  # once, for every bone and key

    def measure(key, bone, index, default, slide=False):
        kb = keys.key_blocks[key]
        rigid = pure_parts.rigid_vertices(weights.column(bone)[:count], comp)
        if len(rigid) < 3:
            return default, none
        rest = arm_space(mesh_api.shape_key_coords(face, kb.relative_key.name)[rigid])
        moved = arm_space(mesh_api.shape_key_coords(face, key)[rigid])
        size = float(np.ptp(rest, axis=0).max()) or 1.0
        if np.linalg.norm(moved - rest, axis=1).max() < 1e-4 * size:
            return default, none  # the key does not move this part: keep the typical angle
        m = np.array(arm.data.bones[bone].matrix_local, dtype=np.float64)
        angle, shift, res = pure_arm.fit_axis_motion(rest, moved, m[:3, 3], m[:3, index], slide=slide)
        moved_by = float(np.linalg.norm(moved - rest, axis=1).mean())
        if res > 0.35 * moved_by or np.sign(angle) != np.sign(default) or abs(angle) > math.radians(60):
            return default, none  # not a rotation of this part about this axis
        return angle, m[:3, :3].T @ shift  # pose locations are in the bone's rest axes

    return measure


def _set_mode(face, arm, sk, mode, weights=None, count=0):
    """Tie the jaw/eye bones to the ARKit keys so the motion never doubles.

    BONES: the keys drive the bones (all three rotation channels) and are muted.
    SHAPE_KEYS: the keys move the mesh; the bones whose keys exist are held at
    rest by a constant driver (so keyed bone rotations, e.g. from the video
    stage, cannot add a second motion).  Bones whose keys are absent stay free.
    Returns the names of the driven (or held) bones.
    """
    keys = face.data.shape_keys
    if keys is None:
        return []
    blocks = keys.key_blocks
    done, muted = [], []
    bones = arm.data.bones
    plan = {}
    measure = _key_angle_fitter(face, arm, weights, count)
    slides = {}  # bone -> {location index: [(key, coef)]}
    if "jawOpen" in blocks:
        s = _rotation_sign(bones[pure_arm.JAW], 0, (0, 0, -1))
        angle, shift = measure("jawOpen", pure_arm.JAW, 0, s * JAW_OPEN, slide=True)
        plan[pure_arm.JAW] = {0: [("jawOpen", angle)]}
        slides[pure_arm.JAW] = {i: [("jawOpen", float(c))] for i, c in enumerate(shift) if c}
    for bone, names in EYE_KEYS.items():
        if bone not in bones or not any(n in blocks for n in names.values()):
            continue
        b = bones[bone]
        out_dir = (1, 0, 0) if bone == pure_arm.EYE_L else (-1, 0, 0)
        su = _rotation_sign(b, 0, (0, 0, 1))
        so = _rotation_sign(b, 2, out_dir)
        plan[bone] = {
            0: [(n, measure(n, bone, 0, c)[0]) for n, c in ((names["up"], su * EYE_VERTICAL),
                                                             (names["down"], -su * EYE_VERTICAL)) if n in blocks],
            2: [(n, measure(n, bone, 2, c)[0]) for n, c in ((names["out"], so * EYE_SIDE),
                                                             (names["into"], -so * EYE_SIDE)) if n in blocks]}
    for bone, channels in plan.items():
        for index in range(3):
            terms = channels.get(index, []) if mode == "BONES" else []
            _drive(arm, bone, index, keys, terms)
            muted += [n for n, _ in terms]
        for index, terms in slides.get(bone, {}).items():  # the slide only where the key has one
            _drive(arm, bone, index, keys, terms if mode == "BONES" else [], path="location")
        done.append(bone)
    for n in muted:
        blocks[n].mute = True
    _set_names(face.faceforge.armature.muted_keys, muted)
    return done


def rig_and_meshes(obj):
    """(armature or None, [meshes]) for a selected face mesh or face rig."""
    if obj is None:
        return None, []
    if obj.type == "ARMATURE":
        meshes = [o for o in bpy.data.objects if o.type == "MESH" and rig_of(o) == obj]
        return obj, meshes
    if obj.type == "MESH":
        arm = rig_of(obj)
        meshes = [obj] + ([o for o in bpy.data.objects if o.type == "MESH" and o is not obj and rig_of(o) == arm]
                          if arm is not None else [])
        return arm, meshes
    return None, []


def reset_pose(obj) -> None:
    """Face rig bones back to rest and the ARKit shape values to 0 (for a face mesh or its rig)."""
    arm, meshes = rig_and_meshes(obj)
    if arm is None and not meshes:
        raise FaceForgeError("Select the face mesh or its face rig first")
    from .shape_keys import reset_pose as reset_keys

    for o in meshes:
        if o.data.shape_keys is not None:
            reset_keys(o)  # keys and the Test Pose sliders
    if arm is None:
        return
    for pb in arm.pose.bones:
        pb.location = (0.0, 0.0, 0.0)
        pb.rotation_euler = (0.0, 0.0, 0.0)
        pb.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
        pb.scale = (1.0, 1.0, 1.0)


# --- drivers, read back as arrays (exports bake what Blender shows) ---------------------------

@dataclass
class BoneDriver:
    """A driver on a pose-bone channel of the face rig."""

    data_path: str  # 'pose.bones["jaw"].rotation_euler'
    index: int  # array index (0 = X)
    bone: str
    keys: list[str]  # the shape keys (of the face's Key) it reads; [] = held at a constant
    fcurve: object  # the driver F-curve

    @property
    def channel(self) -> tuple[str, int]:
        return self.data_path, self.index


def bone_drivers(arm, key=None) -> list[BoneDriver]:
    """Every driver on ``arm``'s pose bones, with the shape keys of ``key`` each reads."""
    out = []
    anim = arm.animation_data if arm is not None else None
    if anim is None:
        return out
    for fc in anim.drivers:
        path = fc.data_path
        if not path.startswith('pose.bones["'):
            continue
        bone = path[len('pose.bones["'):path.index('"]')]
        names = []
        for var in fc.driver.variables:
            for t in var.targets[:1]:
                name = _key_block_name(t.data_path)
                if var.type == "SINGLE_PROP" and key is not None and t.id == key and name is not None:
                    names.append(name)
        out.append(BoneDriver(path, fc.array_index, bone, names, fc))
    return out


def _key_block_name(path: str):
    if path.startswith('key_blocks["') and path.endswith('"].value'):
        return path[len('key_blocks["'):-len('"].value')]
    return None


def driven_values(drv: BoneDriver, key, key_values: dict, frames: int) -> np.ndarray:
    """What the driver ``drv`` gives at every frame, from the shape keys' values ``key_values``
    (name -> (F,)).  Raises ValueError for a driver that reads anything but shape keys of ``key``."""
    fc = drv.fcurve
    d = fc.driver
    variables = {}
    for var in d.variables:
        t = var.targets[0]
        name = _key_block_name(t.data_path)
        if var.type != "SINGLE_PROP" or t.id != key or name is None:
            raise ValueError(f"the driver on {drv.data_path}[{drv.index}] reads '{t.data_path}', not a shape key")
        variables[var.name] = np.asarray(key_values.get(name, np.zeros(frames)), dtype=np.float64)
    out = pure_arm.evaluate_driver(d.type, d.expression, variables, frames)
    if len(fc.keyframe_points):
        return np.array([fc.evaluate(float(v)) for v in out])
    for mod in fc.modifiers:
        if mod.mute:
            continue
        if mod.type == "GENERATOR" and mod.mode == "POLYNOMIAL" and not mod.use_additive \
                and not mod.use_restricted_range and not mod.use_influence:
            out = np.polyval(list(mod.coefficients)[::-1], out)
        else:
            return np.array([fc.evaluate(float(v)) for v in pure_arm.evaluate_driver(
                d.type, d.expression, variables, frames)])
    return out
