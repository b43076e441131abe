"""Face-armature state (Rig stage): the settings ``scene.faceforge.armature`` and what a
generated rig remembers on its objects, ``object.faceforge.armature``."""

from bpy.props import CollectionProperty, EnumProperty, PointerProperty
from bpy.types import Object, PropertyGroup


class FACEFORGE_PG_armature_settings(PropertyGroup):
    mode: EnumProperty(
        name="Jaw & Eyes By",
        items=(("BONES", "Bones", "jawOpen / eyeLook* shape keys drive the jaw and eye bones (the keys themselves "
                                   "are muted, so the motion never doubles)"),
               ("SHAPE_KEYS", "Shape Keys", "jawOpen / eyeLook* shape keys move the mesh; the jaw and eye bones "
                                            "are left for you")),
        default="BONES",
        description="How the jaw and eyes animate when the mesh has the ARKit shape keys")


class FACEFORGE_PG_name(PropertyGroup):
    """One name (a vertex group, a shape key) in a list FaceForge keeps."""


class FACEFORGE_PG_object_armature(PropertyGroup):
    """What FaceForge's rig changed on an object, so a re-run or removal undoes exactly that."""
    face: PointerProperty(type=Object, name="Face",
                          description="On a FaceForge armature: the face mesh it was generated for")
    groups: CollectionProperty(type=FACEFORGE_PG_name, name="Vertex Groups",
                               description="On a skinned mesh: the vertex groups FaceForge wrote")
    muted_keys: CollectionProperty(type=FACEFORGE_PG_name, name="Muted Shape Keys",
                                   description="On the face: the shape keys muted because bones play them")


classes = (FACEFORGE_PG_armature_settings, FACEFORGE_PG_name, FACEFORGE_PG_object_armature)
