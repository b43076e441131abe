"""Face-armature settings (Rig stage): ``scene.faceforge.armature``."""

from bpy.props import EnumProperty
from bpy.types import PropertyGroup


class FACEFORGE_PG_armature_settings(PropertyGroup):
    mode: EnumProperty(
        name="Jaw & Eyes By",
        items=(("BONES", "Bones", "jawOpen / eyeLook* shape keys drive the jaw and eye bones (the keys themselves "
                                   "are muted, so the motion never doubles)"),
               ("SHAPE_KEYS", "Shape Keys", "jawOpen / eyeLook* shape keys move the mesh; the jaw and eye bones "
                                            "are left for you")),
        default="BONES",
        description="How the jaw and eyes animate when the mesh has the ARKit shape keys")


classes = (FACEFORGE_PG_armature_settings,)
