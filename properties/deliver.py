"""Deliver-stage state (export, previews, batch)."""

from bpy.props import StringProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_deliver_settings(PropertyGroup):
    output_dir: StringProperty(name="Output Folder", subtype="DIR_PATH", default="//faceforge_out/",
                               description="Where exports, previews and reports are written")


classes = (FACEFORGE_PG_deliver_settings,)
