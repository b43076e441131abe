"""Landmark-stage state: panel settings and the landmarks bound to a mesh."""

from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty,
                       FloatVectorProperty, IntProperty, IntVectorProperty, PointerProperty, StringProperty)
from bpy.types import Object, PropertyGroup

from ..core.params import PARAMS


class FACEFORGE_PG_landmarks_settings(PropertyGroup):
    render_resolution: IntProperty(**PARAMS["landmarks.resolution"].prop())
    symmetric: BoolProperty(
        name="Symmetric", default=True,
        description="On a mesh that is mirror-symmetric round the face, make the detected landmarks "
                    "symmetric too (each averaged with its mirrored twin); an asymmetric mesh is left as detected")
    photo_path: StringProperty(
        name="Photo", subtype="FILE_PATH",
        description="A photo of a face to build a whole textured head from")
    mirror_edits: BoolProperty(
        name="Mirror", default=True,
        description="Moving a landmark also moves its left/right twin")


class FACEFORGE_PG_landmark(PropertyGroup):
    """One landmark bound to the surface: barycentric point on a triangle."""
    verts: IntVectorProperty(size=3, description="Mesh vertex indices of the triangle")
    bary: FloatVectorProperty(size=3, description="Barycentric weights on that triangle")
    confidence: FloatProperty(min=0.0, max=1.0)


class FACEFORGE_PG_object_landmarks(PropertyGroup):
    points: CollectionProperty(type=FACEFORGE_PG_landmark)
    source: EnumProperty(
        name="Source",
        items=(("NONE", "None", "No landmarks yet"),
               ("DETECTED", "Detected", "Found by MediaPipe on a render of the mesh"),
               ("PHOTO", "Photo", "Built from a photo: vertex i is landmark i"),
               ("MANUAL", "Manual", "Fitted to points placed by hand"),
               ("MODEL", "Face Model", "A head built from FaceForge's face model: its own landmark correspondence")),
        default="NONE")
    score: FloatProperty(name="Detection Score", min=0.0, max=1.0)
    view_axis: StringProperty(name="View Axis", description="Axis the face was found looking along")
    symmetric: BoolProperty(name="Symmetric", description="Detected on a mirror-symmetric mesh and made symmetric")
    edit_owner: PointerProperty(
        type=Object, name="Landmarks Of",
        description="On a landmark-editing empty: the mesh whose landmark (or key point) it shows")


classes = (FACEFORGE_PG_landmarks_settings, FACEFORGE_PG_landmark, FACEFORGE_PG_object_landmarks)
