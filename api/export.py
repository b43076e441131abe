"""Export the character (mesh + 52 ARKit shape keys + armature + baked takes) to FBX / glTF.

What plays in Blender plays the same in an engine: every take is exported as
Blender *shows* it, not as its curves are stored.

* **Jaw and eyes, once** (``motion``).  The rig stage's *Bones* mode mutes
  ``jawOpen`` / ``eyeLook*`` and drives the jaw/eye bones from them.  Engines
  don't run Blender drivers, so each take is baked: ``"BONES"`` writes the
  driven bone rotations as bone animation (evaluated from the take's key
  values through the drivers) and those keys' weights as 0; ``"SHAPE_KEYS"``
  writes the keys' weights and holds the driven bones at rest.  ``"AUTO"``
  (default) is what the rig does in Blender.  Either way all 52 ARKit targets
  are in the file (muted keys are written, at weight 0) and the motion
  happens once.
* **Metres** (``unit``).  glTF is in metres and engines read FBX through its
  unit scale; a head modelled in centimetres (the ICT OBJ) would arrive 34 m
  tall.  ``"AUTO"`` tells the unit from the distance between the eyes (or the
  height) and scales the exported copy to metres; ``"M"``, ``"CM"``, ``"MM"``,
  ``"IN"`` say what one Blender unit of this character is.  The result says
  what was scaled.
* **glTF / glb** - one glTF animation per take, named as the take: temporary
  copies of the take (shape keys, and the baked bones) sit on single-strip NLA
  tracks named as the take on the mesh's Key and on the armature, exported in
  ``ACTIONS`` mode merged by track name.  Morph target names are kept in
  ``mesh.extras.targetNames``; linear takes are written key for key, Bezier
  or modified curves are sampled every frame; each clip starts at time 0 (its
  first frame) and lasts ``(last - first) / fps`` seconds.
* **FBX** - Blender's FBX exporter writes shape-key animation only for the
  *active* action (``bake_anim_use_all_actions=False``,
  ``bake_anim_use_nla_strips=False``), so several takes mean one file per
  take: ``head.fbx`` holds the first take and ``head@<Take>.fbx`` each other
  take (Unity's ``model@clip`` convention; Unreal imports each as an
  Animation Sequence).  Keys are written for every frame (no simplification).

Nothing in the user's file changes: selection, active actions, NLA mutes,
key mutes, drivers, parenting, mesh data and the scene frame range are
restored afterwards, even on failure, and no temporary action is left.
Presets (axes and bone settings for Unreal, Unity, Godot) are documented in
``docs/export.md``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy

import numpy as np

from ..core import units as _units
from ..core.arkit import ARKIT_NAMES
from ..core import paths
from ..core.errors import FaceForgeError, FaceForgeFailure
from ..core.paths import safe_filename
from ..core.jobs import Progress, run_sync
from . import actions as _actions
from .character import armatures
from .scene import scene_fps

FORMATS = ("FBX", "GLB", "GLTF")
PRESETS = ("DEFAULT", "UNREAL", "UNITY", "GODOT")
MOTIONS = ("AUTO", "BONES", "SHAPE_KEYS")  # how jaw and eyes move in the file
UNITS = ("AUTO", *_units.UNITS)  # what one Blender unit of the character is
_EXT = {"FBX": ".fbx", "GLB": ".glb", "GLTF": ".gltf"}

# Exporter settings shared by every preset.
_FBX_COMMON = dict(
    use_selection=True, object_types={"MESH", "ARMATURE", "EMPTY"}, use_mesh_modifiers=False,
    bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
    bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True, bake_anim_step=1.0,
    bake_anim_simplify_factor=0.0, add_leaf_bones=False,
    path_mode="COPY", embed_textures=True,  # images (the photo head's skin) travel inside the .fbx
)
_GLTF_COMMON = dict(
    use_selection=True, export_yup=True, export_apply=False, export_morph=True,
    export_morph_normal=True, export_skins=True, export_animations=True,
    export_animation_mode="ACTIONS", export_force_sampling=False, export_frame_step=1,
    export_anim_slide_to_zero=True, export_optimize_animation_size=False, export_extras=True,
    # One animation per take: the Key's and the armature's tracks named as the take merge;
    # no other action of the file is gathered onto the armature.
    export_merge_animation="NLA_TRACK", export_anim_single_armature=False,
)

# Per-engine settings (see docs/export.md for the reasoning).
FBX_PRESETS = {
    "DEFAULT": dict(axis_forward="-Z", axis_up="Y", global_scale=1.0, apply_unit_scale=True,
                    apply_scale_options="FBX_SCALE_NONE"),
    # Unreal: cm units (FBX UnitScaleFactor 100), Z-up converted by the importer, no leaf
    # bones, bones along +Y, no extra root node for the armature object.
    "UNREAL": dict(axis_forward="-Z", axis_up="Y", global_scale=1.0, apply_unit_scale=True,
                   apply_scale_options="FBX_SCALE_NONE", primary_bone_axis="Y",
                   secondary_bone_axis="X", armature_nodetype="NULL", use_armature_deform_only=True,
                   mesh_smooth_type="FACE"),
    # Unity: scale 1 and no -90 degree X rotation on import ("Apply Transform").
    "UNITY": dict(axis_forward="-Z", axis_up="Y", global_scale=1.0, apply_unit_scale=True,
                  apply_scale_options="FBX_SCALE_ALL", bake_space_transform=True,
                  mesh_smooth_type="FACE"),
    # Godot 4 reads FBX through ufbx; glb is its native format (prefer it).
    "GODOT": dict(axis_forward="-Z", axis_up="Y", global_scale=1.0, apply_unit_scale=True,
                  apply_scale_options="FBX_SCALE_UNITS", mesh_smooth_type="FACE"),
}
GLTF_PRESETS = {
    # glTF fixes the axes (+Y up, +Z forward) and the unit (metre) for every engine.
    "DEFAULT": dict(),
    "UNREAL": dict(export_def_bones=True),
    "UNITY": dict(),
    "GODOT": dict(),
}


@dataclass
class TakeInfo:
    name: str
    frame_start: int
    frame_end: int

    @property
    def frames(self) -> int:
        return self.frame_end - self.frame_start + 1


@dataclass
class ExportResult:
    path: Path  # the main file
    files: list[Path]  # every file written (several for FBX with several takes)
    format: str
    preset: str
    fps: float
    takes: list[TakeInfo] = field(default_factory=list)
    shape_keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    motion: str = "SHAPE_KEYS"  # how jaw/eyes move in the file: BONES or SHAPE_KEYS
    bones: list[str] = field(default_factory=list)  # the driven bones baked to bone animation
    scale: float = 1.0  # exported size = Blender size x scale (to metres)
    unit: str = "M"  # the unit one Blender unit was taken for
    height_m: float = 0.0  # the character's height in the file, metres
    notes: list[str] = field(default_factory=list)  # what was done for the engines (scale, baking)


# --- takes ---------------------------------------------------------------------------

def _shape_key_names_in(action) -> set[str]:
    names = set()
    for fc in _actions.all_fcurves(action):
        path = fc.data_path
        if path.startswith('key_blocks["') and path.endswith('"].value'):
            names.add(path[len('key_blocks["'):-len('"].value')])
    return names


def find_takes(obj, which="ALL") -> list:
    """The Actions that animate ``obj``'s shape keys.

    ``which``: ``"ALL"`` (every Action keying at least one of this mesh's shape
    keys; the active one first, then by name), ``"ACTIVE"`` (only the Key's
    current action), or a list of Action names (that order).
    """
    key = obj.data.shape_keys if obj is not None and obj.type == "MESH" else None
    if key is None:
        return []
    own = {kb.name for kb in key.key_blocks[1:]}
    active = key.animation_data.action if key.animation_data else None
    if isinstance(which, str) and which.upper() == "ACTIVE":
        return [active] if active is not None else []
    if isinstance(which, str) and which.upper() == "ALL":
        found = [a for a in bpy.data.actions if _shape_key_names_in(a) & own]
        found.sort(key=lambda a: (a != active, a.name))
        return found
    out = []
    for name in which:
        action = bpy.data.actions.get(name)
        if action is None:
            raise FaceForgeError(f"There is no action named '{name}' to export; "
                                 f"takes on '{obj.name}': {', '.join(a.name for a in find_takes(obj)) or 'none'}")
        if not _shape_key_names_in(action) & own:
            raise FaceForgeError(f"Action '{name}' does not animate the shape keys of '{obj.name}'")
        out.append(action)
    return out


def _take_range(action, frame_range) -> tuple[int, int]:
    if frame_range is not None:
        return int(frame_range[0]), int(frame_range[1])
    lo, hi = action.frame_range
    return int(round(lo)), int(round(hi))


def _key_slot(action):
    """The action's slot for a shape-key datablock (4.4+), else None."""
    for slot in getattr(action, "slots", ()):
        if slot.target_id_type == "KEY":
            return slot
    return None


