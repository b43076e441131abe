"""System check: which bundled libraries load, and from where."""

import bpy

from ..core import deps


class FACEFORGE_OT_check_dependencies(bpy.types.Operator):
    """Check that FaceForge's bundled libraries (MediaPipe, OpenCV, ...) load"""

    bl_idname = "faceforge.check_dependencies"
    bl_label = "Check Dependencies"
    bl_options = {"REGISTER"}

    def execute(self, context):
        statuses = deps.check()
        for s in statuses:
            if s.ok:
                self.report({"INFO"}, f"{s.name} {s.version}: {s.location}")
            else:
                self.report({"ERROR"}, f"{s.name} ({s.purpose}) failed to load: {s.error}")
        missing = [s.name for s in statuses if not s.ok]
        if missing:
            self.report({"ERROR"}, "Missing: " + ", ".join(missing) +
                        ". Reinstall the FaceForge extension for your platform.")
            return {"CANCELLED"}
        self.report({"INFO"}, "All FaceForge libraries load")
        return {"FINISHED"}


classes = (FACEFORGE_OT_check_dependencies,)
