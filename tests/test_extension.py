"""The built extension zip installs into a throwaway Blender user folder and runs.

The check runs in a child process whose Python sees only what Blender itself
ships (bpy, numpy, requests...): the venv's copies of the bundled libraries
(MediaPipe, OpenCV, scipy, ...) are hidden, so they must come from the
extension's own wheels.
"""

import importlib.metadata as md
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_extension  # noqa: E402

pytestmark = pytest.mark.slow  # builds and installs the extension zip

CHILD = r"""
import json, os, sys
import bpy
zip_path = sys.argv[1]
result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo='user_default',
                                                  enable_on_install=True)
import addon_utils
enabled = 'bl_ext.user_default.faceforge' in {m.__name__ for m in addon_utils.modules()} and \
    addon_utils.check('bl_ext.user_default.faceforge')[1]
ran = bpy.ops.faceforge.check_dependencies()
import mediapipe, cv2, scipy
from mediapipe.python.solutions import face_mesh
print('RESULT', json.dumps({'install': sorted(result), 'enabled': bool(enabled), 'ran': sorted(ran),
                  'mediapipe': mediapipe.__file__, 'cv2': cv2.__file__, 'scipy': scipy.__file__,
                  'user': os.environ['BLENDER_USER_RESOURCES']}))
"""


def blender_like_site(tmp_path: Path) -> Path:
    """A folder of links to the venv's packages minus the ones the extension bundles."""
    bundled = set()
    for name in build_extension.BUNDLE_NAMES:
        dist = md.distribution(name)
        for f in dist.files or ():
            bundled.add(f.parts[0])
    site = Path(md.distribution("bpy").locate_file(""))
    out = tmp_path / "site"
    out.mkdir()
    for entry in site.iterdir():
        if entry.name in bundled or entry.name.endswith((".dist-info", ".pth")) or entry.name == "__pycache__":
            continue
        (out / entry.name).symlink_to(entry)
    return out


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL, timeout=1800)
    zips = sorted(out.glob("faceforge-*.zip"))
    assert len(zips) == 1, f"expected one linux-x64 zip, got {zips}"
    return zips[0]


def test_zip_has_manifest_wheels_and_no_tests(built_zip):
    with zipfile.ZipFile(built_zip) as z:
        names = z.namelist()
        manifest = z.read("blender_manifest.toml").decode()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert any(n.startswith("wheels/mediapipe-0.10.21") for n in names)
    assert not any(n.startswith(("tests/", ".git/", ".venv/", "scripts/")) for n in names)
    assert not any(n.startswith("wheels/numpy") for n in names), "Blender ships numpy"
    assert not any(n.startswith(("wheels/ray-", "ray/")) for n in names), "Ray is optional, never bundled"
    assert 'platforms = ["linux-x64"]' in manifest
    assert manifest.count("./wheels/") == len(build_extension.BUNDLE_NAMES)


def test_installed_zip_runs_with_its_bundled_wheels(built_zip, tmp_path):
    site = blender_like_site(tmp_path)
    user = tmp_path / "user"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, "-S", "-c", CHILD, str(built_zip)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    report = json.loads(line[len("RESULT "):])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert report["install"] == ["FINISHED"] and report["enabled"] and report["ran"] == ["FINISHED"]
    for lib in ("mediapipe", "cv2", "scipy"):
        assert report[lib].startswith(str(user)), f"{lib} came from {report[lib]}, not the extension"