# --- scene state saved and restored around an export ------------------------------

class _SceneState:
    """Everything an export changes for a while, undone by :meth:`restore` (in reverse order)."""

    def __init__(self, obj):
        self.obj = obj
        scene = bpy.context.scene
        view_layer = bpy.context.view_layer
        self.selected = [o for o in view_layer.objects if o.select_get()]
        self.active = view_layer.objects.active
        self.frames = (scene.frame_start, scene.frame_end, scene.frame_current)
        self.scene_name = scene.name
        self.undo = []  # callables, run last-first
        self.temp_actions = []  # made for the export; removed afterwards
        self.keep_animation(obj.data.shape_keys)

    def keep_animation(self, owner):
        """Save ``owner``'s action, slot, NLA use and strip mutes, restored at the end (the export
        mutes the user's own strips so they stay out of the file)."""
        had = owner.animation_data is not None
        anim = owner.animation_data_create()
        action = anim.action
        slot = getattr(anim, "action_slot", None) if action is not None else None
        use_nla = anim.use_nla
        mutes = [(s, s.mute) for t in anim.nla_tracks for s in t.strips]

        def restore():
            a = owner.animation_data
            for strip, mute in mutes:
                strip.mute = mute
            a.use_nla = use_nla
            a.action = action
            if slot is not None and hasattr(a, "action_slot"):
                a.action_slot = slot
            if not had and action is None and len(a.nla_tracks) == 0 and len(a.drivers) == 0:
                owner.animation_data_clear()

        self.undo.append(restore)
        return anim

    def temp_track(self, owner, name: str):
        anim = owner.animation_data_create()
        track = anim.nla_tracks.new()
        track.name = name
        self.undo.append(lambda: owner.animation_data.nla_tracks.remove(track))
        return track

    def set(self, target, attr, value):
        """``setattr`` now, the old value back at the end."""
        old = getattr(target, attr)
        if old == value:
            return
        setattr(target, attr, value)
        self.undo.append(lambda: setattr(target, attr, old))

    def restore(self):
        scene = bpy.context.scene
        view_layer = bpy.context.view_layer
        errors = []
        for fn in reversed(self.undo):
            try:
                fn()
            except (ReferenceError, RuntimeError) as exc:  # keep undoing the rest
                errors.append(exc)
        self.undo = []
        for action in self.temp_actions:
            try:
                bpy.data.actions.remove(action)
            except ReferenceError:
                pass
        self.temp_actions = []
        scene.frame_start, scene.frame_end = self.frames[0], self.frames[1]
        scene.frame_set(self.frames[2])
        for o in view_layer.objects:
            o.select_set(o in self.selected)
        view_layer.objects.active = self.active
        if errors:
            raise errors[0]


