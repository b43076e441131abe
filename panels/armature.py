"""Rig stage: face armature (generate) and its bone controls (+ reset pose).

The 52 shape sliders (grouped by region, mirrored) are the rig stage's Test Pose panel (panels/rig.py).
"""

import bpy

from ..api import armature as api_armature
from ..rigging import armature as pure_arm
from .stages import RigPanel


class VIEW3D_PT_faceforge_rig_armature(RigPanel, bpy.types.Panel):
    bl_label = "Face Armature"

    def draw(self, context):
        layout = self.layout
        layout.prop(context.scene.faceforge.armature, "mode", expand=True)
        layout.operator("faceforge.generate_armature", icon="ARMATURE_DATA")
        layout.label(text="Selected meshes (eyes, teeth) are skinned too", icon="INFO")
        arm, meshes = api_armature.rig_and_meshes(context.active_object)
        if arm is not None:
            box = layout.box()
            box.label(text=f"{arm.name}: {len(arm.data.bones)} bones", icon="CHECKMARK")
            box.label(text="Skins: " + ", ".join(o.name for o in meshes))


class VIEW3D_PT_faceforge_rig_armature_controls(RigPanel, bpy.types.Panel):
    bl_label = "Bone Controls"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return api_armature.rig_and_meshes(context.active_object)[0] is not None

    def draw(self, context):
        layout = self.layout
        arm, _ = api_armature.rig_and_meshes(context.active_object)
        bones = arm.pose.bones
        for name, label in ((pure_arm.HEAD, "Head"), (pure_arm.NECK, "Neck"), (pure_arm.JAW, "Jaw"),
                            (pure_arm.EYE_L, "Eye L"), (pure_arm.EYE_R, "Eye R")):
            if name in bones:
                row = layout.row(align=True)
                row.label(text=label)
                row.prop(bones[name], "rotation_euler", text="")
        layout.operator("faceforge.reset_face_pose", icon="LOOP_BACK")
        layout.label(text="Shape sliders: Test Pose panel (Mirror there)", icon="INFO")


classes = (VIEW3D_PT_faceforge_rig_armature, VIEW3D_PT_faceforge_rig_armature_controls)
