"""All FaceForge state: one PropertyGroup on the scene, one on each object.

``scene.faceforge`` (:class:`FACEFORGE_PG_scene`) holds the panel settings,
one sub-group per stage; ``object.faceforge`` (:class:`FACEFORGE_PG_object`)
holds what belongs to a mesh (its bound landmarks, its rig settings).
Each stage's groups live in their own module here; ``register_properties``
adds exactly two pointers and ``unregister_properties`` removes exactly them.
"""

import bpy
from bpy.props import PointerProperty
from bpy.types import PropertyGroup

from . import animate, armature, deliver, landmarks, rig


class FACEFORGE_PG_scene(PropertyGroup):
    landmarks: PointerProperty(type=landmarks.FACEFORGE_PG_landmarks_settings)
    rig: PointerProperty(type=rig.FACEFORGE_PG_rig_settings)
    animate: PointerProperty(type=animate.FACEFORGE_PG_animate_settings)
    deliver: PointerProperty(type=deliver.FACEFORGE_PG_deliver_settings)
    armature: PointerProperty(type=armature.FACEFORGE_PG_armature_settings)


class FACEFORGE_PG_object(PropertyGroup):
    landmarks: PointerProperty(type=landmarks.FACEFORGE_PG_object_landmarks)
    rig: PointerProperty(type=rig.FACEFORGE_PG_object_rig)


# Order matters: a group must be registered before a group that points to it.
classes = (
    *landmarks.classes,
    *rig.classes,
    *animate.classes,
    *deliver.classes,
    *armature.classes,
    FACEFORGE_PG_scene,
    FACEFORGE_PG_object,
)

_POINTERS = ((bpy.types.Scene, FACEFORGE_PG_scene), (bpy.types.Object, FACEFORGE_PG_object))


def register_properties():
    for owner, group in _POINTERS:
        owner.faceforge = PointerProperty(type=group, name="FaceForge")


def unregister_properties():
    for owner, _group in _POINTERS:
        if hasattr(owner, "faceforge"):
            del owner.faceforge
