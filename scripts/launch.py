"""Run FaceForge's command line over the bpy module: ``./faceforge ...``.

Loads the repository as the package ``faceforge`` (as Blender would load the
extension), registers it, and runs ``faceforge.cli.main``.
"""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def remove_session_tempdir() -> None:
    """Remove the bpy module's session folder (``$TMPDIR/blender_XXXXXX``).  Blender removes it
    when it exits normally; a process that leaves with ``os._exit`` (to skip the bpy module's
    hanging destructors) must do it itself, or every run leaves one behind."""
    import shutil

    bpy = sys.modules.get("bpy")
    if bpy is None:
        return
    try:
        folder = os.path.normpath(bpy.app.tempdir)
    except Exception:
        return
    if os.path.basename(folder).startswith("blender_") and os.path.isdir(folder):
        shutil.rmtree(folder, ignore_errors=True)


def load_package(name: str = "faceforge"):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "__init__.py"), submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    import bpy  # noqa: F401  (the bpy module from PyPI)

    ff = load_package()
    ff.register()
    try:
        from faceforge import cli

        status = cli.main(sys.argv[1:])
    except SystemExit as exc:  # argparse --help / usage errors
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException as exc:  # cli.main reports every error itself: this is a crash in the launcher
        if os.environ.get("FACEFORGE_DEBUG"):
            import traceback

            traceback.print_exc()
        print(f"faceforge: internal error: {type(exc).__name__}: {exc} (FACEFORGE_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        status = 1
    finally:
        try:
            ff.unregister()
        finally:
            remove_session_tempdir()
    # Skip the bpy module's C++ static destructors, which can hang at exit
    # (a Blender worker thread waiting on a condition variable being destroyed).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))
