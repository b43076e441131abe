"""Test harness.

The suite imports FaceForge as the package ``faceforge``:

* by default straight from this repository (as ``scripts/launch.py`` does);
* with ``FACEFORGE_TEST_INSTALLED=1`` from the built extension zip, installed
  with ``bpy.ops.extensions.package_install_files`` into a throwaway Blender
  user folder (``BLENDER_USER_RESOURCES``) - the same tests, the shipped copy;
* with ``FACEFORGE_BLOCK_BLENDER=1`` with ``bpy``/``mathutils`` blocked and the
  package not registered: for the tests of the pure packages
  (``tests/test_pure_logic.py``; ``test_pure_layers.py`` runs them that way).

Blender is reset to an empty scene before each test.  Real third-party data
is read in place from ``../shared/data`` (see its README); it is never copied
into the repository.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
INSTALLED = os.environ.get("FACEFORGE_TEST_INSTALLED") == "1"
BLOCKED = os.environ.get("FACEFORGE_BLOCK_BLENDER") == "1"
BLENDER_MODULES = ("bpy", "mathutils", "bmesh", "bpy_extras", "_bpy", "aud")
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

_user_dir = None


def _install_built_extension():
    """Build the zip, install it into a temp user folder, alias it as ``faceforge``."""
    global _user_dir
    import subprocess

    _user_dir = tempfile.mkdtemp(prefix="faceforge-user-")
    os.environ["BLENDER_USER_RESOURCES"] = _user_dir  # must be set before bpy is imported
    out = os.path.join(_user_dir, "dist")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    import bpy

    zip_path = sorted(Path(out).glob("faceforge-*.zip"))[-1]
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    import importlib

    module = importlib.import_module("bl_ext.user_default.faceforge")
    sys.modules["faceforge"] = module
    return module


class _BlockBlender:
    """An import hook: Blender's modules can't be imported (the pure packages must not need them)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLENDER_MODULES:
            raise ImportError(f"{name} is blocked: pure packages must not import Blender")
        return None


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds (long recordings, many video frames, command-line round "
                                       "trips in a new process, building the extension); `make test-fast` skips it")
    if BLOCKED:
        sys.meta_path.insert(0, _BlockBlender())
        import launch

        launch.load_package()
    elif INSTALLED:
        _install_built_extension()
    else:
        import launch

        launch.load_package().register()


_exit_status = 0


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    ff = sys.modules.get("faceforge")
    if ff is not None and not INSTALLED and not BLOCKED:
        try:
            ff.unregister()
        except Exception:
            pass
    # The bpy module can hang in its C++ static destructors at interpreter exit
    # (a Blender worker thread still waits on a condition variable that
    # GlobalState's destructor destroys).  Everything is reported by now: leave
    # without running them, with pytest's own exit status.
    import launch

    launch.remove_session_tempdir()  # Blender would on a normal exit (its blender_XXXXXX folder)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


@pytest.fixture(scope="session")
def ff():
    """The FaceForge package under test (registered)."""
    return sys.modules["faceforge"]


@pytest.fixture(autouse=True)
def clean_blender():
    """Each test starts from an empty Blender scene."""
    if "bpy" in sys.modules:
        from faceforge.api import scene

        scene.clear_scene()
    yield


@pytest.fixture(scope="session")
def data() -> Path:
    """``../shared/data`` (real third-party assets; read in place)."""
    if not DATA.is_dir():
        pytest.fail(f"test data missing: expected {DATA} beside the repository (see README)")
    return DATA


@pytest.fixture
def tmp_out(tmp_path) -> Path:
    return tmp_path
