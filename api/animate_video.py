"""Animate a character from a driving video or a single image (Blender side).

Public jobs (see ``core/jobs.py``; the operators and the CLI call these):

* :func:`animate_from_video_job` - decode + MediaPipe tracking + solve run in
  an ``Offload`` (worker thread in the UI, progress, Esc); the bake into ONE
  action happens at the end on the main thread, so a cancel leaves the scene
  untouched.
* :func:`animate_from_image_job` - the same solve for one image; poses the
  character (and keys the current frame if asked).

The rig: every ARKit-named shape key on the object, measured on its bound
landmarks (``api.binding``) - see :func:`rig_basis`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import bpy

from ..animation import solve
from ..animation.retime import change_basis, retime_take
from ..core import limits, params
from ..core.errors import FaceForgeError
from ..core.jobs import Offload, Progress
from . import actions, binding
from ..rigging.regions import face_frame
from .actions import rotation_channels
from .character import armature_of, eye_bones, head_bone, require_rigged
from .mesh import require_mesh, shape_key_coords, vertex_coords
from .scene import scene_fps



# --- the rig -------------------------------------------------------------------------

def rig_basis(obj) -> tuple[solve.RigBasis, np.ndarray]:
    """The character's rig as a :class:`solve.RigBasis` (camera-frame axes) and its face axes (3, 3):
    columns = the face's left, up and forward in the object's space (``rigging.regions.face_frame``).

    Raises FaceForgeError when the object has no landmarks or no ARKit shape keys.
    """
    require_mesh(obj, "the character's face mesh")
    b = binding.read_binding(obj)
    if len(b.verts) < 468:
        raise FaceForgeError(f"'{obj.name}' has {len(b.verts)} landmarks; the video solve needs the 468 Face Mesh "
                             "landmarks: detect them again")
    names = require_rigged(obj)
    ref_name = obj.data.shape_keys.reference_key.name
    base = b.positions(shape_key_coords(obj, ref_name))
    deltas = np.stack([b.positions(shape_key_coords(obj, n)) - base for n in names])
    axes = face_frame(base).axes.T
    # To camera-frame axes: project onto the face axes.
    basis = solve.RigBasis(tuple(names), base @ axes, deltas @ axes, b.confidence)
    return basis, axes


# --- helpers for the bake ----------------------------------------------------------------

def _rot3(m) -> np.ndarray:
    """The rotation of a Blender 4x4/3x3 matrix, scale stripped."""
    from ..rigging.transfer import nearest_rotation

    return nearest_rotation(np.array(m, dtype=np.float64)[:3, :3])


def _object_rotations(obj, rots_obj: np.ndarray) -> np.ndarray:
    """Object-space head rotations (F, 3, 3) -> the object's new rotation matrices (rest @ delta)."""
    return np.einsum("ij,fjk->fik", _rest_rotation(obj), rots_obj)


def _rest_rotation(obj) -> np.ndarray:
    """The object's rotation before FaceForge first drove it (stored on the object), so takes don't compound."""
    state = obj.faceforge.animate
    if state.has_rest_rotation:
        return np.array(state.rest_rotation, dtype=np.float64).reshape(3, 3)
    rest = _rot3(obj.matrix_basis)
    state.rest_rotation = [float(x) for x in rest.reshape(-1)]
    state.has_rest_rotation = True
    return rest


def _bone_space(rots_obj: np.ndarray, obj, arm, pb) -> np.ndarray:
    """Mesh-object-space rotations -> the pose bone's local (rest-relative) space."""
    r_world = _rot3(obj.matrix_world)
    r_arm = _rot3(arm.matrix_world)
    r_bone = _rot3(pb.bone.matrix_local)
    return change_basis(rots_obj, r_bone.T @ r_arm.T @ r_world)  # object space -> bone rest space


@dataclass
class HeadChannels:
    owner: object  # the ID the curves animate: the armature (head bone) or the mesh object
    channels: list  # [(data_path, index)]
    values: np.ndarray  # (F, C) in the owner's rotation mode
    group: str
    label: str  # "bone head" / "object Face", for reports