def _select_character(obj):
    """Select the mesh, its armature (parent or Armature modifier) and nothing else."""
    view_layer = bpy.context.view_layer
    chosen = {obj, *armatures(obj)}
    for o in view_layer.objects:
        o.select_set(o in chosen)
    view_layer.objects.active = obj
    return chosen


def _assign(owner, action):
    """Make ``action`` the current one of ``owner`` (its only slot for that ID type on 4.4+)."""
    anim = owner.animation_data_create()
    anim.action = action
    if action is not None and hasattr(anim, "action_slot"):
        id_type = "KEY" if isinstance(owner, bpy.types.Key) else "OBJECT"
        slot = next((s for s in getattr(action, "slots", ()) if s.target_id_type == id_type), None)
        if slot is not None:
            anim.action_slot = slot


# --- jaw and eyes: bone animation or morph weights -----------------------------------

@dataclass
class _Motion:
    mode: str  # BONES | SHAPE_KEYS
    arm: object  # the armature (or None)
    key: object  # the face's Key (the one the drivers read)
    drivers: list  # api.armature.BoneDriver on the armature
    bone_keys: list[str]  # shape keys that drive bones
    muted: list[str]  # shape keys muted in the user's file

    @property
    def silent(self) -> list[str]:
        """Shape keys Blender does not show, written at weight 0: the muted ones, except the
        bone keys when jaw/eyes go out as shape keys."""
        return [n for n in self.muted if self.mode == "BONES" or n not in self.bone_keys]

    @property
    def driven_bones(self) -> list[str]:
        return list(dict.fromkeys(d.bone for d in self.drivers))


