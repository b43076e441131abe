"""Rig stage: face armature (generate) and its bone controls."""

import bpy

from ..api import armature as api_armature
from ..rigging import armature as pure_arm


class _Sub:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"
    bl_parent_id = "VIEW3D_PT_faceforge_rig"


def _rig(context):
    obj = context.active_object
    if obj is None:
        return None
    return obj if obj.type == "ARMATURE" else api_armature.rig_of(obj)


class VIEW3D_PT_faceforge_rig_armature(_Sub, bpy.types.Panel):
    bl_label = "Face Armature"

    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene.faceforge.armature, "mode", expand=True)
        layout.operator("faceforge.generate_armature", icon="ARMATURE_DATA")
        layout.label(text="Selected meshes (eyes, teeth) are skinned too", icon="INFO")
        rig = _rig(context)
        if rig is not None:
            layout.label(text=f"Rig: {rig.name} ({len(rig.data.bones)} bones)", icon="CHECKMARK")


class VIEW3D_PT_faceforge_rig_armature_controls(_Sub, bpy.types.Panel):
    bl_label = "Bone Controls"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return _rig(context) is not None

    def draw(self, context):
        layout = self.layout
        rig = _rig(context)
        bones = rig.pose.bones
        for name, label in ((pure_arm.HEAD, "Head"), (pure_arm.JAW, "Jaw"), (pure_arm.EYE_L, "Eye L"),
                            (pure_arm.EYE_R, "Eye R")):
            if name in bones:
                col = layout.column(align=True)
                col.label(text=label)
                col.prop(bones[name], "rotation_euler", text="")
        layout.operator("faceforge.reset_pose", icon="LOOP_BACK")


classes = (VIEW3D_PT_faceforge_rig_armature, VIEW3D_PT_faceforge_rig_armature_controls)