def head_channels(obj, rots_obj: np.ndarray) -> HeadChannels:
    """Where and how a head rotation (F, 3, 3, object space of ``obj``, relative to rest) is keyed:
    the head bone of the character's armature when it has one, else the object's own rotation
    (rest @ delta, the rest stored once so takes do not compound)."""
    arm = armature_of(obj)
    head_pb = head_bone(arm)
    if head_pb is not None:
        suffix, vals = rotation_channels(_bone_space(rots_obj, obj, arm, head_pb), head_pb.rotation_mode)
        path = f'pose.bones["{head_pb.name}"].{suffix}'
        return HeadChannels(arm, [(path, i) for i in range(vals.shape[1])], vals, head_pb.name,
                            f"bone {head_pb.name}")
    suffix, vals = rotation_channels(_object_rotations(obj, rots_obj), obj.rotation_mode)
    return HeadChannels(obj, [(suffix, i) for i in range(vals.shape[1])], vals, "Object", f"object {obj.name}")


def face_axes(obj) -> tuple[np.ndarray, bool]:
    """(3, 3) columns = the face's left, up and forward in ``obj``'s space, from its bound
    landmarks (``rigging.regions.face_frame``); without landmarks Blender's front view
    (left +X, up +Z, forward -Y).  Second value: whether landmarks were used."""
    if len(obj.faceforge.landmarks.points) >= 468:
        b = binding.read_binding(obj)
        key = obj.data.shape_keys
        coords = shape_key_coords(obj, key.reference_key.name) if key else vertex_coords(obj.data)
        return face_frame(b.positions(coords)).axes.T, True
    return np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T, False


def _keep(action):
    """Give an action about to lose its user a fake user, so it survives saving."""
    if action is not None and not action.use_fake_user:
        action.use_fake_user = True


def _unique_action_name(base: str) -> str:
    name, i = base, 1
    while name in bpy.data.actions:
        i += 1
        name = f"{base}.{i:03d}"
    return name


def sequencer_strips(se):
    """The sequencer's top-level strips (``strips`` on 4.4+, ``sequences`` before; an empty one is falsy)."""
    return se.strips if hasattr(se, "strips") else se.sequences


def add_reference_strip(scene, path: str, frame_start: int, name: str = "FaceForge reference"):
    """Add the video as a VSE movie strip (channel above the others); returns the strip or None."""
    se = scene.sequence_editor or scene.sequence_editor_create()
    strips = sequencer_strips(se)
    want = os.path.normcase(os.path.abspath(path))
    for s in strips:  # the same video again: move its strip instead of stacking another
        if s.type == "MOVIE" and os.path.normcase(os.path.abspath(bpy.path.abspath(s.filepath))) == want:
            s.frame_start = int(frame_start)
            return s
    channel = 1 + max((s.channel for s in strips), default=0)
    try:
        return strips.new_movie(name=name, filepath=path, channel=channel, frame_start=int(frame_start))
    except (RuntimeError, TypeError):
        return None


# --- bake ------------------------------------------------------------------------------

