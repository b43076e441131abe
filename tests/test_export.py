"""FBX / glb export, checked by readers that are not ours.

* the Khronos glTF-Validator (npm ``gltf-validator``, via scripts/gltf_validate.js);
* assimp (its C library through pyassimp's ctypes structures): 52 morph
  targets named as ARKit, one animation per take, keyed weights equal to
  what was baked at several frames, times = (frame - first) / fps;
* Blender's own importers: the same shape keys and curves come back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES
from faceforge.core.errors import FaceForgeError
from fixtures_character import bake_take, known_weights, make_character, scene_settings_kept

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_scene_settings():
    with scene_settings_kept():
        yield


# --- an independent reader: assimp's C structures, read directly ------------------------

def read_with_assimp(path) -> dict:
    """{'meshes': {name: [morph target names]}, 'anims': {name: {ticks, duration, channels (morph),
    nodes (names of the nodes/bones it animates)}}} as assimp sees the file.

    pyassimp's own Python conversion chokes on morph data (NULL arrays), so we
    walk assimp's ``aiScene`` through pyassimp's ctypes declarations.
    """
    from pyassimp import core

    ptr = core._assimp_lib.load(str(path).encode(), 0)
    if not ptr:
        raise AssertionError(f"assimp could not read {path}")
    try:
        sc = ptr.contents
        meshes = {}
        for i in range(sc.mNumMeshes):
            m = sc.mMeshes[i].contents
            meshes[m.mName.data.decode()] = [m.mAnimMeshes[k].contents.mName.data.decode()
                                             for k in range(m.mNumAnimMeshes)]
        anims = {}
        for i in range(sc.mNumAnimations):
            a = sc.mAnimations[i].contents
            channels = []
            for c in range(a.mNumMorphMeshChannels):
                ch = a.mMorphMeshChannels[c].contents
                times = np.array([ch.mKeys[k].mTime for k in range(ch.mNumKeys)])
                values = []
                for k in range(ch.mNumKeys):
                    key = ch.mKeys[k]
                    row = {key.mValues[j]: key.mWeights[j] for j in range(key.mNumValuesAndWeights)}
                    values.append(row)
                channels.append((ch.mName.data.decode(), times, values))
            nodes = [a.mChannels[c].contents.mNodeName.data.decode() for c in range(a.mNumChannels)]
            anims[a.mName.data.decode()] = dict(ticks=a.mTicksPerSecond, duration=a.mDuration,
                                                channels=channels, nodes=nodes)
        return dict(meshes=meshes, anims=anims)
    finally:
        core._assimp_lib.release(ptr)


def assimp_weights(info: dict, take: str, frames_from_zero) -> tuple[np.ndarray, np.ndarray]:
    """(seconds of every key, weights (K, 52) in ARKIT_NAMES order) of a take's morph channel."""
    targets = next(t for t in info["meshes"].values() if t)
    anim = info["anims"][take]
    assert len(anim["channels"]) == 1, "expected one morph channel (the face mesh)"
    _name, times, rows = anim["channels"][0]
    order = [targets.index(n) for n in ARKIT_NAMES]
    weights = np.array([[row.get(j, 0.0) for j in order] for row in rows])
    ticks = anim["ticks"] or 25.0
    return times / ticks, weights


# --- fixtures ---------------------------------------------------------------------------

@pytest.fixture
def character(ff):
    """The fixture head with two takes: TakeA (60 frames from 1), TakeB (40 frames from 5)."""
    bpy.context.scene.render.fps = 30
    obj = make_character()
    wa, wb = known_weights(60, 0), known_weights(40, 1)
    bake_take(obj, wa, "TakeA", start=1)
    bake_take(obj, wb, "TakeB", start=5)  # the active take now
    return obj, {"TakeA": (1, wa), "TakeB": (5, wb)}


def _export(obj, path, fmt, preset="DEFAULT", **kw):
    from faceforge.api import export
    from faceforge.core.jobs import run_sync

    return run_sync(export.export_job(obj, path, fmt, preset, **kw), on_progress=None)


# --- the checks -------------------------------------------------------------------------

