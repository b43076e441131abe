"""register() adds exactly FaceForge's types and properties; unregister() removes them."""

import bpy
import pytest


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def faceforge_types():
    """Names of every registered FaceForge class, whatever its base type."""
    names = {n for n in dir(bpy.types) if n.startswith(("FACEFORGE_", "VIEW3D_PT_faceforge"))}
    for base in (bpy.types.PropertyGroup, bpy.types.AddonPreferences, bpy.types.Operator, bpy.types.Panel):
        for sub in _all_subclasses(base):
            if sub.__name__.startswith(("FACEFORGE_", "VIEW3D_PT_faceforge")) and sub.is_registered:
                names.add(sub.__name__)
    return names


def operator_ids():
    return {name for name in dir(bpy.ops.faceforge)}


def test_registered_classes_are_present(ff):
    from faceforge import addon

    classes = addon.classes()
    assert {c.__name__ for c in classes} == faceforge_types()
    assert all(cls.is_registered for cls in classes)
    panels = {c.__name__ for c in classes if issubclass(c, bpy.types.Panel)}
    for stage in ("landmarks", "rig", "animate", "deliver"):
        assert f"VIEW3D_PT_faceforge_{stage}" in panels
    assert all(c.bl_category == "FaceForge" for c in classes if issubclass(c, bpy.types.Panel))
    assert "check_dependencies" in operator_ids()
    assert hasattr(bpy.types.Scene, "faceforge") and hasattr(bpy.types.Object, "faceforge")


def test_names_follow_conventions(ff):
    from faceforge import addon

    for cls in addon.classes():
        if issubclass(cls, bpy.types.Operator):
            assert cls.__name__.startswith("FACEFORGE_OT_")
            assert cls.bl_idname == "faceforge." + cls.__name__[len("FACEFORGE_OT_"):]
        elif issubclass(cls, bpy.types.Panel):
            assert cls.__name__.startswith("VIEW3D_PT_faceforge")
        elif issubclass(cls, bpy.types.PropertyGroup):
            assert cls.__name__.startswith("FACEFORGE_PG_")


def test_unregister_leaves_nothing_and_register_twice_works(ff):
    before = faceforge_types()
    assert before
    ff.unregister()
    try:
        assert faceforge_types() == set()
        assert not hasattr(bpy.types.Scene, "faceforge")
        assert not hasattr(bpy.types.Object, "faceforge")
        assert not hasattr(bpy.types.WindowManager, "faceforge")
        with pytest.raises((AttributeError, KeyError)):  # the operator is gone
            bpy.ops.faceforge.check_dependencies.get_rna_type()
    finally:
        ff.register()
    assert faceforge_types() == before
    ff.unregister()
    ff.register()
    assert faceforge_types() == before


def test_scene_state_is_one_property_group(ff):
    scene = bpy.context.scene
    settings = scene.faceforge
    for stage in ("landmarks", "rig", "animate", "deliver"):
        assert getattr(settings, stage) is not None
    obj = bpy.data.objects.new("empty", None)
    assert obj.faceforge.landmarks.source == "NONE"


def test_poll_explains_why(ff):
    """Operators that need a mesh say so when nothing is selected."""
    from faceforge.operators.base import poll_active_mesh

    class Probe:
        messages = []

        @classmethod
        def poll_message_set(cls, msg):
            cls.messages.append(msg)

    class Ctx:
        active_object = None
        mode = "OBJECT"
        window_manager = bpy.context.window_manager

    assert not poll_active_mesh(Probe, Ctx)
    assert "Select the face mesh" in Probe.messages[-1]
    Ctx.active_object = bpy.data.objects.new("e", None)
    assert not poll_active_mesh(Probe, Ctx)
    assert "not a mesh" in Probe.messages[-1]


def test_check_dependencies_operator(ff):
    assert bpy.ops.faceforge.check_dependencies() == {"FINISHED"}


def test_every_panel_draws_with_nothing_and_with_a_rigged_face(ff):
    """Each panel (and sub-panel) draws on an empty scene and with a rigged face active, with
    stored expression scales and a last lip-sync result to show."""
    from fixtures_character import make_character
    from ui_recorder import draw

    from faceforge import addon
    from faceforge.api import expressions

    panels = [c for c in addon.classes() if issubclass(c, bpy.types.Panel)]
    for setup in ("empty", "rigged"):
        if setup == "rigged":
            obj = make_character()
            bpy.context.view_layer.objects.active = obj
            expressions.set_character_scales(obj, {"Mouth": 0.5})
            bpy.context.scene.faceforge.animate.lipsync.last_result = "Lip sync on 'Face'; frames 1-10"
        drawn = 0
        for cls in panels:
            if hasattr(cls, "poll") and not cls.poll(bpy.context):
                continue
            calls = draw(cls, bpy.context)
            drawn += 1
            if cls.__name__ == "VIEW3D_PT_faceforge_animate_expressions" and setup == "rigged":
                assert any(c[0] == "label" and "Mouth: 0.5" in c[2].get("text", "") for c in calls)
        assert drawn >= len(panels) - 2  # the bone controls and test pose need an armature / shape keys
