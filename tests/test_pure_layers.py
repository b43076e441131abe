"""The pure packages never import bpy/mathutils/bmesh (checked with them blocked)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = ("core", "inference", "rigging", "animation", "formats", "facemodel")

BLOCKER = r"""
import importlib, importlib.util, os, pkgutil, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('bpy', 'mathutils', 'bmesh', 'bpy_extras', '_bpy'):
            raise ImportError(f'{name} is blocked: pure packages must not import Blender')
        return None

sys.meta_path.insert(0, Block())
root = sys.argv[1]
spec = importlib.util.spec_from_file_location('faceforge', os.path.join(root, '__init__.py'),
                                              submodule_search_locations=[root])
ff = importlib.util.module_from_spec(spec); sys.modules['faceforge'] = ff; spec.loader.exec_module(ff)
count = 0
for pkg in sys.argv[2:]:
    mod = importlib.import_module('faceforge.' + pkg); count += 1
    for info in pkgutil.walk_packages(mod.__path__, prefix=f'faceforge.{pkg}.'):
        importlib.import_module(info.name); count += 1
print('imported', count)
"""


def test_pure_packages_import_without_blender():
    proc = subprocess.run([sys.executable, "-c", BLOCKER, str(ROOT), *PURE],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) >= len(PURE)


def test_blocker_really_blocks(tmp_path):
    """Sanity: a module that imports bpy fails under the same blocker."""
    bad = tmp_path / "pkg"
    (bad / "core").mkdir(parents=True)
    (bad / "__init__.py").write_text("")
    (bad / "core" / "__init__.py").write_text("import bpy\n")
    proc = subprocess.run([sys.executable, "-c", BLOCKER, str(bad), "core"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "blocked" in proc.stderr