def _resolve_motion(obj, motion: str) -> _Motion:
    from .armature import bone_drivers

    key = obj.data.shape_keys
    arm = next(iter(armatures(obj)), None)
    drivers = bone_drivers(arm, key) if arm is not None else []
    bone_keys = list(dict.fromkeys(n for d in drivers for n in d.keys))
    rig_mode = "BONES" if bone_keys else "SHAPE_KEYS"
    mode = rig_mode if motion == "AUTO" else motion
    if mode == "BONES" and not bone_keys:
        why = (f"'{obj.name}' has no armature" if arm is None else
               f"no bone of '{arm.name}' is driven by the shape keys (jaw and eyes are rigged by shape keys)")
        raise FaceForgeError(f"Can't export jaw and eyes as bone animation: {why}. Re-run Generate Face "
                             "Armature with Jaw & Eyes By: Bones, or export them as Shape Keys")
    muted = [kb.name for kb in key.key_blocks[1:] if kb.mute]
    return _Motion(mode, arm, key, drivers, bone_keys, muted)


def _bone_curves_of(action, arm):
    """The F-curves of ``action`` (or its companion armature action before 4.4) that animate
    ``arm``'s pose bones."""
    out = [fc for fc in _actions.all_fcurves(action) if fc.data_path.startswith("pose.bones[")]
    if out or arm is None:
        return out
    companion = bpy.data.actions.get(f"{action.name}_{arm.name}")  # pre-slotted: the video stage's own
    return [fc for fc in _actions.all_fcurves(companion) if fc.data_path.startswith("pose.bones[")] \
        if companion is not None else []


def _zero_curves(action, names):
    """Set every key of ``action``'s curves for the shape keys ``names`` to 0."""
    paths = {f'key_blocks["{n}"].value' for n in names}
    for fc in _actions.all_fcurves(action):
        if fc.data_path in paths:
            n = len(fc.keyframe_points)
            co = np.empty(2 * n, np.float32)
            fc.keyframe_points.foreach_get("co", co)
            co[1::2] = 0.0
            fc.keyframe_points.foreach_set("co", co)
            for prop in ("handle_left", "handle_right"):
                fc.keyframe_points.foreach_get(prop, co)
                co[1::2] = 0.0
                fc.keyframe_points.foreach_set(prop, co)
            fc.update()


def _shift(action, offset: float):
    if not offset:
        return
    for fc in _actions.all_fcurves(action):
        n = len(fc.keyframe_points)
        for prop in ("co", "handle_left", "handle_right"):
            co = np.empty(2 * n, np.float32)
            fc.keyframe_points.foreach_get(prop, co)
            co[0::2] += offset
            fc.keyframe_points.foreach_set(prop, co)
        fc.update()


def _scale_locations(action, factor: float):
    """Bone/object location curves x ``factor`` (the exported copy is scaled to metres)."""
    if factor == 1.0:
        return
    for fc in _actions.all_fcurves(action):
        if fc.data_path.endswith("location"):
            n = len(fc.keyframe_points)
            for prop in ("co", "handle_left", "handle_right"):
                co = np.empty(2 * n, np.float32)
                fc.keyframe_points.foreach_get(prop, co)
                co[1::2] *= factor
                fc.keyframe_points.foreach_set(prop, co)
            fc.update()


def _take_copies(obj, action, info, motion: _Motion, state: _SceneState, scale: float, offset: float):
    """(shape-key action, bone action or None): the take as Blender shows it, for the exporters.

    Shape keys: a copy of the take; the keys that drive bones are zeroed when the bones carry
    the motion (BONES), as are keys muted for other reasons (Blender does not show them).
    Bones: the take's own bone curves, except driven channels, which are the drivers'
    values at every frame (BONES) or left out (SHAPE_KEYS: held at rest)."""
    from .armature import driven_values

    keys = action.copy()
    keys.name = f"{action.name}.ff-keys"
    state.temp_actions.append(keys)
    _zero_curves(keys, motion.silent)
    _shift(keys, offset)
    bones = None
    arm = motion.arm
    if arm is None:
        return keys, None
    driven = {d.channel for d in motion.drivers}
    own = [fc for fc in _bone_curves_of(action, arm) if (fc.data_path, fc.array_index) not in driven]
    frames = np.arange(info.frame_start, info.frame_end + 1)
    baked = []
    if motion.mode == "BONES":
        names = motion.bone_keys
        values = _actions.sample_shape_keys(action, names, frames)
        key_values = {n: values[:, i] for i, n in enumerate(names)}
        for d in motion.drivers:
            try:
                baked.append((d.channel, driven_values(d, motion.key, key_values, len(frames))))
            except ValueError as exc:
                raise FaceForgeError(f"Can't bake the rig's drivers for export: {exc}") from None
    if not own and not baked:
        return keys, None
    bones = bpy.data.actions.new(f"{action.name}.ff-bones")
    state.temp_actions.append(bones)
    bag = _actions.channels_for(bones, arm)
    for fc in own:  # copy the take's keyed bone channels as they are
        new = bag.fcurves.new(fc.data_path, index=fc.array_index)
        n = len(fc.keyframe_points)
        new.keyframe_points.add(n)
        for prop in ("co", "handle_left", "handle_right"):
            co = np.empty(2 * n, np.float32)
            fc.keyframe_points.foreach_get(prop, co)
            new.keyframe_points.foreach_set(prop, co)
        for prop, dtype in (("interpolation", np.int32), ("handle_left_type", np.int32),
                            ("handle_right_type", np.int32)):
            v = np.empty(n, dtype)
            fc.keyframe_points.foreach_get(prop, v)
            new.keyframe_points.foreach_set(prop, v)
        new.update()
    if baked:
        _actions.write_curves(bag, [c for c, _ in baked], frames, np.stack([v for _, v in baked], 1))
    _scale_locations(bones, scale)
    _shift(bones, offset)
    return keys, bones


