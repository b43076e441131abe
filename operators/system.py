"""System check: which bundled libraries load, and from where."""

import bpy

from ..core import deps
from ..core.errors import FaceForgeError
from .base import FaceForgeOperator


class FACEFORGE_OT_check_dependencies(FaceForgeOperator, bpy.types.Operator):
    """Check that FaceForge's bundled libraries (MediaPipe, OpenCV, ...) load"""

    bl_idname = "faceforge.check_dependencies"
    bl_label = "Check Dependencies"
    bl_options = {"REGISTER"}
    needs = None

    def run(self, context):
        statuses = deps.check()
        for s in statuses:
            if s.ok:
                self.report({"INFO"}, f"{s.name} {s.version}: {s.location}")
            else:
                self.report({"ERROR"}, f"{s.name} ({s.purpose}) failed to load: {s.error}")
        missing = [s.name for s in statuses if not s.ok]
        if missing:
            raise FaceForgeError("Missing: " + ", ".join(missing) + ". Reinstall the FaceForge extension "
                                 "for your platform.")
        return "All FaceForge libraries load"


classes = (FACEFORGE_OT_check_dependencies,)
