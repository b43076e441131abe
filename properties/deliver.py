"""Deliver-stage state (export, previews, Live Link Face CSV, batch)."""

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import PropertyGroup

from ..core.params import PARAMS

# Blender 4.5+ warns about "//" paths unless a path property says it supports them.
_REL = {"options": {"PATH_SUPPORTS_BLEND_RELATIVE"}} if bpy.app.version >= (4, 5, 0) else {}


class FACEFORGE_PG_deliver_settings(PropertyGroup):
    output_dir: StringProperty(name="Output Folder", subtype="DIR_PATH", default="//faceforge_out/",
                               description="Where exports, previews and reports are written", **_REL)
    export_format: EnumProperty(
        name="Format",
        items=(("GLB", "glTF Binary (.glb)", "One file: mesh, 52 morph targets, skin, one animation per take"),
               ("FBX", "FBX (.fbx)", "One file per take (name@Take.fbx for the extra takes)"),
               ("GLTF", "glTF Separate (.gltf + .bin)", "Text glTF with its binary buffer beside it")),
        default="GLB")
    export_preset: EnumProperty(
        name="Engine",
        items=(("DEFAULT", "Default", "Blender's exporter defaults (metres, Y up)"),
               ("UNREAL", "Unreal", "Centimetre units, no leaf bones, Y-forward bones"),
               ("UNITY", "Unity", "Scale 1 and no extra X rotation on import (Apply Transform)"),
               ("GODOT", "Godot", "glb is Godot's native format; FBX with unit scaling")),
        default="DEFAULT")
    export_takes: EnumProperty(
        name="Takes",
        items=(("ALL", "All Takes", "Every action that animates this mesh's shape keys, one clip each"),
               ("ACTIVE", "Current Take", "Only the action the face plays now")),
        default="ALL")
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


classes = (FACEFORGE_PG_deliver_settings,)
