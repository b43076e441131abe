"""Registration: everything ``register()`` adds, ``unregister()`` removes.

Classes come from ``properties``, ``preferences``, ``operators`` and
``panels`` (operators and panels are collected from every module in their
folder, so adding a feature means adding a file), and the File > Import /
Export entries the operator modules list in ``MENUS``.  The headless command line
is registered as ``blender --background --command faceforge ...``.
"""

import atexit

import bpy

from . import operators, panels, preferences, properties

_classes = (
    *properties.classes,
    *preferences.classes,
    *operators.collect_classes(),
    *panels.collect_classes(),
)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(_classes)
_cli_handle = None
_registered = False


def classes():
    """Every class FaceForge registers, in registration order."""
    return _classes


def _run_cli(argv):
    from . import cli

    return cli.main(argv)


def register():
    global _cli_handle, _registered
    if _registered:  # Blender may call register again without unregister
        unregister()
    _register_classes()
    _registered = True
    properties.register_properties()
    preferences.apply()
    for menu, draw in operators.collect_menus():
        menu.append(draw)
    if bpy.app.module:
        # The bpy module hangs or crashes at interpreter exit while Python
        # classes are still registered; scripts rarely unregister, so we do.
        atexit.register(unregister)
    if hasattr(bpy.utils, "register_cli_command"):  # Blender 4.2+
        _cli_handle = bpy.utils.register_cli_command("faceforge", _run_cli)


def _drop_cli_command():
    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None


def unregister():
    global _registered
    atexit.unregister(unregister)
    if not _registered:  # already done (our exit hook, then Blender's own)
        return
    _registered = False
    _drop_cli_command()
    for menu, draw in reversed(operators.collect_menus()):
        menu.remove(draw)
    properties.unregister_properties()
    _unregister_classes()
