"""Rig-stage state (shape keys, armature)."""

from bpy.props import BoolProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_rig_settings(PropertyGroup):
    replace_existing: BoolProperty(
        name="Replace Existing", default=False,
        description="Replace FaceForge's own shape keys if the mesh already has them")


class FACEFORGE_PG_object_rig(PropertyGroup):
    pass


classes = (FACEFORGE_PG_rig_settings, FACEFORGE_PG_object_rig)
