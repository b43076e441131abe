"""Rig stage: face armature (generate), bone controls, and ARKit shape sliders by region."""

import bpy

from ..api import armature as api_armature
from ..core.arkit import REGIONS, mirror_name
from ..rigging import armature as pure_arm


class _Sub:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"
    bl_parent_id = "VIEW3D_PT_faceforge_rig"


class VIEW3D_PT_faceforge_rig_armature(_Sub, bpy.types.Panel):
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


class VIEW3D_PT_faceforge_rig_armature_controls(_Sub, bpy.types.Panel):
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
        layout.operator("faceforge.reset_pose", icon="LOOP_BACK")


class VIEW3D_PT_faceforge_rig_shape_controls(_Sub, bpy.types.Panel):
    bl_label = "Shape Controls"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        _, meshes = api_armature.rig_and_meshes(context.active_object)
        return any(o.data.shape_keys is not None for o in meshes)

    def draw(self, context):
        layout = self.layout
        _, meshes = api_armature.rig_and_meshes(context.active_object)
        blocks = next(o.data.shape_keys.key_blocks for o in meshes if o.data.shape_keys is not None)
        row = layout.row(align=True)
        row.operator("faceforge.mirror_shapes", text="Mirror L > R", icon="MOD_MIRROR").direction = "LEFT_TO_RIGHT"
        row.operator("faceforge.mirror_shapes", text="Mirror R > L").direction = "RIGHT_TO_LEFT"
        layout.operator("faceforge.reset_pose", icon="LOOP_BACK")
        found = False
        for region, names in REGIONS.items():
            present = [n for n in names if n in blocks]
            if not present:
                continue
            found = True
            box = layout.box()
            box.label(text=region)
            done = set()
            for n in present:
                if n in done:
                    continue
                twin = mirror_name(n)
                if twin != n and twin in blocks and n.endswith("Left"):
                    row = box.row(align=True)
                    row.prop(blocks[n], "value", text=n[:-4] + " L", slider=True)
                    row.prop(blocks[twin], "value", text=" R", slider=True)
                    done |= {n, twin}
                elif twin != n and twin in blocks:
                    continue  # drawn with its Left twin
                else:
                    box.prop(blocks[n], "value", text=n, slider=True)
                    done.add(n)
            # Right keys whose Left twin is missing.
            for n in present:
                if n not in done:
                    box.prop(blocks[n], "value", text=n, slider=True)
        if not found:
            layout.label(text="No ARKit shape keys on this face yet", icon="INFO")


classes = (VIEW3D_PT_faceforge_rig_armature, VIEW3D_PT_faceforge_rig_armature_controls,
           VIEW3D_PT_faceforge_rig_shape_controls)
