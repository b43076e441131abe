"""The character: which mesh is the face, whether it is rigged, which armature moves it.

One answer per question, for every stage, operator and subcommand:

* :func:`arkit_keys` / :func:`is_rigged` / :func:`require_rigged` - a mesh is
  *rigged* when it has shape keys named as ARKit's blendshapes (the Rig stage
  makes them; an imported ARKit character has them too);
* :func:`armatures` / :func:`armature_of` - the armatures that deform a mesh
  (its Armature modifiers' objects, then an armature parent); :func:`head_bone`,
  :func:`eye_bones` - their head and eye pose bones, found by name;
* :func:`find_character` - the face mesh in an opened .blend: the one named,
  else the only rigged mesh, else the only mesh with landmarks, else the only
  mesh (the command line's rule when ``--object`` is not given).
"""

from __future__ import annotations

import bpy

from ..core.arkit import ARKIT_NAMES
from ..core.errors import FaceForgeError
from .binding import has_binding


def arkit_keys(obj) -> list[str]:
    """The ARKit names ``obj`` has as shape keys, in ARKit order ([] for a non-mesh or no keys)."""
    if obj is None or obj.type != "MESH" or obj.data.shape_keys is None:
        return []
    blocks = obj.data.shape_keys.key_blocks
    return [n for n in ARKIT_NAMES if n in blocks]


def is_rigged(obj) -> bool:
    """Whether ``obj`` is a mesh with ARKit-named shape keys."""
    return bool(arkit_keys(obj))


def require_rigged(obj) -> list[str]:
    """:func:`arkit_keys` of a rigged mesh; a FaceForgeError that says what to do otherwise."""
    from .mesh import require_mesh

    require_mesh(obj, "the character's face mesh")
    names = arkit_keys(obj)
    if not names:
        raise FaceForgeError(f"'{obj.name}' has no ARKit shape keys (jawOpen, mouthSmileLeft, ...): build "
                             "them in the 2 Rig stage first, or select the character that has them")
    return names


def armatures(obj) -> list:
    """The armature objects that deform ``obj``: its Armature modifiers' objects (stack order),
    then its parent when that is an armature; each once."""
    found = []
    if obj is None:
        return found
    for mod in getattr(obj, "modifiers", ()):
        if mod.type == "ARMATURE" and mod.object is not None and mod.object not in found:
            found.append(mod.object)
    if obj.parent is not None and obj.parent.type == "ARMATURE" and obj.parent not in found:
        found.append(obj.parent)
    return found


def armature_of(obj):
    """The armature that moves ``obj`` (the first of :func:`armatures`), or None."""
    found = armatures(obj)
    return found[0] if found else None


# Eye bones: names with "eye", not lids/brows/lashes/sockets/targets.
EYE_WORDS = ("eye",)
EYE_EXCLUDE = ("lid", "brow", "lash", "socket", "target")


def head_bone(arm):
    """The head pose bone of ``arm`` (FaceForge's ``head``, Rigify, Mixamo names...) or None."""
    if arm is None:
        return None
    for name in ("head", "Head", "DEF-head", "ORG-head", "mixamorig:Head", "head.x"):
        if name in arm.pose.bones:
            return arm.pose.bones[name]
    for pb in arm.pose.bones:
        if pb.name.lower() == "head":
            return pb
    return None


def eye_bones(arm):
    """{'left': pose bone, 'right': pose bone} found by name (eye.L, eye_R, LeftEye, ...)."""
    out = {}
    if arm is None:
        return out
    for pb in arm.pose.bones:
        n = pb.name.lower()
        if not any(w in n for w in EYE_WORDS) or any(w in n for w in EYE_EXCLUDE):
            continue
        if n.endswith((".l", "_l", "-l")) or "left" in n:
            out.setdefault("left", pb)
        elif n.endswith((".r", "_r", "-r")) or "right" in n:
            out.setdefault("right", pb)
    return out


def find_character(name: str | None = None, where: str = "the file"):
    """The face mesh among the objects of the open file.

    ``name``: that object (it must be a mesh).  Without a name: the only rigged
    mesh; when none is rigged, the only mesh with landmarks; when none has
    landmarks, the only mesh.  Several candidates: a FaceForgeError asking for
    ``--object``.  ``where`` names the file in messages.
    """
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    listed = ", ".join(o.name for o in meshes) or "none"
    if name:
        obj = bpy.data.objects.get(name)
        if obj is None:
            raise FaceForgeError(f"No object named '{name}' in {where} (meshes: {listed})")
        if obj.type != "MESH":
            raise FaceForgeError(f"'{name}' in {where} is a {obj.type.lower()}, not a mesh (meshes: {listed})")
        return obj
    for what, test in (("rigged with ARKit shape keys", is_rigged), ("with landmarks", has_binding),
                       ("", lambda o: True)):
        found = [o for o in meshes if test(o)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise FaceForgeError(f"{len(found)} meshes in {where} are {what or 'candidates'} "
                                 f"({', '.join(o.name for o in found)}): name the face with --object NAME")
    raise FaceForgeError(f"{where} has no mesh object")



def load_character(mesh: str | None = None, blend: str | None = None, name: str | None = None):
    """The face mesh to work on headless: imported from the mesh file ``mesh`` into an empty
    scene, or :func:`find_character` ``name`` in the opened character file ``blend``."""
    import os

    from . import scene

    if mesh:
        scene.clear_scene()
        return scene.import_mesh(mesh, name=os.path.splitext(os.path.basename(mesh))[0])
    path = scene.open_blend(blend)
    return find_character(name, os.path.basename(path))
