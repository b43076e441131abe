"""The built extension zip installs into a throwaway Blender user folder and runs.

The zip is the one for this interpreter's Python line (cp311 on the bpy 4.5
environment, cp313 on bpy 5.3), so each Blender line installs its own.  The
check runs in a child process whose Python sees only what Blender itself ships
(bpy, numpy, requests...): the venv's copies of the bundled libraries (OpenCV,
scipy, onnxruntime, ...) and the test-only reference (MediaPipe and its chain)
are hidden, so the tracker must run from the extension's own wheels and models.
"""

import importlib.metadata as md
import json
import os
import re
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
import importlib, cv2, scipy, onnxruntime
try:
    import mediapipe
    mediapipe_visible = True
except ImportError:
    mediapipe_visible = False
ext = importlib.import_module('bl_ext.user_default.faceforge.inference.face_mesh')
from bl_ext.user_default.faceforge.facemodel import load_model
model = load_model()
speech = importlib.import_module('bl_ext.user_default.faceforge.animation.phonemes')
english = speech.transcript_language('ask not what your country can do for you')[0]
rgb = cv2.cvtColor(cv2.imread(sys.argv[2]), cv2.COLOR_BGR2RGB)
with ext.FaceMeshDetector(video=False, max_faces=1) as det:
    face = det.detect(rgb)
print('RESULT', json.dumps({'facemodel': model.n_vertices, 'english': english, 'install': sorted(result), 'enabled': bool(enabled), 'ran': sorted(ran),
                  'cv2': cv2.__file__, 'scipy': scipy.__file__, 'onnxruntime': onnxruntime.__file__,
                  'tracker': ext.__file__, 'points': None if face is None else len(face.points),
                  'mediapipe_visible': mediapipe_visible, 'user': os.environ['BLENDER_USER_RESOURCES']}))
"""


# in the test environment only (the reference tracker and its chain); Blender has none of them
REFERENCE_ONLY = ("mediapipe", "absl-py", "protobuf", "matplotlib", "flatbuffers", "contourpy", "kiwisolver")
LINE = build_extension.current_line()
# Measured 176 MiB (linux-x64, either line; was 271 MiB with MediaPipe): the wheels are 134 MiB
# (OpenCV 48, scipy 34, pocketsphinx 28 with its English model, onnxruntime 23), the fp16 text
# model 43 MiB. The 120 MiB goal of issue 21 is not met; this guards against growth.
MAX_ZIP_MIB = 175


def blender_like_site(tmp_path: Path) -> Path:
    """A folder of links to the venv's packages minus the ones the extension bundles."""
    bundled = set()
    for name in (*build_extension.BUNDLE_NAMES, *REFERENCE_ONLY):
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
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
    assert [z.name.split("-")[-2:] for z in zips] == [[LINE, "linux_x64.zip"]], zips
    return zips[0]


def test_zip_has_manifest_wheels_and_no_tests(built_zip):
    with zipfile.ZipFile(built_zip) as z:
        names = z.namelist()
        manifest = z.read("blender_manifest.toml").decode()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert {"models/facemodel_ict.npz", "models/ICT-FaceKit-LICENSE.txt"} <= set(names)  # the face model + licence
    assert not any(n.startswith(("tests/", ".git/", ".venv/", "scripts/")) for n in names)
    assert not any(n.startswith("wheels/numpy") for n in names), "Blender ships numpy"
    for gone in ("mediapipe", "matplotlib", "protobuf", "absl"):
        assert not any(n.startswith(f"wheels/{gone}") for n in names), f"{gone} must not ship"
    assert any(n.startswith("wheels/onnxruntime") and f"-{LINE}-" in n for n in names)
    assert {"models/face_detector.onnx", "models/face_landmarks.onnx", "models/minilm-l6-fp16.onnx",
            "models/LICENSE-MediaPipe-Apache-2.0.txt"} <= set(names)
    assert "models/minilm-l6.onnx" not in names, "the fp16-stored text model ships, not the fp32 one"
    assert not any(n.startswith(("wheels/ray-", "ray/")) for n in names), "Ray is optional, never bundled"
    assert 'platforms = ["linux-x64"]' in manifest
    listed = set(re.findall(r'"\./wheels/([^"]+)"', manifest))  # split builds repeat the list per platform
    assert len(listed) == len(build_extension.BUNDLE_NAMES), sorted(listed)
    assert all(f"-{LINE}-" in w or "-py3-" in w or "-py2.py3-" in w or "-abi3-" in w for w in listed), sorted(listed)
    _py, _req, bl_min, bl_max = build_extension.LINES[LINE]
    assert f'blender_version_min = "{bl_min}"' in manifest
    assert (f'blender_version_max = "{bl_max}"' in manifest) if bl_max else "blender_version_max" not in manifest
    size = built_zip.stat().st_size / 2**20
    print(f"{built_zip.name}: {size:.1f} MiB")
    assert size <= MAX_ZIP_MIB, f"{size:.1f} MiB > {MAX_ZIP_MIB} MiB"


def test_installed_zip_runs_with_its_bundled_wheels(built_zip, tmp_path):
    site = blender_like_site(tmp_path)
    user = tmp_path / "user"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    import cv2
    from skimage import data as skdata

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    proc = subprocess.run([sys.executable, "-S", "-c", CHILD, str(built_zip), str(photo)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    report = json.loads(line[len("RESULT "):])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert report["install"] == ["FINISHED"] and report["enabled"] and report["ran"] == ["FINISHED"]
    for lib in ("cv2", "scipy", "onnxruntime", "tracker"):
        assert report[lib].startswith(str(user)), f"{lib} came from {report[lib]}, not the extension"
    assert report["points"] == 478 and not report["mediapipe_visible"]
    assert report["facemodel"] == 26719  # the shipped face model loads from the installed copy
    assert report["english"]  # pocketsphinx's decoders load from the bundled (pruned) wheel
