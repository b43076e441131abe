"""Rig stage: generate shape keys, transfer, test pose sliders (grouped, mirrored)."""

import bpy

from ..core.arkit import REGIONS
from .stages import RigPanel


class VIEW3D_PT_faceforge_rig_shape_keys(RigPanel, bpy.types.Panel):
    bl_label = "ARKit Shape Keys"

    def draw(self, context):
        layout = self.layout
        s = context.scene.faceforge.rig
        layout.prop(s, "source")
        layout.prop(s, "intensity")
        layout.prop(s, "replace_existing")
        layout.operator("faceforge.generate_shape_keys", icon="SHAPEKEY_DATA")
        obj = context.active_object
        if obj is not None and obj.type == "MESH":
            if obj.faceforge.rig.source:
                layout.label(text=f"Made: {obj.faceforge.rig.source.capitalize()}", icon="INFO")
            layout.prop(obj.faceforge.rig, "shape_scales", text="Scales")
        box = layout.box()
        box.prop_search(s, "reference", bpy.data, "objects", text="Reference")
        box.operator("faceforge.transfer_shape_keys", icon="MOD_DATA_TRANSFER")
        layout.operator("faceforge.contact_sheet", icon="RENDERLAYERS")


class VIEW3D_PT_faceforge_rig_test_pose(RigPanel, bpy.types.Panel):
    bl_label = "Test Pose"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "MESH" and obj.data.shape_keys is not None

    def draw(self, context):
        layout = self.layout
        s = context.scene.faceforge.rig
        row = layout.row()
        row.prop(s, "mirror_pose")
        row.operator("faceforge.reset_pose", icon="LOOP_BACK")
        obj = context.active_object
        keys = obj.data.shape_keys.key_blocks
        pose = obj.faceforge.rig.pose
        for region, names in REGIONS.items():
            present = [n for n in names if n in keys]
            if not present:
                continue
            col = layout.column(align=True)
            col.label(text=region)
            for n in present:
                col.prop(pose, n, slider=True)


classes = (VIEW3D_PT_faceforge_rig_shape_keys, VIEW3D_PT_faceforge_rig_test_pose)
