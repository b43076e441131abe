"""Add-on preferences: where the optional heavy stacks live."""

import bpy
from bpy.props import StringProperty


class FACEFORGE_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    worker_python: StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description=("A separate Python interpreter with torch and diffusers installed, "
                     "used for the optional diffusion backend (runs as its own process)"))
    diffusion_model_dir: StringProperty(
        name="Diffusion Model Folder", subtype="DIR_PATH",
        description="Local folder with an InstructPix2Pix / Stable Diffusion pipeline (no downloads)")

    def draw(self, context):
        layout = self.layout
        layout.label(text="Optional diffusion backend (torch + diffusers in their own Python):")
        layout.prop(self, "worker_python")
        layout.prop(self, "diffusion_model_dir")
        layout.operator("faceforge.check_dependencies", icon="CHECKMARK")


def get(context=None):
    """The preferences, or None when the add-on is not enabled (plain bpy module)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


classes = (FACEFORGE_AddonPreferences,)