def test_glb_passes_khronos_validator(character, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/setup_env.sh installs the validator with npm)")
    if not (ROOT / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("gltf-validator missing: run `npm install` at the repository root (scripts/setup_env.sh)")
    obj, _ = character
    glb = _export(obj, tmp_path / "head.glb", "GLB", "UNREAL").path
    gltf = _export(obj, tmp_path / "sep" / "head.gltf", "GLTF", "GODOT").path  # + head.bin beside it
    proc = subprocess.run([node, str(ROOT / "scripts" / "gltf_validate.js"), str(glb), str(gltf)],
                          capture_output=True, text=True, timeout=120)
    reports = json.loads(proc.stdout)
    for report in reports:
        errors = [m for m in report["issues"]["messages"] if m["severity"] == 0]
        assert report["issues"]["numErrors"] == 0, errors
        assert report["info"]["animationCount"] == 2  # one clip per take
    assert proc.returncode == 0
    assert [r["mimeType"] for r in reports] == ["model/gltf-binary", "model/gltf+json"]


@pytest.mark.parametrize("fmt", ["GLB", "FBX"])
def test_assimp_reads_52_arkit_targets_and_the_baked_weights(character, tmp_path, fmt):
    obj, takes = character
    result = _export(obj, tmp_path / "head", fmt, "UNITY" if fmt == "FBX" else "GODOT")
    if fmt == "FBX":  # one file per take: head.fbx = the active take, head@TakeA.fbx the other
        assert [p.name for p in result.files] == ["head.fbx", "head@TakeA.fbx"]
        files = {"TakeB": result.files[0], "TakeA": result.files[1]}
    else:
        assert [p.name for p in result.files] == ["head.glb"]
        files = {"TakeA": result.path, "TakeB": result.path}
    for take, path in files.items():
        info = read_with_assimp(path)
        targets = [t for t in info["meshes"].values() if t]
        assert len(targets) == 1 and sorted(targets[0]) == sorted(ARKIT_NAMES)
        if fmt == "GLB":
            assert set(info["anims"]) == {"TakeA", "TakeB"}
        else:
            assert set(info["anims"]) == {take}
        start, baked = takes[take]
        seconds, weights = assimp_weights(info, take, None)
        # Frame rate and range: a key per frame, time 0 = the take's first frame.
        assert len(seconds) == len(baked)
        np.testing.assert_allclose(seconds, np.arange(len(baked)) / 30.0, atol=1e-4)
        for i in (0, 7, len(baked) // 2, len(baked) - 1):
            np.testing.assert_allclose(weights[i], baked[i], atol=1e-4, err_msg=f"{take} frame {start + i}")


def _imported_face():
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys is not None]
    assert len(meshes) == 1
    return meshes[0]


def test_blender_reimports_same_keys_and_curves(character, tmp_path):
    from faceforge.api import actions, scene

    obj, takes = character
    glb = _export(obj, tmp_path / "head.glb", "GLB").path
    fbx = _export(obj, tmp_path / "head.fbx", "FBX", takes="ACTIVE").path
    for path in (glb, fbx):
        scene.clear_scene()
        bpy.context.scene.render.fps = 30
        if path.suffix == ".glb":
            bpy.ops.import_scene.gltf(filepath=str(path))
        else:
            bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)
        face = _imported_face()
        assert [kb.name for kb in face.data.shape_keys.key_blocks[1:]] == list(ARKIT_NAMES)
        by_take = {}
        for action in bpy.data.actions:
            curves = {fc.data_path: fc for fc in actions.all_fcurves(action)
                      if fc.data_path.startswith("key_blocks")}
            if curves:
                by_take[action.name.split("|")[-1]] = curves
        expected = {"TakeA", "TakeB"} if path.suffix == ".glb" else {"TakeB"}
        assert set(by_take) == expected
        for take in expected:
            start, baked = takes[take]
            # glTF clips start at 0 (slide to zero); FBX keeps the scene frames.
            offset = 0 if path.suffix == ".glb" else start
            curves = by_take[take]
            assert len(curves) == 52
            for i in (0, 11, len(baked) - 1):
                got = [curves[f'key_blocks["{n}"].value'].evaluate(offset + i) for n in ARKIT_NAMES]
                np.testing.assert_allclose(got, baked[i], atol=1e-4, err_msg=f"{path.name} {take} {i}")


def test_export_leaves_the_users_scene_as_it_was(character, tmp_path):
    obj, _ = character
    key = obj.data.shape_keys
    # The user has their own NLA track on the face: it must not leak into the file.
    user = bpy.data.actions.new("UserBlink")
    from faceforge.api import actions as fc_bag

    fc_bag.write_curves(fc_bag.channels_for(user, key), fc_bag.shape_key_channels(["eyeBlinkLeft"]),
                        [1, 2], np.array([[0.0], [1.0]]))
    active = bpy.data.actions["TakeB"]
    fc_bag.assign_action(key, active)
    track = key.animation_data.nla_tracks.new()
    track.strips.new("UserBlink", 1, user)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end, scene.frame_current = 3, 99, 7
    names = sorted(a.name for a in bpy.data.actions)
    result = _export(obj, tmp_path / "head.glb", "GLB", takes=["TakeA", "TakeB"])
    assert sorted(a.name for a in bpy.data.actions) == names  # no temporary copies left
    info = read_with_assimp(result.path)
    assert set(info["anims"]) == {"TakeA", "TakeB"}
    assert key.animation_data.action == active
    assert [t.name for t in key.animation_data.nla_tracks] == [track.name]
    assert not track.strips[0].mute
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (3, 99, 7)
    assert scene.name == "Scene"
    _export(obj, tmp_path / "head.fbx", "FBX")
    assert key.animation_data.action == active and key.animation_data.use_nla
    assert (scene.frame_start, scene.frame_end) == (3, 99)


