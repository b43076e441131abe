"""Rig-stage state: shape-key generation settings and per-object rig data."""

from bpy.props import BoolProperty, EnumProperty, FloatProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup

from ..core.arkit import ARKIT_NAMES, mirror_name
from ..core.params import PARAMS

def _pose_update(name):
    """Slider -> shape-key value; with Mirror on, the twin slider follows (its own update stops
    there: the first slider already has the value)."""

    def update(self, context):
        obj = self.id_data
        key = getattr(obj.data, "shape_keys", None)
        value = getattr(self, name)
        if key is not None and name in key.key_blocks:
            key.key_blocks[name].value = value
        twin = mirror_name(name)
        scene = context.scene if context else None
        if (twin != name and scene is not None and scene.faceforge.rig.mirror_pose
                and abs(getattr(self, twin) - value) > 1e-6):
            setattr(self, twin, value)

    return update


FACEFORGE_PG_pose = type("FACEFORGE_PG_pose", (PropertyGroup,), {
    "__doc__": "Test-pose sliders, one per ARKit shape (drive the shape keys of the same name).",
    "__annotations__": {n: FloatProperty(name=n, min=0.0, max=1.0, update=_pose_update(n)) for n in ARKIT_NAMES},
})


class FACEFORGE_PG_rig_settings(PropertyGroup):
    replace_existing: BoolProperty(
        name="Replace Existing", default=False,
        description="Regenerate FaceForge's own ARKit shape keys when the mesh already has them "
                    "(other shape keys are always kept)")
    intensity: FloatProperty(**PARAMS["rig.intensity"].prop())
    source: EnumProperty(
        name="Shapes", default="auto",
        items=(("auto", "Auto", "Scan-based where the face model fits the mesh (a realistic face), else "
                "procedural; the result says which and why"),
               ("scan", "Scan-Based", "The scan-based face model fitted to the mesh, its 52 shapes transferred "
                "(realistic faces)"),
               ("procedural", "Procedural", "FaceForge's own shape library, driven by the landmarks "
                "(stylised and cartoon faces)")))
    mirror_pose: BoolProperty(
        name="Mirror", default=True,
        description="Test pose: moving a Left/Right slider also moves its twin")
    reference: StringProperty(
        name="Reference Head",
        description="A mesh object that already has ARKit shape keys (and landmarks), to transfer from")


class FACEFORGE_PG_object_rig(PropertyGroup):
    pose: PointerProperty(type=FACEFORGE_PG_pose)
    generated: StringProperty(
        name="Generated Keys", default="",
        description="Names of the shape keys FaceForge generated on this mesh (comma-separated)")
    shape_scales: StringProperty(
        name="Shape Scales", default="",
        description="Per-shape intensity scales used when generating, as name=value pairs")
    source: StringProperty(
        name="Shape Source", default="",
        description="Which shapes FaceForge generated on this mesh: scan (the face model) or procedural")


classes = (FACEFORGE_PG_rig_settings, FACEFORGE_PG_pose, FACEFORGE_PG_object_rig)
