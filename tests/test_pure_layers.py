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


def _relative_imports(path: Path, package: str) -> set[str]:
    """Modules of this add-on that ``path`` imports (at any level, also inside functions)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = [package] if node.level == 1 else []
            if node.module:
                found.add(".".join(base + [node.module]))
            found.update(".".join(base + ([node.module] if node.module else []) + [a.name]) for a in node.names)
    return found


def test_no_import_cycles():
    """No two modules import each other, even through imports hidden inside functions."""
    packages = PURE + ("api", "operators", "panels", "properties", "cli")
    graph = {}
    for pkg in packages:
        for path in sorted((ROOT / pkg).glob("*.py")):
            graph[f"{pkg}.{path.stem}"] = _relative_imports(path, pkg)
    for mod in graph:
        graph[mod] = {m for m in graph[mod] if m in graph and m != mod}

    def reaches(start, goal):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})
    assert not cycles, f"import cycles: {cycles}"


def test_pure_logic_runs_with_blender_blocked():
    """tests/test_pure_logic.py again, in a fresh process where bpy & co. can't be imported."""
    import os

    env = {**os.environ, "FACEFORGE_BLOCK_BLENDER": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "test_pure_logic.py")], capture_output=True, text=True,
                          timeout=600, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]


def test_no_private_names_cross_modules():
    """A module uses another module's public names only (``from .x import _y`` or ``x._y`` is a
    sign that the name should be public, or the code should move)."""
    import ast

    packages = PURE + ("api", "operators", "panels", "properties", "cli")
    found = []
    for pkg in packages:
        for path in sorted((ROOT / pkg).glob("*.py")):
            tree = ast.parse(path.read_text())
            modules = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level:
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            found.append(f"{pkg}/{path.name}: imports {alias.name}")
                        modules.add(alias.asname or alias.name)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in modules and node.attr.startswith("_")
                        and not node.attr.startswith("__")):
                    found.append(f"{pkg}/{path.name}: uses {node.value.id}.{node.attr}")
    assert not found, found