def test_frame_range_clips_every_take(character, tmp_path):
    obj, takes = character
    result = _export(obj, tmp_path / "clip.glb", "GLB", frame_range=(10, 29))
    assert [(t.name, t.frame_start, t.frame_end) for t in result.takes] == [("TakeB", 10, 29), ("TakeA", 10, 29)]
    info = read_with_assimp(result.path)
    seconds, weights = assimp_weights(info, "TakeA", None)
    assert len(seconds) == 20
    np.testing.assert_allclose(weights[0], takes["TakeA"][1][10 - 1], atol=1e-4)
    np.testing.assert_allclose(weights[-1], takes["TakeA"][1][29 - 1], atol=1e-4)


def test_export_errors_are_actionable(ff, tmp_path):
    from faceforge.api import export

    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    with pytest.raises(FaceForgeError, match="no shape keys"):
        export.export_character(cube, tmp_path / "x.glb")
    with pytest.raises(FaceForgeError, match="Select"):
        export.export_character(None, tmp_path / "x.glb")
    obj = make_character(armature=False)
    with pytest.raises(FaceForgeError, match="format"):
        export.export_character(obj, tmp_path / "x.obj", fmt="OBJ")
    with pytest.raises(FaceForgeError, match="no action named"):
        export.export_character(obj, tmp_path / "x.glb", takes=["Nope"])
    # No take yet: still exports the character, and says so.
    result = _export(obj, tmp_path / "still.glb", "GLB")
    assert result.path.is_file() and any("no baked take" in w for w in result.warnings)
    assert sorted(read_with_assimp(result.path)["meshes"]["Face"]) == sorted(ARKIT_NAMES)


def _glb_json(path) -> dict:
    import struct

    data = Path(path).read_bytes()
    assert data[:4] == b"glTF"
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20:20 + length])


def test_glb_keeps_names_in_target_names_and_the_frame_rate(ff, tmp_path):
    """extras.targetNames in ARKit order; at 60 fps a 31-frame take lasts 0.5 s in both formats."""
    bpy.context.scene.render.fps = 60
    obj = make_character(armature=False)
    weights = known_weights(31, 7)
    bake_take(obj, weights, "Sixty", start=100)
    glb = _export(obj, tmp_path / "s.glb", "GLB").path
    gltf = _glb_json(glb)
    mesh = gltf["meshes"][0]
    assert mesh["extras"]["targetNames"] == list(ARKIT_NAMES)
    assert len(mesh["primitives"][0]["targets"]) == 52
    (anim,) = gltf["animations"]
    assert anim["name"] == "Sixty" and anim["channels"][0]["target"]["path"] == "weights"
    times = gltf["accessors"][anim["samplers"][0]["input"]]
    assert times["min"][0] == pytest.approx(0.0) and times["max"][0] == pytest.approx(0.5, abs=1e-5)
    fbx = _export(obj, tmp_path / "s.fbx", "FBX").path
    for path in (glb, fbx):
        seconds, got = assimp_weights(read_with_assimp(path), "Sixty", None)
        np.testing.assert_allclose(seconds, np.arange(31) / 60, atol=1e-4)
        np.testing.assert_allclose(got[[0, 15, 30]], weights[[0, 15, 30]], atol=1e-4)


def test_the_validator_harness_does_catch_errors(tmp_path):
    """Sanity: a broken glb fails scripts/gltf_validate.js (the check above is not vacuous)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("node / gltf-validator not installed")
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF" + (2).to_bytes(4, "little") + (40).to_bytes(4, "little") + b"\x00" * 28)
    proc = subprocess.run([node, str(ROOT / "scripts" / "gltf_validate.js"), str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and json.loads(proc.stdout)[0]["issues"]["numErrors"] > 0


def test_morph_normals_can_be_left_out(character, tmp_path):
    obj, _ = character
    full = _export(obj, tmp_path / "full.glb", "GLB").path
    lean = _export(obj, tmp_path / "lean.glb", "GLB", morph_normals=False).path
    assert set(_glb_json(full)["meshes"][0]["primitives"][0]["targets"][0]) == {"POSITION", "NORMAL"}
    assert set(_glb_json(lean)["meshes"][0]["primitives"][0]["targets"][0]) == {"POSITION"}
    assert lean.stat().st_size < 0.7 * full.stat().st_size
    assert sorted(read_with_assimp(lean)["meshes"]["Face"]) == sorted(ARKIT_NAMES)


def test_sparse_bezier_takes_keep_their_curve_between_keys(ff, tmp_path):
    """Keys written as-is are only exact for linear curves: Bezier takes are sampled every frame."""
    from faceforge.api import actions, scene

    bpy.context.scene.render.fps = 30
    obj = make_character(armature=False)
    keys = np.random.default_rng(0).random((5, 52))
    actions.bake_shape_keys(obj, ARKIT_NAMES, [1, 10, 20, 35, 50], keys, "Bez", interpolation="BEZIER")
    expected = actions.sample_shape_key_curves(obj, ARKIT_NAMES, np.arange(1, 51))
    glb = _export(obj, tmp_path / "bez.glb", "GLB").path
    seconds, got = assimp_weights(read_with_assimp(glb), "Bez", None)
    np.testing.assert_allclose(seconds, np.arange(50) / 30, atol=1e-4)
    np.testing.assert_allclose(got, expected, atol=1e-4)
