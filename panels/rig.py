"""Rig stage sub-panels: shape keys (generate / transfer / contact sheet) and the test pose."""

import bpy

from ..api import shape_keys
from ..core.arkit import REGIONS


class VIEW3D_PT_faceforge_rig_shape_keys(bpy.types.Panel):
    bl_label = "ARKit Shape Keys"
    bl_parent_id = "VIEW3D_PT_faceforge_rig"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"

    def draw(self, context):
        layout = self.layout
        s = context.scene.faceforge.rig
        obj = context.active_object
        col = layout.column(align=True)
        col.prop(s, "intensity", slider=True)
        col.prop(s, "replace_existing")
        col.operator("faceforge.generate_shape_keys", icon="SHAPEKEY_DATA")
        if obj is not None and obj.type == "MESH":
            n = len(shape_keys.arkit_keys(obj))
            layout.label(text=f"{n} / 52 ARKit keys on '{obj.name}'", icon="INFO")
        box = layout.box()
        box.prop(s, "reference")
        box.operator("faceforge.transfer_shape_keys", icon="MOD_DATA_TRANSFER")
        box = layout.box()
        row = box.row(align=True)
        row.prop(s, "sheet_path", text="")
        row.prop(s, "sheet_tile", text="")
        box.operator("faceforge.contact_sheet", icon="RENDER_STILL")


class VIEW3D_PT_faceforge_rig_test_pose(bpy.types.Panel):
    bl_label = "Test Pose"
    bl_parent_id = "VIEW3D_PT_faceforge_rig"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FaceForge"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "MESH" and bool(shape_keys.arkit_keys(obj))

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        keys = obj.data.shape_keys.key_blocks
        scales = obj.faceforge.rig.intensity
        layout.label(text="Slider, then per-shape scale (applies on Generate)", icon="INFO")
        row = layout.row(align=True)
        row.operator("faceforge.reset_pose", icon="LOOP_BACK")
        row.operator("faceforge.mirror_pose", text="Left to Right", icon="MOD_MIRROR").name = ""
        for region, names in REGIONS.items():
            present = [n for n in names if n in keys]
            if not present:
                continue
            box = layout.box()
            box.label(text=region)
            col = box.column(align=True)
            for n in present:
                r = col.row(align=True)
                r.prop(keys[n], "value", text=n, slider=True)
                item = scales.get(n)
                if item is not None:
                    r.prop(item, "value", text="")
                if n.endswith(("Left", "Right")):
                    r.operator("faceforge.mirror_pose", text="", icon="MOD_MIRROR").name = n


classes = (VIEW3D_PT_faceforge_rig_shape_keys, VIEW3D_PT_faceforge_rig_test_pose)