def _hold_driven_bones(motion: _Motion, state: _SceneState):
    """Mute the rig's bone drivers for the export (the bones play the baked copies) and put the
    driven channels where the drivers hold them with every shape key at 0 (rest)."""
    from .armature import driven_values

    for d in motion.drivers:
        state.set(d.fcurve, "mute", True)
        pb_path, index = d.channel
        owner = motion.arm.path_resolve(pb_path)
        try:
            rest = float(driven_values(d, motion.key, {}, 1)[0])
        except ValueError:
            rest = 0.0
        old = owner[index]
        owner[index] = rest
        state.undo.append(lambda o=owner, i=index, v=old: o.__setitem__(i, v))


# --- unit: metres for the engines --------------------------------------------------------

def _resolve_scale(obj, unit: str, motion: _Motion) -> tuple[str, float, float]:
    """(unit, factor to metres, height in metres after scaling)."""
    from .binding import has_binding, landmark_positions

    scene = bpy.context.scene
    length = scene.unit_settings.scale_length if scene.unit_settings.system != "NONE" else 1.0
    height = float(max(obj.dimensions)) if len(obj.data.vertices) else 0.0
    if unit == "AUTO":
        eye = None
        if has_binding(obj):
            from ..rigging.regions import face_frame

            try:
                eye = face_frame(landmark_positions(obj, world=True)).scale
            except ValueError:
                eye = None
        guessed = _units.guess_unit(None if eye is None else eye * length, height * length)
        unit = guessed or "M"
        factor = _units.UNITS[unit] * length
    else:
        factor = _units.UNITS[unit]
    return unit, factor, height * factor


class _Scaled:
    """Scale the exported objects' data and placement by ``factor`` for the export (copies of
    the mesh and armature data, swapped in and out: the user's data is never rewritten)."""

    @staticmethod
    def apply(objects, factor: float, state: _SceneState):
        from mathutils import Matrix

        if factor == 1.0:
            return
        m = Matrix.Scale(factor, 4)
        world = {o: o.matrix_world.copy() for o in objects}
        for o in objects:
            if o.data is None:
                continue
            data = o.data.copy()
            original = o.data
            if isinstance(data, bpy.types.Mesh):
                data.transform(m, shape_keys=True)
                key = data.shape_keys
                if key is not None and original.shape_keys is not None and original.shape_keys.animation_data:
                    key.animation_data_clear()  # the export assigns its own copies
            else:
                data.transform(m)
            o.data = data
            name = original.name  # the file names the mesh/armature as the user did
            original.name = name + ".ff-orig"
            data.name = name

            def undo(o=o, d=original, c=data, name=name):
                o.data = d
                c.name = name + ".ff-copy"
                d.name = name
                _remove_data(c)

            state.undo.append(undo)
        for o in objects:  # positions scaled about the world origin; rotations and scales kept
            mw = world[o].copy()
            mw.translation = mw.translation * factor
            old = o.matrix_world.copy()
            o.matrix_world = mw
            state.undo.append(lambda o=o, old=old: setattr(o, "matrix_world", old))


def _remove_data(data):
    key = getattr(data, "shape_keys", None)
    if isinstance(data, bpy.types.Mesh):
        bpy.data.meshes.remove(data)
    elif isinstance(data, bpy.types.Armature):
        bpy.data.armatures.remove(data)
    if key is not None:
        try:
            if key.users == 0:
                bpy.data.shape_keys.remove(key) if hasattr(bpy.data.shape_keys, "remove") else None
        except ReferenceError:
            pass


# --- materials engines render differently ---------------------------------------------------

