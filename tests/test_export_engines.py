"""Exports play in engines as the face plays in Blender - checked with real engine-side readers.

The character is the one FaceForge makes, not a hand-made fixture: the ICT head (an OBJ in
centimetres), its landmarks, the rig stage's 52 ARKit shape keys and the face armature in its
default *Bones* mode (jawOpen / eyeLook* drive the jaw and eye bones), with a baked take.

* **three.js** (npm ``three``) in headless Chromium (Debian ``chromium``, driven by npm
  ``playwright-core``; ``scripts/gltf_play.js``) loads the glb, plays the take, and the chin
  and lower lip move as they do in Blender at the same frames (within 20 %).  Screenshots of
  the rest and open poses are written beside the files (``FACEFORGE_TEST_SHOTS=dir`` keeps a
  copy).
* **ufbx** (PyPI; the FBX loader Godot uses; ``tests/ufbx_probe.py`` in its own process) and
  **assimp**: 52 ARKit blend channels, the jaw moved once (bone rotation, jawOpen at 0 - or the
  other way round), frame rate and length, a head about 34 cm tall in metres.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

import rig_fixtures as RF
from faceforge.core.arkit import ARKIT_NAMES
from fixtures_character import scene_settings_kept
from test_export import read_with_assimp

ROOT = Path(__file__).resolve().parents[1]
FPS = 24
FRAMES = 48  # frames 1..48: 2 s at 24 fps
PEAK = 25  # jawOpen peaks here
CHIN, LOWER_LIP = 152, 14  # MediaPipe landmarks
CHROMIUM = os.environ.get("FACEFORGE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _keep_scene_settings():
    with scene_settings_kept():
        yield


def take_weights() -> np.ndarray:
    """(48, 52): the jaw opens and closes, the left eye looks out, a small smile."""
    t = np.arange(FRAMES)
    w = np.zeros((FRAMES, 52))
    w[:, ARKIT_NAMES.index("jawOpen")] = 0.8 * np.sin(np.pi * t / (2 * (PEAK - 1))) ** 2
    w[:, ARKIT_NAMES.index("eyeLookOutLeft")] = 0.6 * t / (FRAMES - 1)
    w[:, ARKIT_NAMES.index("mouthSmileLeft")] = 0.3
    return w


@pytest.fixture
def head(data):
    """The generated, rigged (Bones mode), animated ICT head; returns (mesh, probe vertex indices)."""
    from faceforge.api import actions, armature, binding, shape_keys

    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = FPS, 1.0
    obj = RF.import_ict(data)
    shape_keys.generate_shape_keys(obj)
    result = armature.generate_armature(obj)  # the default: Bones
    assert result["mode"] == "BONES" and obj.data.shape_keys.key_blocks["jawOpen"].mute
    actions.bake_shape_keys(obj, ARKIT_NAMES, np.arange(1, FRAMES + 1), take_weights(), "Talk")
    b = binding.read_binding(obj)
    probes = [int(b.verts[i][np.argmax(b.bary[i])]) for i in (CHIN, LOWER_LIP)]
    return obj, probes


def _export(obj, path, fmt, **kw):
    from faceforge.api import export
    from faceforge.core.jobs import run_sync

    return run_sync(export.export_job(obj, path, fmt, **kw), on_progress=None)


def blender_positions(obj, verts, frames, scale: float) -> np.ndarray:
    """(F, V, 3) world positions Blender shows at ``frames``, in metres, glTF axes (Y up, +Z front)."""
    from faceforge.api.mesh import vertex_coords

    scene = bpy.context.scene
    keep = scene.frame_current
    out = []
    for f in frames:
        scene.frame_set(int(f))
        dg = bpy.context.evaluated_depsgraph_get()
        p = vertex_coords(obj.evaluated_get(dg).data, obj.matrix_world)[verts] * scale
        out.append(np.stack([p[:, 0], p[:, 2], -p[:, 1]], 1))
    scene.frame_set(keep)
    return np.array(out)


def reference_positions(obj, verts, frames, scale: float, motion: str) -> np.ndarray:
    """What Blender shows with the file's motion: the rig as built (Bones) or, for a file where
    the shape keys carry the jaw and eyes, the rig switched to Shape Keys (a scanned jawOpen also
    bends the chin's skin, which the bone cannot, so the two modes differ there)."""
    if motion == "SHAPE_KEYS":
        from faceforge.api import armature

        armature.generate_armature(obj, mode="SHAPE_KEYS")
    return blender_positions(obj, verts, frames, scale)


def rest_positions(obj, verts, scale: float) -> list:
    """The vertices' rest positions (Basis, no pose), metres, glTF axes."""
    from faceforge.api.mesh import vertex_coords

    p = vertex_coords(obj.data, obj.matrix_world)[verts] * scale
    return np.stack([p[:, 0], p[:, 2], -p[:, 1]], 1).tolist()


def assert_moves_alike(got, want, what):
    """Each probe's motion from rest (frame 1) agrees within 20 % of Blender's at the peak."""
    d_got, d_want = got - got[:1], want - want[:1]
    peak = np.linalg.norm(d_want, axis=2).max(0)
    assert peak.min() > 0.003, f"{what}: the probes hardly move in Blender ({peak})"
    err = np.linalg.norm(d_got - d_want, axis=2).max(0)
    assert np.all(err <= 0.2 * peak), f"{what}: motion differs by {err / peak} of Blender's"
    print(f"{what}: peak motion {np.round(peak * 1000, 2)} mm in Blender, largest difference "
          f"{np.round(100 * err / peak, 2)} % of it")
    return err / peak


def _play(glb: Path, rest_positions, times, shots) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/setup_env.sh installs nodejs' test tools)")
    for package in ("three", "playwright-core"):
        if not (ROOT / "node_modules" / package).is_dir():
            pytest.fail(f"npm package {package} missing: run `npm install` at the repository root "
                        "(scripts/setup_env.sh)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/setup_env.sh)")
    spec = glb.with_suffix(".play.json")
    spec.write_text(json.dumps(dict(glb=str(glb), clip="Talk", times=list(times), probes=rest_positions,
                                    shots=shots, size=384, chromium=CHROMIUM)))
    proc = subprocess.run([node, str(ROOT / "scripts" / "gltf_play.js"), str(spec)], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert not out["errors"], out["errors"]
    keep = os.environ.get("FACEFORGE_TEST_SHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        for s in shots:
            shutil.copy(s["path"], keep)
    return out


@pytest.mark.parametrize("motion", ["AUTO", pytest.param("SHAPE_KEYS", marks=pytest.mark.slow)])
def test_threejs_plays_the_rigged_jaw_as_blender_does(head, tmp_path, motion):
    obj, probes = head
    result = _export(obj, tmp_path / "head.glb", "GLB", motion=motion, morph_normals=False, opaque=True)
    assert result.motion == ("BONES" if motion == "AUTO" else "SHAPE_KEYS")
    assert result.scale == pytest.approx(0.01) and 0.3 < result.height_m < 0.4  # the OBJ is in cm
    assert any("scaled x0.01" in n for n in result.notes)
    frames = np.array([1, 7, 13, 19, PEAK, 31, 37, 43, FRAMES])
    want = reference_positions(obj, probes, frames, result.scale, result.motion)
    shots = [dict(time=0.0, path=str(tmp_path / f"threejs_{motion.lower()}_rest.png")),
             dict(time=(PEAK - 1) / FPS, path=str(tmp_path / f"threejs_{motion.lower()}_open.png"))]
    out = _play(result.path, rest_positions(obj, probes, result.scale), (frames - 1) / FPS, shots)
    # what three.js loaded: all 52 ARKit targets, one clip named as the take, the right length
    assert out["morphTargets"] == 52
    assert [c["name"] for c in out["clips"]] == ["Talk"]
    assert out["clips"][0]["duration"] == pytest.approx((FRAMES - 1) / FPS, abs=1e-4)
    tracks = set(out["clips"][0]["tracks"])
    if result.motion == "BONES":
        assert {"jaw.quaternion", "eyeL.quaternion", "eyeR.quaternion"} <= tracks
    else:
        assert not any(t.startswith(("jaw.", "eyeL.", "eyeR.")) for t in tracks)
    assert out["height"] == pytest.approx(max(obj.dimensions) * 0.01, rel=0.02)
    assert max(out["matched"]) < 1e-4  # the probes found their vertices at rest
    got = np.array(out["probes"])
    assert_moves_alike(got, want, f"three.js ({motion})")
    for s in shots:
        assert Path(s["path"]).stat().st_size > 2000
    # and the Khronos validator finds nothing wrong with the skin, the bone tracks, the targets
    proc = subprocess.run([shutil.which("node"), str(ROOT / "scripts" / "gltf_validate.js"), str(result.path)],
                          capture_output=True, text=True, timeout=120)
    (report,) = json.loads(proc.stdout)
    assert report["issues"]["numErrors"] == 0, [m for m in report["issues"]["messages"] if m["severity"] == 0]


def _ufbx(fbx: Path, times, verts, bones=("jaw",)) -> dict:
    try:
        import ufbx  # noqa: F401
    except ImportError:
        pytest.fail("PyPI ufbx missing: run scripts/setup_env.sh (requirements.txt, test section)")
    spec = fbx.with_suffix(".probe.json")
    spec.write_text(json.dumps(dict(fbx=str(fbx), times=list(times), vertices=list(verts), bones=list(bones))))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "ufbx_probe.py"), str(spec)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("motion", ["AUTO", "SHAPE_KEYS"])
def test_fbx_in_ufbx_and_assimp_drives_the_jaw_once_in_metres(head, tmp_path, motion):
    obj, probes = head
    from faceforge.api.mesh import vertex_coords

    dims = tuple(obj.dimensions)
    before = vertex_coords(obj.data), obj.data.name, len(bpy.data.meshes), len(bpy.data.armatures)
    names = sorted(a.name for a in bpy.data.actions)
    result = _export(obj, tmp_path / "head.fbx", "FBX", motion=motion)
    # the user's data untouched: mesh, names, no temporary datablocks or actions left
    np.testing.assert_array_equal(vertex_coords(obj.data), before[0])
    assert (obj.data.name, len(bpy.data.meshes), len(bpy.data.armatures)) == before[1:]
    assert sorted(a.name for a in bpy.data.actions) == names
    assert obj.data.shape_keys.key_blocks["jawOpen"].mute and obj.parent is None  # the rig as it was
    frames = np.array([1, 13, PEAK, 37, FRAMES])
    times = frames / FPS  # FBX keeps the scene's frame numbers
    info = _ufbx(result.path, times, probes)
    # 52 ARKit channels, the take, its rate and length, metres
    assert sorted(info["channels"]) == sorted(ARKIT_NAMES) and info["skins"] == 1
    assert info["fps"] == FPS and info["stacks"] == [["Talk", pytest.approx(1 / FPS), pytest.approx(FRAMES / FPS)]]
    assert info["height_m"] == pytest.approx(max(dims) * 0.01, rel=0.02)
    jaw_open = np.array([info["weights"][str(t)]["jawOpen"] for t in times])
    jaw_rot = np.array([info["rotations"][str(t)]["jaw"] for t in times])
    turned = np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(jaw_rot * jaw_rot[:1], 1)), 0, 1)))
    baked = take_weights()[frames - 1, ARKIT_NAMES.index("jawOpen")]
    print(f"ufbx ({motion}): jaw bone turns up to {turned.max():.2f} degrees, jawOpen up to {jaw_open.max():.3f}")
    if result.motion == "BONES":  # the bone opens the jaw; the blend shape stays shut
        assert np.all(jaw_open == 0) and turned.max() > 8
    else:  # the blend shape opens it; the bone stays at rest
        np.testing.assert_allclose(jaw_open, baked, atol=1e-4)
        assert turned.max() < 1e-3
    smile = [info["weights"][str(t)]["mouthSmileLeft"] for t in times]
    np.testing.assert_allclose(smile, 0.3, atol=1e-4)
    # Godot's loader skins and morphs the mesh: the chin moves as in Blender
    got = np.array([info["positions"][str(t)] for t in times])
    want = reference_positions(obj, probes, frames, result.scale, result.motion)
    assert_moves_alike(got, want, f"ufbx ({motion})")
    # assimp: the same 52 targets, the take, the jaw channel only when the bone carries it
    a = read_with_assimp(result.path)
    targets = [t for t in a["meshes"].values() if t]
    assert len(targets) == 1 and sorted(targets[0]) == sorted(ARKIT_NAMES)
    (anim,) = a["anims"].values()
    assert anim["duration"] / (anim["ticks"] or 25.0) == pytest.approx((FRAMES - 1) / FPS, abs=0.05)
    assert "jaw" in anim["nodes"]  # keyed (at rest when the blend shape carries the motion)


