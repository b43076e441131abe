"""All FaceForge state: one PropertyGroup on the scene, one on each object, one on the window manager.

``scene.faceforge`` (:class:`FACEFORGE_PG_scene`) holds the panel settings,
one sub-group per stage; ``object.faceforge`` (:class:`FACEFORGE_PG_object`)
holds what belongs to an object (a mesh's bound landmarks, its rig settings,
its expression scales and rest rotation, what the face armature changed on it;
on a landmark-editing empty, the mesh it belongs to).  Nothing is kept in loose custom properties.
``window_manager.faceforge`` (:class:`FACEFORGE_PG_window_manager`) holds the
running job the panels show (window-manager data is neither saved nor undone).
Each stage's groups live in their own module here; ``register_properties``
adds exactly these three pointers and ``unregister_properties`` removes exactly them.
"""

import bpy
from bpy.props import BoolProperty, FloatProperty, PointerProperty, StringProperty
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
    animate: PointerProperty(type=animate.FACEFORGE_PG_object_animate)
    armature: PointerProperty(type=armature.FACEFORGE_PG_object_armature)


class FACEFORGE_PG_job(PropertyGroup):
    """The job running now, as the panels draw it (see ``operators/base.py``)."""
    running: BoolProperty(name="Running", default=False)
    label: StringProperty(name="Job")
    fraction: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(name="Step")


class FACEFORGE_PG_window_manager(PropertyGroup):
    job: PointerProperty(type=FACEFORGE_PG_job)


# Order matters: a group must be registered before a group that points to it.
classes = (
    *landmarks.classes,
    *rig.classes,
    *animate.classes,
    *deliver.classes,
    *armature.classes,
    FACEFORGE_PG_scene,
    FACEFORGE_PG_object,
    FACEFORGE_PG_job,
    FACEFORGE_PG_window_manager,
)

_POINTERS = ((bpy.types.Scene, FACEFORGE_PG_scene), (bpy.types.Object, FACEFORGE_PG_object),
             (bpy.types.WindowManager, FACEFORGE_PG_window_manager))


def register_properties():
    for owner, group in _POINTERS:
        owner.faceforge = PointerProperty(type=group, name="FaceForge")


def unregister_properties():
    for owner, _group in _POINTERS:
        if hasattr(owner, "faceforge"):
            del owner.faceforge