def transmissive_materials(obj) -> list[str]:
    """Names of ``obj``'s materials whose Principled BSDF is (nearly) fully transmissive: glass in
    Cycles, but black or see-through in engines that don't do transmission (and in many that do,
    on skin).  OBJ files whose .mtl says ``Tf 1 1 1`` import this way."""
    out = []
    for slot in obj.material_slots:
        mat = slot.material
        if mat is None or not mat.use_nodes or mat.node_tree is None:
            continue
        for node in mat.node_tree.nodes:
            if node.type != "BSDF_PRINCIPLED":
                continue
            sock = node.inputs.get("Transmission Weight") or node.inputs.get("Transmission")
            if sock is not None and not sock.is_linked and float(sock.default_value) >= 0.99:
                out.append(mat.name)
                break
    return list(dict.fromkeys(out))


# --- the export -----------------------------------------------------------------------

def _make_opaque(obj, names, state: _SceneState):
    """Transmission 0 on the Principled BSDFs of the materials ``names`` while exporting."""
    for slot in obj.material_slots:
        mat = slot.material
        if mat is None or mat.name not in names:
            continue
        for node in mat.node_tree.nodes:
            if node.type == "BSDF_PRINCIPLED":
                sock = node.inputs.get("Transmission Weight") or node.inputs.get("Transmission")
                if sock is not None and not sock.is_linked:
                    state.set(sock, "default_value", 0.0)


def _check(obj, fmt: str, preset: str, motion: str = "AUTO", unit: str = "AUTO"):
    from .mesh import require_mesh

    require_mesh(obj, "the character's face mesh")
    if fmt not in FORMATS:
        raise FaceForgeError(f"Unknown export format '{fmt}': use one of {', '.join(FORMATS)}")
    if preset not in PRESETS:
        raise FaceForgeError(f"Unknown export preset '{preset}': use one of {', '.join(PRESETS)}")
    if motion not in MOTIONS:
        raise FaceForgeError(f"Unknown jaw/eye motion '{motion}': use one of {', '.join(MOTIONS)}")
    if unit not in UNITS:
        raise FaceForgeError(f"Unknown unit '{unit}': use one of {', '.join(UNITS)}")
    if obj.data.shape_keys is None or len(obj.data.shape_keys.key_blocks) < 2:
        raise FaceForgeError(f"'{obj.name}' has no shape keys to export: build the 52 ARKit shape keys "
                             "in the Rig stage first")