def test_units_and_materials_say_what_was_done(head, tmp_path):
    from faceforge.api import export
    from test_export import _glb_json

    obj, _ = head
    auto = _export(obj, tmp_path / "auto.glb", "GLB", takes="ACTIVE", morph_normals=False)
    assert auto.unit == "CM" and auto.scale == pytest.approx(0.01)
    assert any("centimetres" in n and "0.338 m" in n for n in auto.notes), auto.notes
    assert any("transmissive" in w for w in auto.warnings)  # the ICT .mtl says Tf 1 1 1
    as_is = _export(obj, tmp_path / "as_is.glb", "GLB", takes="ACTIVE", morph_normals=False, unit="M")
    assert as_is.scale == 1.0 and not any("scaled" in n for n in as_is.notes)
    assert any("33.8 m tall" in w for w in as_is.warnings), as_is.warnings
    opaque = _export(obj, tmp_path / "opaque.glb", "GLB", takes="ACTIVE", morph_normals=False, opaque=True)
    assert not any("transmissive" in w for w in opaque.warnings) and any("opaque" in n for n in opaque.notes)
    gltf = _glb_json(opaque.path)
    assert not any("KHR_materials_transmission" in (m.get("extensions") or {}) for m in gltf["materials"])
    assert "M_Face" in export.transmissive_materials(obj)  # the user's materials are as they were
    info = read_with_assimp(auto.path)
    assert sorted(next(t for t in info["meshes"].values() if t)) == sorted(ARKIT_NAMES)
    assert list(info["anims"]) == ["Talk"]  # no temporary action name leaks into the file
