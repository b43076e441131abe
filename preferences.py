"""Add-on preferences: where the optional heavy stacks live, which device runs the face tracker."""

import bpy
from bpy.props import EnumProperty, StringProperty

_PROVIDER_ITEMS = (
    ("CPU", "CPU", "Run the face tracker on the CPU (always available)"),
    ("CUDA", "CUDA (NVIDIA)", "onnxruntime-gpu's CUDA provider; falls back to the CPU when it is not installed"),
    ("DirectML", "DirectML (Windows)", "onnxruntime-directml; falls back to the CPU when it is not installed"),
    ("CoreML", "CoreML (macOS)", "onnxruntime's CoreML provider; falls back to the CPU when it is not available"),
)


def _apply_provider(self, _context=None):
    from .inference import onnx_session

    onnx_session.set_default_provider(self.execution_provider)


class FACEFORGE_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    worker_python: StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description=("A separate Python interpreter with torch and diffusers installed, "
                     "used for the optional diffusion backend (runs as its own process)"))
    diffusion_model_dir: StringProperty(
        name="Diffusion Model Folder", subtype="DIR_PATH",
        description="Local folder with an InstructPix2Pix / Stable Diffusion pipeline (no downloads)")

    execution_provider: EnumProperty(
        name="Face Tracker Device", items=_PROVIDER_ITEMS, default="CPU", update=_apply_provider,
        description="Where the face tracker's models run (onnxruntime execution provider)")

    def draw(self, context):
        from .inference import onnx_session

        layout = self.layout
        layout.prop(self, "execution_provider")
        for message in onnx_session.last_messages():
            layout.label(text=message, icon="INFO")
        layout.label(text="Optional diffusion backend (torch + diffusers in their own Python):")
        layout.prop(self, "worker_python")
        layout.prop(self, "diffusion_model_dir")
        layout.operator("faceforge.check_dependencies", icon="CHECKMARK")


def apply(context=None) -> None:
    """Pass the saved preferences to the pure layers (called at registration)."""
    try:
        prefs = get(context)
    except Exception:  # no context yet (early startup)
        return
    if prefs is not None:
        _apply_provider(prefs)


def get(context=None):
    """The preferences, or None when the add-on is not enabled (plain bpy module)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


classes = (FACEFORGE_AddonPreferences,)