def export_job(obj, path, fmt: str = "GLB", preset: str = "DEFAULT", frame_range=None, takes="ALL",
               morph_normals: bool = True, motion: str = "AUTO", unit: str = "AUTO", opaque: bool = False):
    """Job: export ``obj`` with its shape keys, armature and takes; returns :class:`ExportResult`.

    ``morph_normals=False`` leaves the per-target normals out of glTF files: often 5x
    smaller (engines then keep the base normals while a shape plays).  ``motion``: how
    jaw and eyes move in the file (``AUTO``: as the rig moves them in Blender; ``BONES``;
    ``SHAPE_KEYS``).  ``unit``: what one Blender unit of the character is (``AUTO``: told
    from its size; ``M``, ``CM``, ``MM``, ``IN``); the file is in metres.  ``opaque``: write
    fully transmissive materials (OBJ ``Tf 1 1 1``) with Transmission 0; without it they
    are written as they are, with a warning."""
    fmt, preset = str(fmt).upper(), str(preset).upper()
    motion, unit = str(motion).upper(), str(unit).upper()
    _check(obj, fmt, preset, motion, unit)
    if bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    path = Path(bpy.path.abspath(str(path))).resolve()
    if path.suffix.lower() != _EXT[fmt]:
        path = path.with_suffix(_EXT[fmt])
    paths.check_output(str(path), "The export file")  # before any work
    path.parent.mkdir(parents=True, exist_ok=True)
    take_actions = find_takes(obj, takes)
    key = obj.data.shape_keys
    names = [kb.name for kb in key.key_blocks[1:]]
    warnings = []
    missing = [n for n in ARKIT_NAMES if n not in names]
    if missing:
        warnings.append(f"{len(missing)} of the 52 ARKit shape keys are missing "
                        f"(e.g. {', '.join(missing[:3])}); engines expecting ARKit names will not drive them")
    if not take_actions:
        warnings.append("no baked take: exported the character without animation")
    if frame_range is not None and frame_range[1] < frame_range[0]:
        raise FaceForgeError(f"The frame range {frame_range[0]}-{frame_range[1]} is empty: the end "
                             "must not come before the start")
    clear = transmissive_materials(obj)
    if clear and not opaque:
        warnings.append(f"{len(clear)} material(s) are fully transmissive ({', '.join(clear[:4])}"
                        f"{', ...' if len(clear) > 4 else ''}; OBJ .mtl files with 'Tf 1 1 1' import so): "
                        "engines render them black or see-through - export with Opaque Materials "
                        "(--opaque-materials), or set Transmission Weight to 0 unless it is glass")
    how = _resolve_motion(obj, motion)
    unit, factor, height = _resolve_scale(obj, unit, how)
    scene = bpy.context.scene
    fps = scene_fps(scene)
    infos = [TakeInfo(a.name, *_take_range(a, frame_range)) for a in take_actions]
    result = ExportResult(path=path, files=[], format=fmt, preset=preset, fps=fps, takes=infos,
                          shape_keys=names, warnings=warnings, motion=how.mode, scale=factor, unit=unit,
                          height_m=height)
    if abs(factor - 1.0) > 1e-9:
        result.notes.append(f"scaled x{factor:g} to metres: '{obj.name}' reads as modelled in "
                            f"{_units.UNIT_NAMES.get(unit, unit)} ({max(obj.dimensions):.4g} units tall -> "
                            f"{height:.3g} m)")
    if how.mode == "BONES" and how.arm is not None:
        result.bones = how.driven_bones
        result.notes.append(f"jaw/eyes as bone animation ({', '.join(result.bones)}); "
                            f"{', '.join(how.bone_keys[:3])}{'...' if len(how.bone_keys) > 3 else ''} "
                            "written at weight 0")
    elif how.bone_keys:
        result.notes.append(f"jaw/eyes as shape keys; the bones they drive in Blender "
                            f"({', '.join(how.driven_bones)}) stay at rest")
    if not 0.05 <= height <= 3.0:
        warnings.append(f"the character is {height:.3g} m tall in the file: check its unit (export option Unit)")
    t0 = time.perf_counter()
    state = _SceneState(obj)
    try:
        chosen = _select_character(obj)
        if clear and opaque:
            _make_opaque(obj, clear, state)
            result.notes.append(f"{len(clear)} transmissive material(s) written opaque ({', '.join(clear[:4])}"
                                f"{', ...' if len(clear) > 4 else ''})")
        arm = how.arm
        if arm is not None:
            state.keep_animation(arm)
            _hold_driven_bones(how, state)
            if obj.parent is None:  # engines want the skinned mesh under its skeleton
                world = obj.matrix_world.copy()
                state.undo.append(lambda w=world: (setattr(obj, "parent", None), setattr(obj, "matrix_world", w)))
                obj.parent = arm
                obj.matrix_parent_inverse = arm.matrix_world.inverted()
        silent = set(how.silent)
        for kb in key.key_blocks[1:]:  # every target goes in the file; what Blender hides at weight 0
            state.set(kb, "mute", False)
            if kb.name in silent:
                state.set(kb, "value", 0.0)
        _Scaled.apply(sorted(chosen, key=lambda o: o.type != "ARMATURE"), factor, state)
        key = obj.data.shape_keys  # the scaled copy's Key when scaled
        key.animation_data_create()
        if fmt == "FBX":
            jobs = [(path, None, None)] if not take_actions else [
                (path if i == 0 else path.with_name(f"{path.stem}@{safe_filename(a.name)}{path.suffix}"), a, info)
                for i, (a, info) in enumerate(zip(take_actions, infos))]
            for i, (out, action, info) in enumerate(jobs):
                yield Progress(i / len(jobs), f"writing {out.name}")
                key.animation_data.use_nla = False  # only this take drives the keys
                if arm is not None:
                    arm.animation_data.use_nla = False
                if action is not None:
                    keys, bones = _take_copies(obj, action, info, how, state, factor, 0.0)
                    _assign(key, keys)
                    if arm is not None:
                        _assign(arm, bones)
                    scene.frame_start, scene.frame_end = info.frame_start, info.frame_end
                else:
                    key.animation_data.action = None
                    if arm is not None:
                        arm.animation_data.action = None
                settings = dict(_FBX_COMMON, **FBX_PRESETS[preset])
                settings["bake_anim"] = action is not None
                if abs(factor - 1.0) > 1e-9:  # the data is in metres now; don't apply the scene's unit again
                    settings["global_scale"] = settings.get("global_scale", 1.0) / (
                        scene.unit_settings.scale_length if scene.unit_settings.system != "NONE" else 1.0)
                # The FBX exporter names the take (AnimStack) after the scene.
                if action is not None and action.name not in bpy.data.scenes:
                    scene.name = action.name
                try:
                    _run_exporter(bpy.ops.export_scene.fbx, out, settings)
                finally:
                    scene.name = state.scene_name
                result.files.append(out)
        else:
            yield Progress(0.0, f"writing {path.name}")
            key.animation_data.action = None
            for strip in [s for t in key.animation_data.nla_tracks for s in t.strips]:
                state.set(strip, "mute", True)
            if arm is not None:
                arm.animation_data.action = None
                for strip in [s for t in arm.animation_data.nla_tracks for s in t.strips]:
                    state.set(strip, "mute", True)
            sampled = frame_range is not None or not all(_linear_only(a) for a in take_actions)
            for action, info in zip(take_actions, infos):
                start = info.frame_start
                # The exporter writes the keys as they are (fast) but does not slide them to
                # time 0: the copies start at frame 0.
                offset = -start if frame_range is None else 0
                keys, bones = _take_copies(obj, action, info, how, state, factor, offset)
                for owner, copy in ((key, keys), (arm, bones)):
                    if copy is None:
                        continue
                    track = state.temp_track(owner, action.name)
                    strip = track.strips.new(action.name, start + offset, copy)
                    slot = _key_slot(copy) if owner is key else next(
                        (s for s in getattr(copy, "slots", ()) if s.target_id_type == "OBJECT"), None)
                    if slot is not None and hasattr(strip, "action_slot"):
                        strip.action_slot = slot
            settings = dict(_GLTF_COMMON, **GLTF_PRESETS[preset])
            # Writing the keys as they are is ~10x faster than sampling every frame, and exact
            # for linear keys; Bezier curves, curve modifiers or clipping need sampling.
            settings["export_force_sampling"] = sampled
            settings["export_format"] = "GLB" if fmt == "GLB" else "GLTF_SEPARATE"
            settings["export_morph_normal"] = bool(morph_normals)
            settings["export_animations"] = bool(take_actions)
            if frame_range is not None:  # clip every take to the scene range
                settings["export_frame_range"] = True
                scene.frame_start, scene.frame_end = int(frame_range[0]), int(frame_range[1])
            _run_exporter(bpy.ops.export_scene.gltf, path, settings)
            result.files.append(path)
    finally:
        state.restore()
    result.seconds = time.perf_counter() - t0
    yield Progress(1.0, f"exported {len(result.files)} file(s)")
    return result


