"""Run FaceForge's command line over the bpy module: ``./faceforge ...``.

Loads the repository as the package ``faceforge`` (as Blender would load the
extension), registers it, and runs ``faceforge.cli.main``.
"""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        ff.unregister()
    # Skip the bpy module's C++ static destructors, which can hang at exit
    # (a Blender worker thread waiting on a condition variable being destroyed).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))
