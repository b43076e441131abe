"""Loading meshes, saving .blend files, small scene helpers."""

from __future__ import annotations

import os

import bpy

from ..core import params, paths
from ..core.errors import FaceForgeError, FaceForgeFailure

_IMPORTERS = {
    ".obj": lambda p: bpy.ops.wm.obj_import(filepath=p),
    ".ply": lambda p: bpy.ops.wm.ply_import(filepath=p),
    ".stl": lambda p: bpy.ops.wm.stl_import(filepath=p),
    ".fbx": lambda p: bpy.ops.import_scene.fbx(filepath=p),
    ".glb": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".gltf": lambda p: bpy.ops.import_scene.gltf(filepath=p),
}


def import_mesh(path: str, name: str | None = None, join: bool = True):
    """Import a mesh file (obj/ply/stl/fbx/glb) and return the mesh object.

    Several imported mesh objects are joined into one (like the ICT head's
    parts in one OBJ) when ``join`` is true.  Raises FaceForgeError with a
    clear message for missing, unsupported or empty files.
    """
    path = os.path.abspath(bpy.path.abspath(path))
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise FaceForgeError(f"Mesh file not found: {path}")
    if ext not in _IMPORTERS:
        raise FaceForgeError(f"Can't import '{ext}' files; use one of: {', '.join(sorted(_IMPORTERS))}")
    before = set(bpy.data.objects)
    try:
        _IMPORTERS[ext](path)
    except RuntimeError as exc:
        raise FaceForgeError(f"Blender could not read {os.path.basename(path)}: {exc}") from exc
    new = [o for o in bpy.data.objects if o not in before]
    meshes = [o for o in new if o.type == "MESH"]
    if not meshes:
        for o in new:
            bpy.data.objects.remove(o)
        raise FaceForgeError(f"{os.path.basename(path)} contains no mesh")
    obj = meshes[0]
    if join and len(meshes) > 1:
        with bpy.context.temp_override(active_object=obj, selected_editable_objects=meshes,
                                       selected_objects=meshes):
            bpy.ops.object.join()
    if name:
        obj.name = name
    return obj


def open_blend(path: str) -> str:
    """Open a character .blend (replacing the current file); clear errors when it can't."""
    path = os.path.abspath(bpy.path.abspath(path))
    if not os.path.isfile(path):
        raise FaceForgeError(f"Character file not found: {path}")
    try:
        # use_scripts=False: a character file never runs its own Python (like --disable-autoexec)
        bpy.ops.wm.open_mainfile(filepath=path, use_scripts=False)
    except RuntimeError as exc:
        raise FaceForgeError(f"Blender could not open {os.path.basename(path)}: {one_line(exc)}") from None
    return path


def one_line(exc) -> str:
    """An exception's message on one line (Blender's operator errors span several)."""
    return " ".join(str(exc).replace("Error: ", "").split())


def save_blend(path: str) -> str:
    """Save the open file as ``path`` (absolute) and return it; the file appears whole or not at all.

    The path is checked first (a folder, a path under a file, a read-only place: FaceForgeError);
    Blender writes a temporary file beside it that replaces ``path`` only once complete
    (``core.paths.writing``), so a failed or killed save leaves the old file untouched and no
    half-written ``X.blend@``.  The session keeps its own file path (a copy is saved)."""
    path = paths.check_output(bpy.path.abspath(str(path)), "The .blend file")
    with paths.writing(path) as tmp:
        try:
            bpy.ops.wm.save_as_mainfile(filepath=tmp, check_existing=False, copy=True)
        except RuntimeError as exc:
            raise FaceForgeFailure(f"Blender could not save {path}: {one_line(exc)}") from None
    return path


def scene_fps(scene=None) -> float:
    """The scene's frame rate in frames per second (``fps / fps_base``; the current scene by default)."""
    scene = scene or bpy.context.scene
    return scene.render.fps / scene.render.fps_base


def set_scene_fps(scene, fps: float) -> None:
    """Set the scene's frame rate, fractional rates too (29.97 = 30 / 1.001); 1..1000 fps."""
    fps = params.check("fps", fps, "The frame rate")
    scene.render.fps = int(round(fps))
    scene.render.fps_base = scene.render.fps / fps


def clear_scene() -> None:
    """Empty the current file (objects, meshes, materials, actions...).

    Used by headless jobs that build a scene from nothing.  (We do not call
    ``read_factory_settings``: in the bpy module it resets add-ons too.)
    """
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.actions,
                       bpy.data.cameras, bpy.data.lights, bpy.data.images, bpy.data.armatures,
                       bpy.data.curves, bpy.data.sounds, bpy.data.movieclips):
        for block in list(collection):
            collection.remove(block)
    scene = bpy.context.scene
    if hasattr(scene, "faceforge"):
        reset_settings(scene.faceforge)
    if scene.sequence_editor is not None:
        scene.sequence_editor_clear()
    set_scene_fps(scene, 24)
    scene.frame_start, scene.frame_end, scene.frame_current = 1, 250, 1


def reset_settings(group) -> None:
    """Put a PropertyGroup (and its sub-groups) back to its defaults."""
    for prop in group.bl_rna.properties:
        ident = prop.identifier
        if ident in {"rna_type", "name"}:
            continue
        if prop.type == "POINTER" and prop.fixed_type is not None and \
                issubclass(type(getattr(group, ident)), bpy.types.PropertyGroup):
            reset_settings(getattr(group, ident))
        elif prop.type == "COLLECTION":
            getattr(group, ident).clear()
        else:
            group.property_unset(ident)
