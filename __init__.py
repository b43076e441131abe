"""FaceForge: AI-assisted facial animation for Blender.

This file stays importable without Blender: the pure packages (``core``,
``inference``, ``rigging``, ``animation``, ``formats``) can be imported for
tests and scripts with no ``bpy`` at all.  Blender-facing code lives in
``addon.py`` (registration), ``api/`` (the thin bpy adapter and the public
functions that operators and the command line call), ``operators/``,
``panels/``, ``properties/`` and ``preferences.py``; it is imported only when
``register()`` runs.
"""

__version__ = "0.1.0"


def register():
    from . import addon

    addon.register()


def unregister():
    from . import addon

    addon.unregister()
