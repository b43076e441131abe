"""Deliver-stage state (export, previews, Live Link Face CSV, batch)."""

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import PropertyGroup

from ..core.params import PARAMS

# Blender 4.5+ warns about "//" paths unless a path property says it supports them.
_REL = {"options": {"PATH_SUPPORTS_BLEND_RELATIVE"}} if bpy.app.version >= (4, 5, 0) else {}


# Shared with the File > Export operator (operators/deliver.py).
FORMAT_ITEMS = (("GLB", "glTF Binary (.glb)", "One file: mesh, 52 morph targets, skin, one animation per take"),
                ("FBX", "FBX (.fbx)", "One file per take (name@Take.fbx for the extra takes)"),
                ("GLTF", "glTF Separate (.gltf + .bin)", "Text glTF with its binary buffer beside it"))
PRESET_ITEMS = (("DEFAULT", "Default", "Blender's exporter defaults (metres, Y up)"),
                ("UNREAL", "Unreal", "Centimetre units, no leaf bones, Y-forward bones"),
                ("UNITY", "Unity", "Scale 1 and no extra X rotation on import (Apply Transform)"),
                ("GODOT", "Godot", "glb is Godot's native format; FBX with unit scaling"))
TAKES_ITEMS = (("ALL", "All Takes", "Every action that animates this mesh's shape keys, one clip each"),
               ("ACTIVE", "Current Take", "Only the action the face plays now"))
MOTION_ITEMS = (("AUTO", "As Rigged", "As the face armature moves them in Blender: bone animation for a rig "
                 "made in Bones mode, shape keys otherwise"),
                ("BONES", "Bones", "Jaw and eyes as bone animation (baked from the drivers); jawOpen and "
                 "eyeLook* written at weight 0"),
                ("SHAPE_KEYS", "Shape Keys", "Jaw and eyes as morph weights (jawOpen, eyeLook*); the jaw and "
                 "eye bones stay at rest - for engines that drive ARKit curves (Live Link)"))
UNIT_ITEMS = (("AUTO", "Auto", "Tell the model's unit from its size (eye distance) and write metres"),
              ("M", "Metres", "One Blender unit is a metre: written as it is"),
              ("CM", "Centimetres", "One Blender unit is a centimetre (e.g. OBJ scans): scaled x0.01"),
              ("MM", "Millimetres", "One Blender unit is a millimetre: scaled x0.001"),
              ("IN", "Inches", "One Blender unit is an inch: scaled x0.0254"))


class FACEFORGE_PG_deliver_settings(PropertyGroup):
    output_dir: StringProperty(name="Output Folder", subtype="DIR_PATH", default="//faceforge_out/",
                               description="Where exports, previews and reports are written", **_REL)
    export_format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="GLB")
    export_preset: EnumProperty(name="Engine", items=PRESET_ITEMS, default="DEFAULT")
    export_takes: EnumProperty(name="Takes", items=TAKES_ITEMS, default="ALL")
    export_motion: EnumProperty(name="Jaw & Eyes", items=MOTION_ITEMS, default="AUTO",
                                description="How jaw and eyes move in the file (never both ways)")
    export_unit: EnumProperty(name="Unit", items=UNIT_ITEMS, default="AUTO",
                              description="What one Blender unit of the character is; files are in metres")
    opaque_materials: BoolProperty(
        name="Opaque Materials", default=False,
        description="Write fully transmissive materials (OBJ 'Tf 1 1 1') with Transmission 0: engines "
                    "render them black or see-through otherwise")
    morph_normals: BoolProperty(
        name="Morph Normals", default=True,
        description="glTF: write each shape key's normals (exact shading; off: files several times smaller)")
    use_frame_range: BoolProperty(name="Clip Frames", default=False,
                                  description="Export only the frames below (every take)")
    frame_first: IntProperty(**PARAMS["frame"].prop(name="First", description="First frame to export"))
    frame_last: IntProperty(**PARAMS["frame"].prop(name="Last", default=250, description="Last frame to export"))
    preview_size: IntProperty(**PARAMS["preview.size"].prop())
    preview_engine: EnumProperty(
        name="Renderer",
        items=(("AUTO", "Auto", "Workbench when OpenGL works, else Cycles"),
               ("WORKBENCH", "Workbench", "Fast solid shading"),
               ("CYCLES", "Cycles (CPU)", "Slower; works without OpenGL")),
        default="AUTO")
    preview_beside: StringProperty(
        name="Beside", subtype="FILE_PATH",
        description="Driving video or audio to show (and play) beside the face in the preview", **_REL)
    last_output: StringProperty(name="Last Output", subtype="FILE_PATH",
                                description="The file the last export / preview wrote", **_REL)
    livelink_csv: StringProperty(name="CSV", subtype="FILE_PATH",
                                 description="A Live Link Face CSV export (iPhone app)", **_REL)
    livelink_fps: IntProperty(**PARAMS["livelink.fps"].prop(kind=int))
    livelink_rows_fps: IntProperty(
        name="Rows fps", default=0, min=0, max=240,
        description="Export: rows per second (0: one per frame of the take; 60: resampled, for tools that "
                    "count rows). Timecodes are at the app's 60 fps either way")
    livelink_head: BoolProperty(name="Head & Eyes", default=True,
                                description="Head and eye rotations: written from the rig, keyed on import")


classes = (FACEFORGE_PG_deliver_settings,)