def _linear_only(action) -> bool:
    """True when every shape-key curve of ``action`` is linear between keys, with no modifiers."""
    import numpy as np

    for fc in _actions.all_fcurves(action):
        if not fc.data_path.startswith("key_blocks"):
            continue
        if len(fc.modifiers):
            return False
        n = len(fc.keyframe_points)
        interp = np.empty(n, np.int32)
        fc.keyframe_points.foreach_get("interpolation", interp)
        if n and not np.all(interp == 1):  # 1 = LINEAR
            return False
    return True


def _run_exporter(op, path: Path, settings: dict):
    """Run an exporter into a hidden folder beside ``path``; its files (a .gltf's .bin and
    textures too) move in only when it finished (``core.paths.writing_files``)."""
    with paths.writing_files(str(path)) as partial:
        try:
            status = op(filepath=partial, **settings)
        except RuntimeError as exc:
            raise FaceForgeFailure(f"Blender could not write {path.name}: {' '.join(str(exc).split())}") from None
        if "FINISHED" not in status or not os.path.isfile(partial):
            raise FaceForgeFailure(f"Blender did not write {path}: check the folder is writable")


def export_character(obj, path, fmt: str = "GLB", preset: str = "DEFAULT", frame_range=None,
                     takes="ALL", morph_normals: bool = True, motion: str = "AUTO", unit: str = "AUTO",
                     opaque: bool = False) -> Path:
    """Export ``obj`` (mesh + shape keys + armature + baked takes); returns the main file's Path.

    fmt: ``FBX`` | ``GLB`` | ``GLTF``; preset: ``DEFAULT`` | ``UNREAL`` | ``UNITY`` | ``GODOT``;
    frame_range: ``(first, last)`` to clip every take, else each take's own range;
    takes: ``"ALL"`` | ``"ACTIVE"`` | list of Action names; morph_normals: glTF per-target
    normals (off: much smaller files); motion, unit, opaque: see :func:`export_job`.  For every
    file written, the take ranges, the scale and notes, use :func:`export_job` (via ``run_sync``).
    """
    return run_sync(export_job(obj, path, fmt, preset, frame_range, takes, morph_normals, motion, unit, opaque),
                    on_progress=None).path