def bake_take(obj, take: solve.Take, face_axes: np.ndarray, start_frame: int = 1, replace: bool = False,
              head: bool = True, eyes: bool = True, action_name: str | None = None, scene=None) -> dict:
    """Write a solved take into ONE action on the character (``face_axes`` from :func:`rig_basis`).
    Returns what was written."""
    scene = scene or bpy.context.scene
    timed = retime_take(take, face_axes, scene_fps(scene), start_frame)
    frames, weights, rots_obj = timed.frames, timed.weights, timed.head
    key = obj.data.shape_keys
    if not replace and key.animation_data is not None:
        _keep(key.animation_data.action)
    name = action_name or _unique_action_name(f"{obj.name}_video")
    action = actions.bake_shape_keys(obj, list(take.names), frames, weights, name, replace=replace)
    written = {"action": action.name, "frames": len(frames), "first_frame": int(frames[0]),
               "last_frame": int(frames[-1]), "shape_keys": len(take.names), "head": "", "eyes": 0}
    arm = armature_of(obj)
    head_pb = head_bone(arm)

    bags = {}

    def target_bag(id_owner):
        if id_owner.name in bags:
            return bags[id_owner.name]
        anim = id_owner.animation_data
        if anim is not None and anim.action is not None and anim.action != action:
            _keep(anim.action)  # it loses its user: keep it in the file
        if actions.SLOTTED:  # 4.4+: one action, a slot per animated ID
            bag = actions.channels_for(action, id_owner)
        else:  # before 4.4 an action animates one ID type: the object/armature gets its own
            own = bpy.data.actions.new(_unique_action_name(f"{name}_{id_owner.name}"))
            bag = actions.channels_for(own, id_owner)
        bags[id_owner.name] = bag
        return bag

    if head:
        hc = head_channels(obj, rots_obj)
        actions.write_curves(target_bag(hc.owner), hc.channels, frames, hc.values, group=hc.group)
        written["head"] = hc.label
    if eyes and arm is not None:
        eye_pbs = eye_bones(arm)
        for side, col in (("left", 0), ("right", 1)):
            pb = eye_pbs.get(side)
            if pb is None:
                continue
            r_obj = timed.eyes[:, col]
            if head and head_pb is not None and head_pb not in pb.parent_recursive:
                r_obj = np.einsum("fij,fjk->fik", rots_obj, r_obj)  # the eye does not inherit the head's turn
            local = _bone_space(r_obj, obj, arm, pb)
            suffix, vals = rotation_channels(local, pb.rotation_mode)
            bag = target_bag(arm)
            path = f'pose.bones["{pb.name}"].{suffix}'
            actions.write_curves(bag, [(path, i) for i in range(vals.shape[1])], frames, vals, group=pb.name)
            written["eyes"] += 1
    return written


# --- jobs --------------------------------------------------------------------------------

def _check_range(frame_range):
    start, end = (frame_range or (0, None))
    start = params.check("video.frame", start or 0, "The first video frame")
    end = None if end is None or int(end) < 0 else params.check("video.frame", end, "The last video frame") + 1
    if end is not None and end <= start:
        raise FaceForgeError(f"The frame range {start}-{end - 1} is empty: the last frame must be after the first")
    return start, end


def animate_from_video_job(obj, path: str, smoothing: float = 0.5, neutral_frame: int | None = None,
                           frame_range=(0, -1), start_frame: int = 1, replace: bool = False,
                           head: bool = True, eyes: bool = True, add_reference: bool = True,
                           max_side: int = 1280, action_name: str | None = None):
    """Job: a driving video -> ONE action of shape-key (+ head/eye rotation) keys on ``obj``.

    frame_range: video frames (first, last), inclusive, last = -1 for the end.
    neutral_frame: the video frame where the actor is at rest, or None = pick it.
    Returns a dict (action, frames, faces_found, bridged, neutral_frame, residual...).
    """
    from ..formats.video import probe

    path = bpy.path.abspath(path) if path else ""
    if not path:
        raise FaceForgeError("Choose a driving video first")
    smoothing = params.check("video.smoothing", smoothing)
    start_frame = params.check("start_frame", start_frame)
    neutral_frame = params.check_optional("video.frame", neutral_frame, "The neutral frame")
    basis, face_axes = rig_basis(obj)
    first, end = _check_range(frame_range)
    info = probe(path)
    scene = bpy.context.scene
    name = os.path.basename(path)
    if info.fps and info.frame_count:  # what the header claims, before decoding anything
        count = min(info.frame_count, end if end is not None else info.frame_count) - first
        if count > 0:
            limits.check_take((count - 1) / info.fps, scene_fps(scene),
                              f"{name} (by its header: {count:,} frames at {info.fps:g} fps)")
    yield Progress(0.0, f"tracking {name}")
    trk = yield Offload(solve.track_file, (path,), {"start": first, "end": end, "max_side": max_side},
                        report=True, span=(0.0, 0.85))
    # what the frames' timestamps say (variable frame rate, gaps), before anything is baked
    limits.check_take(float(trk.times[-1] - trk.times[0]), scene_fps(scene), name, samples=len(trk.times),
                      times=trk.times, unit="frame", start_frame=start_frame)
    take = yield Offload(solve.solve_take, (trk, basis),
                         {"neutral_frame": neutral_frame, "smoothing": smoothing}, report=True, span=(0.85, 0.95))
    yield Progress(0.95, "baking")
    result = bake_take(obj, take, face_axes, start_frame=start_frame, replace=replace, head=head, eyes=eyes,
                       action_name=action_name, scene=scene)
    if add_reference:
        fps = scene_fps(scene)
        strip = add_reference_strip(scene, path, start_frame - int(round(float(take.times[0]) * fps)))
        result["reference"] = strip.name if strip is not None else ""
        if strip is not None and info.fps and abs(info.fps - scene_fps(scene)) > 0.01:
            # Movie strips play one video frame per scene frame; retiming keys can't be added headless.
            result["reference_note"] = (f"the reference strip plays at the scene's {scene_fps(scene):g} fps, the "
                                        f"video is {info.fps:g} fps: set the scene to {info.fps:g} fps to compare "
                                        "frame by frame (the keys are already retimed)")
    result.update(take.stats)
    result.update({"video_fps": info.fps, "scene_fps": scene_fps(scene), "video": os.path.basename(path)})
    yield Progress(1.0, "done")
    return result


