"""Rig-stage state (shape keys, armature)."""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)
from bpy.types import PropertyGroup


class FACEFORGE_PG_rig_settings(PropertyGroup):
    replace_existing: BoolProperty(
        name="Replace Existing", default=False,
        description="Replace FaceForge's own shape keys if the mesh already has them")
    intensity: FloatProperty(
        name="Intensity", default=1.0, min=0.0, soft_max=1.5, max=3.0,
        description="Scale of every generated shape (per-shape scales multiply it)")
    reference: PointerProperty(
        name="Reference Head", type=bpy.types.Object,
        description="A head that already has ARKit shape keys (and landmarks) to transfer from")
    sheet_path: StringProperty(
        name="Contact Sheet", subtype="FILE_PATH", default="//faceforge_shapes.png",
        description="Where to write the contact sheet PNG")
    sheet_tile: IntProperty(name="Tile Size", default=192, min=96, max=512,
                            description="Pixels per shape in the contact sheet")
    mirror_edit: BoolProperty(
        name="Mirror", default=True,
        description="Moving a Left slider also moves its Right twin (and vice versa)")


class FACEFORGE_PG_shape_intensity(PropertyGroup):
    """Per-shape intensity scale (name = the ARKit shape)."""
    value: FloatProperty(name="Scale", default=1.0, min=0.0, soft_max=2.0, max=4.0)


class FACEFORGE_PG_object_rig(PropertyGroup):
    generated: StringProperty(
        name="Generated Keys", description="Comma-separated names of the shape keys FaceForge made")
    intensity: CollectionProperty(type=FACEFORGE_PG_shape_intensity)


classes = (FACEFORGE_PG_rig_settings, FACEFORGE_PG_shape_intensity, FACEFORGE_PG_object_rig)
