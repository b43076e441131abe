"""Export the character (mesh + 52 ARKit shape keys + armature + baked takes) to FBX / glTF.

Blender's own exporters do the writing, with the settings that really write
shape-key animation:

* **glTF / glb** - one glTF animation per take.  Every take (an Action that
  keys ``key_blocks["..."].value``) goes on a temporary single-strip NLA track
  of the mesh's Key and the exporter runs in ``ACTIONS`` mode; morph target
  names are kept in ``mesh.extras.targetNames``; linear takes are written key
  for key (from a temporary copy shifted to frame 0), Bezier or modified
  curves are sampled every frame; each clip starts at time 0 (its first
  frame) and lasts ``(last - first) / fps`` seconds.
* **FBX** - Blender's FBX exporter writes shape-key animation only for the
  *active* action (``bake_anim_use_all_actions=False``,
  ``bake_anim_use_nla_strips=False``), so several takes mean one file per
  take: ``head.fbx`` holds the first take and ``head@<Take>.fbx`` each other
  take (Unity's ``model@clip`` convention; Unreal imports each as an
  Animation Sequence).  Keys are written for every frame (no simplification).

Nothing in the user's file changes: selection, active action, NLA mutes and
the scene frame range are restored afterwards, even on failure.
Presets (scale and axes for Unreal, Unity, Godot) are documented in
``docs/export.md``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy

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
_EXT = {"FBX": ".fbx", "GLB": ".glb", "GLTF": ".gltf"}

# Exporter settings shared by every preset.
_FBX_COMMON = dict(
    use_selection=True, object_types={"MESH", "ARMATURE", "EMPTY"}, use_mesh_modifiers=False,
    bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
    bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True, bake_anim_step=1.0,
    bake_anim_simplify_factor=0.0, add_leaf_bones=False, path_mode="AUTO",
)
_GLTF_COMMON = dict(
    use_selection=True, export_yup=True, export_apply=False, export_morph=True,
    export_morph_normal=True, export_skins=True, export_animations=True,
    export_animation_mode="ACTIONS", export_force_sampling=False, export_frame_step=1,
    export_anim_slide_to_zero=True, export_optimize_animation_size=False, export_extras=True,
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
    """Selection, active object, frame range, the Key's action/NLA: saved, restored."""

    def __init__(self, obj):
        self.obj = obj
        scene = bpy.context.scene
        view_layer = bpy.context.view_layer
        self.selected = [o for o in view_layer.objects if o.select_get()]
        self.active = view_layer.objects.active
        self.frames = (scene.frame_start, scene.frame_end, scene.frame_current)
        self.scene_name = scene.name
        key = obj.data.shape_keys
        self.had_anim = key.animation_data is not None
        anim = key.animation_data_create()
        self.action = anim.action
        self.slot = getattr(anim, "action_slot", None) if anim.action is not None else None
        self.use_nla = anim.use_nla
        self.mutes = [(t, [(s, s.mute) for s in t.strips]) for t in anim.nla_tracks]
        self.temp_tracks = []
        self.temp_actions = []  # shifted copies made for the export
        self.renamed = []  # (action, its real name) while a copy wears that name

    def restore(self):
        scene = bpy.context.scene
        view_layer = bpy.context.view_layer
        key = self.obj.data.shape_keys
        anim = key.animation_data
        for track in self.temp_tracks:
            anim.nla_tracks.remove(track)
        self.temp_tracks = []
        for action in self.temp_actions:
            bpy.data.actions.remove(action)
        self.temp_actions = []
        for action, name in self.renamed:
            action.name = name
        self.renamed = []
        for _track, strips in self.mutes:
            for strip, mute in strips:
                strip.mute = mute
        anim.use_nla = self.use_nla
        anim.action = self.action
        if self.slot is not None and hasattr(anim, "action_slot"):
            anim.action_slot = self.slot
        if not self.had_anim and self.action is None and len(anim.nla_tracks) == 0:
            key.animation_data_clear()
        scene.frame_start, scene.frame_end = self.frames[0], self.frames[1]
        scene.frame_set(self.frames[2])
        for o in view_layer.objects:
            o.select_set(o in self.selected)
        view_layer.objects.active = self.active


def _select_character(obj):
    """Select the mesh, its armature (parent or Armature modifier) and nothing else."""
    view_layer = bpy.context.view_layer
    chosen = {obj, *armatures(obj)}
    for o in view_layer.objects:
        o.select_set(o in chosen)
    view_layer.objects.active = obj
    return chosen


def _set_active_take(obj, action):
    anim = obj.data.shape_keys.animation_data
    anim.action = action
    slot = _key_slot(action)
    if slot is not None and hasattr(anim, "action_slot"):
        anim.action_slot = slot


# --- the export -----------------------------------------------------------------------