def _detect_image(rgb):
    """The largest face in a photo (``inference.face_mesh.find_face``: several or small faces too)."""
    from ..inference.face_mesh import find_face

    return find_face(rgb)


def animate_from_image_job(obj, path: str, key: bool = False, neutral_path: str | None = None,
                           head: bool = True, frame: int | None = None):
    """Job: pose the character like the face in one image (key the current frame if ``key``)."""
    from ..formats.video import read_image

    path = bpy.path.abspath(path) if path else ""
    if not path:
        raise FaceForgeError("Choose an image of a face first")
    frame = params.check_optional("frame", frame, "The frame to key")
    basis, face_axes = rig_basis(obj)
    rgb = read_image(path, max_side=1280)
    yield Progress(0.1, "finding the face")
    lm = yield Offload(_detect_image, (rgb,))
    if lm is None:
        raise FaceForgeError(f"No face was found in {os.path.basename(path)}: use a photo where the face is "
                             "visible, lit and turned toward the camera")
    neutral_pts = None
    if neutral_path:
        nlm = yield Offload(_detect_image, (read_image(bpy.path.abspath(neutral_path), max_side=1280),))
        if nlm is None:
            raise FaceForgeError(f"No face was found in the neutral image {os.path.basename(neutral_path)}")
        neutral_pts = nlm.points
    w, rot, eyes, res = solve.solve_image(lm.points, basis, neutral_points=neutral_pts)
    scene = bpy.context.scene
    frame = scene.frame_current if frame is None else int(frame)
    kbs = obj.data.shape_keys.key_blocks
    for n, v in zip(basis.names, w):
        kbs[n].value = float(v)
        if key:
            kbs[n].keyframe_insert("value", frame=frame, group="FaceForge")
    if head:
        rots = change_basis(rot[None], face_axes)
        arm = armature_of(obj)
        pb = head_bone(arm)
        if pb is not None:
            suffix, vals = rotation_channels(_bone_space(rots, obj, arm, pb), pb.rotation_mode)
            target = pb
        else:
            suffix, vals = rotation_channels(_object_rotations(obj, rots), obj.rotation_mode)
            target = obj
        setattr(target, suffix, tuple(vals[0]))
        if key:
            target.keyframe_insert(suffix, frame=frame, group="FaceForge")
    yield Progress(1.0, "posed")
    faces = int(getattr(lm, "num_faces", 1))
    return {"weights": {n: float(v) for n, v in zip(basis.names, w)}, "residual_iod": res,
            "keyed_frame": frame if key else None, "neutral": "image" if neutral_path else "character",
            "faces": faces, "note": f"{faces} faces in the photo: posed from the largest" if faces > 1 else ""}