def _check(obj, fmt: str, preset: str):
    from .mesh import require_mesh

    require_mesh(obj, "the character's face mesh")
    if fmt not in FORMATS:
        raise FaceForgeError(f"Unknown export format '{fmt}': use one of {', '.join(FORMATS)}")
    if preset not in PRESETS:
        raise FaceForgeError(f"Unknown export preset '{preset}': use one of {', '.join(PRESETS)}")
    if obj.data.shape_keys is None or len(obj.data.shape_keys.key_blocks) < 2:
        raise FaceForgeError(f"'{obj.name}' has no shape keys to export: build the 52 ARKit shape keys "
                             "in the Rig stage first")


def export_job(obj, path, fmt: str = "GLB", preset: str = "DEFAULT", frame_range=None, takes="ALL",
               morph_normals: bool = True):
    """Job: export ``obj`` with its shape keys, armature and takes; returns :class:`ExportResult`.

    ``morph_normals=False`` leaves the per-target normals out of glTF files: often 5x
    smaller (engines then keep the base normals while a shape plays)."""
    fmt, preset = str(fmt).upper(), str(preset).upper()
    _check(obj, fmt, preset)
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
    scene = bpy.context.scene
    fps = scene_fps(scene)
    infos = [TakeInfo(a.name, *_take_range(a, frame_range)) for a in take_actions]
    result = ExportResult(path=path, files=[], format=fmt, preset=preset, fps=fps, takes=infos,
                          shape_keys=names, warnings=warnings)
    t0 = time.perf_counter()
    state = _SceneState(obj)
    try:
        _select_character(obj)
        if fmt == "FBX":
            jobs = [(path, None, None)] if not take_actions else [
                (path if i == 0 else path.with_name(f"{path.stem}@{safe_filename(a.name)}{path.suffix}"), a, info)
                for i, (a, info) in enumerate(zip(take_actions, infos))]
            for i, (out, action, info) in enumerate(jobs):
                yield Progress(i / len(jobs), f"writing {out.name}")
                key.animation_data.use_nla = False  # only this take drives the keys
                if action is not None:
                    _set_active_take(obj, action)
                    scene.frame_start, scene.frame_end = info.frame_start, info.frame_end
                else:
                    key.animation_data.action = None
                settings = dict(_FBX_COMMON, **FBX_PRESETS[preset])
                settings["bake_anim"] = action is not None
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
            anim = key.animation_data
            for _track, strips in state.mutes:  # the user's own NLA strips stay out of the file
                for strip, _mute in strips:
                    strip.mute = True
            anim.action = None
            for action, info in zip(take_actions, infos):
                name, start = action.name, info.frame_start
                if frame_range is None and start != 0:
                    # The exporter writes the keys as they are (fast) but does not slide
                    # them to time 0: export a copy starting at frame 0, under the take's name.
                    action = _shifted_copy(action, -start, state)
                    start = 0
                track = anim.nla_tracks.new()
                state.temp_tracks.append(track)
                track.name = name
                strip = track.strips.new(name, start, action)
                slot = _key_slot(action)
                if slot is not None and hasattr(strip, "action_slot"):
                    strip.action_slot = slot
            settings = dict(_GLTF_COMMON, **GLTF_PRESETS[preset])
            # Writing the keys as they are is ~10x faster than sampling every frame, and exact
            # for linear keys; Bezier curves, curve modifiers or clipping need sampling.
            settings["export_force_sampling"] = frame_range is not None or not all(
                _linear_only(a) for a in take_actions)
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


def _shifted_copy(action, offset: float, state: "_SceneState"):
    """A copy of ``action`` with every key moved by ``offset`` frames, named as the original
    (which is renamed meanwhile); both undone by ``state.restore()``."""
    import numpy as np

    copy = action.copy()
    state.temp_actions.append(copy)
    name = action.name
    state.renamed.append((action, name))
    action.name = name + ".faceforge-export"
    copy.name = name
    for fc in _actions.all_fcurves(copy):
        n = len(fc.keyframe_points)
        for prop in ("co", "handle_left", "handle_right"):
            co = np.empty(2 * n, np.float32)
            fc.keyframe_points.foreach_get(prop, co)
            co[0::2] += offset
            fc.keyframe_points.foreach_set(prop, co)
        fc.update()
    return copy


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
                     takes="ALL", morph_normals: bool = True) -> Path:
    """Export ``obj`` (mesh + shape keys + armature + baked takes); returns the main file's Path.

    fmt: ``FBX`` | ``GLB`` | ``GLTF``; preset: ``DEFAULT`` | ``UNREAL`` | ``UNITY`` | ``GODOT``;
    frame_range: ``(first, last)`` to clip every take, else each take's own range;
    takes: ``"ALL"`` | ``"ACTIVE"`` | list of Action names; morph_normals: glTF per-target
    normals (off: much smaller files).  For every file written and
    the take ranges, use :func:`export_job` (via ``run_sync``).
    """
    return run_sync(export_job(obj, path, fmt, preset, frame_range, takes, morph_normals), on_progress=None).path

