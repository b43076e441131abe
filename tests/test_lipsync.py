"""Lip sync in Blender: baking into the character's action, layering, sound strip, operator, CLI,
bad input.  (Timing and real-face checks: tests/test_phonemes.py.)"""

import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from faceforge.core.arkit import ARKIT_NAMES
from faceforge.core.errors import FaceForgeError

ROOT = Path(__file__).resolve().parents[1]


def make_character(name="Face", with_tongue=True):
    """A fixture face: a subdivided plane with 52 ARKit-named shape keys (simple displacements)."""
    from faceforge.api import mesh

    bpy.ops.mesh.primitive_grid_add(x_subdivisions=8, y_subdivisions=8, size=0.2)
    obj = bpy.context.active_object
    obj.name = name
    base = mesh.mesh_arrays(obj).verts
    for k, n in enumerate(ARKIT_NAMES):
        if n == "tongueOut" and not with_tongue:
            continue
        moved = base.copy()
        moved[:, 2] += 0.001 * (k + 1) * (base[:, 1] < 0)
        mesh.set_shape_key(obj, n, moved)
    return obj


def _n_strips():
    seq = bpy.context.scene.sequence_editor
    return 0 if seq is None else len(seq.strips if hasattr(seq, "strips") else seq.sequences)


def _clear_strips():
    scene = bpy.context.scene
    if scene.sequence_editor is not None:
        scene.sequence_editor_clear()


def run(job):
    from faceforge.core.jobs import run_sync

    return run_sync(job, on_progress=None)


def test_lipsync_bakes_mouth_and_keeps_upper_face_layer(ff, data):
    """A pre-existing emotion/video take on the upper face survives; the original action is kept."""
    from faceforge.api import actions, lipsync
    from faceforge.animation import visemes as vz

    _clear_strips()
    obj = make_character()
    key = obj.data.shape_keys
    take = bpy.data.actions.new("VideoTake")
    bag = actions.channels_for(take, key, slot_name=key.name)
    frames = np.arange(1, 401, dtype=np.float32)
    brow = (0.5 + 0.5 * np.sin(frames / 10.0))[:, None]
    actions.write_curves(bag, actions.shape_key_channels(["browInnerUp"]), frames, brow)
    # a mouth key far after the clip must survive too
    actions.write_curves(bag, actions.shape_key_channels(["jawOpen"]), np.array([1, 390.0]),
                         np.array([[0.3], [0.9]]))
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    audio = data / "audio" / "mfa" / "mfa_thoughts.flac"
    result = run(lipsync.lipsync_job(obj, str(audio), start_frame=10))
    assert result["method"] == "align" and result["transcript_source"].endswith("mfa_thoughts.lab")
    assert result["action"] == "VideoTake+speech" and result["original_action"] == "VideoTake"
    action = key.animation_data.action
    assert action.name == "VideoTake+speech"
    assert bpy.data.actions["VideoTake"].use_fake_user  # original kept, untouched
    f0, f1 = result["frames"]
    assert f0 == 10 and f1 == 10 + int(np.ceil(result["duration_s"] * 30))
    got = actions.sample_shape_key_curves(obj, ["browInnerUp", "jawOpen"], [5, 50, 200, 390])
    np.testing.assert_allclose(got[:, 0], brow[[4, 49, 199, 389], 0], atol=1e-5)  # upper face intact
    assert abs(got[3, 1] - 0.9) < 1e-5  # mouth key outside the clip intact
    # the mouth moves during the speech; every speech channel is written
    names = lipsync.speech_shapes_on(obj)
    w = actions.sample_shape_key_curves(obj, names, np.arange(f0, f1 + 1))
    assert len(names) == len(vz.SPEECH_SHAPES)
    assert w[:, names.index("jawOpen")].max() > 0.3
    # rest at the ends (silence)
    assert w[0, names.index("jawOpen")] < 0.05 and w[-1, names.index("jawOpen")] < 0.05
    # the original action still has the old mouth key inside the clip range
    old = actions.all_fcurves(bpy.data.actions["VideoTake"])
    assert any(fc.data_path == 'key_blocks["jawOpen"].value' and len(fc.keyframe_points) == 2 for fc in old)
    # sound strip at the start frame, playback synced to audio
    seq = scene.sequence_editor
    strips = seq.strips if hasattr(seq, "strips") else seq.sequences
    sounds = [s for s in strips if s.type == "SOUND"]
    assert len(sounds) == 1 and int(sounds[0].frame_start) == 10
    assert scene.sync_mode == "AUDIO_SYNC" and scene.frame_end >= f1
    # running again edits the speech take in place, adds no second strip
    result2 = run(lipsync.lipsync_job(obj, str(audio), start_frame=10, method="energy"))
    assert result2["method"] == "energy" and result2["action"] == "VideoTake+speech"
    assert len([s for s in strips if s.type == "SOUND"]) == 1


def test_replace_edits_action_in_place_without_tongue(ff, data):
    from faceforge.api import actions, lipsync

    obj = make_character(with_tongue=False)
    key = obj.data.shape_keys
    n_strips = _n_strips()
    act = bpy.data.actions.new("Mine")
    actions.channels_for(act, key, slot_name=key.name)
    result = run(lipsync.lipsync_job(obj, str(data / "audio" / "mfa" / "mfa_the.flac"), replace=True,
                                     add_sound=False, intensity=0.5))
    assert key.animation_data.action.name == "Mine" and result["sound_strip"] is None
    assert "tongueOut" not in lipsync.speech_shapes_on(obj)
    assert _n_strips() == n_strips


def test_operator_runs_from_panel_settings(ff, data):
    obj = make_character()
    bpy.context.view_layer.objects.active = obj
    s = bpy.context.scene.faceforge.animate.lipsync
    s.audio_path = str(data / "audio" / "mfa" / "mfa_the.flac")
    s.transcript = "the montreal forced aligner"
    s.method = "phonemes"
    assert bpy.ops.faceforge.lipsync.poll()
    assert bpy.ops.faceforge.lipsync() == {"FINISHED"}
    assert obj.data.shape_keys.animation_data.action is not None
    assert "forced alignment" in s.last_result and "frames 1-" in s.last_result  # shown in the panel
    s.audio_path = str(data / "audio" / "mfa" / "missing.wav")
    with pytest.raises(RuntimeError, match="not found"):
        bpy.ops.faceforge.lipsync()
    # a mesh without ARKit keys: the operator is unavailable and says why
    bpy.ops.mesh.primitive_cube_add()
    assert not bpy.ops.faceforge.lipsync.poll()


def test_bad_inputs_are_clear_and_change_nothing(ff, data, tmp_path):
    import soundfile as sf

    from faceforge.api import lipsync

    obj = make_character()
    n_actions = len(bpy.data.actions)
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(16000 * 2, np.float32), 16000)
    x, sr = sf.read(data / "audio" / "mfa" / "mfa_the.flac")
    tiny = tmp_path / "tiny.wav"
    sf.write(tiny, x[: sr // 50], sr)  # 20 ms
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes((data / "audio" / "mfa" / "mfa_the.flac").read_bytes()[:300] + os.urandom(2000))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases = {silent: "silent", tiny: "too short", corrupt: "corrupt", empty: "empty",
             tmp_path / "nope.wav": "not found"}
    for path, words in cases.items():
        with pytest.raises(FaceForgeError, match=words):
            run(lipsync.lipsync_job(obj, str(path)))
    assert len(bpy.data.actions) == n_actions and obj.data.shape_keys.animation_data is None
    # a 0.1 s clip works (rest -> tiny motion -> rest), in every method
    clip = tmp_path / "clip.wav"
    energy = np.convolve(x ** 2, np.ones(sr // 10), mode="valid")
    loud = int(np.argmax(energy))
    sf.write(clip, x[loud: loud + sr // 10], sr)  # the loudest 0.1 s
    for method in ("auto", "phonemes", "energy"):
        r = run(lipsync.lipsync_job(obj, str(clip), method=method, add_sound=False))
        assert r["frames"][1] - r["frames"][0] <= 4
    with pytest.raises(FaceForgeError, match="ARKit"):
        bpy.ops.mesh.primitive_cube_add()
        run(lipsync.lipsync_job(bpy.context.active_object, str(clip)))
    with pytest.raises(FaceForgeError, match="method"):
        run(lipsync.lipsync_job(obj, str(clip), method="magic"))


def test_ten_minute_take_bakes_and_moves_throughout(ff, data, tmp_path):
    """A 10-minute recording (real speech looped) through the whole job (energy method: the
    aligned 10-minute case is in test_phonemes): every frame baked, the mouth moves in every minute."""
    import soundfile as sf

    from faceforge.api import actions, lipsync

    x, sr = sf.read(data / "audio" / "mfa" / "acoustic_corpus.wav", dtype="float32")
    long = np.tile(x, int(np.ceil(600 * sr / len(x))))[: 600 * sr]
    wav = tmp_path / "ten_minutes.wav"
    sf.write(wav, long, sr)
    obj = make_character()
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 24, 1.0
    r = run(lipsync.lipsync_job(obj, str(wav), method="energy", add_sound=False))
    assert r["frames"] == (1, 1 + 600 * 24) and r["method"] == "energy"
    jaw = actions.sample_shape_key_curves(obj, ["jawOpen"], np.arange(1, 600 * 24 + 1, 6))[:, 0]
    per_minute = jaw[: len(jaw) // 10 * 10].reshape(10, -1).max(1)
    assert (per_minute > 0.3).all()


def test_cancel_during_analysis_changes_nothing(ff, data):
    """Esc while the audio is analysed (the job closed at its Offload): no action, no strip."""
    from faceforge.api import lipsync
    from faceforge.core.jobs import Offload

    obj = make_character()
    n_actions, n_strips = len(bpy.data.actions), _n_strips()
    job = lipsync.lipsync_job(obj, str(data / "audio" / "mfa" / "mfa_the.flac"))
    item = next(job)
    while not isinstance(item, Offload):
        item = next(job)
    job.close()
    assert len(bpy.data.actions) == n_actions and _n_strips() == n_strips
    assert obj.data.shape_keys.animation_data is None


@pytest.mark.slow
def test_cli_lipsync_writes_animated_blend(ff, data, tmp_path):
    from faceforge.api import scene

    make_character("Hero")
    char = scene.save_blend(str(tmp_path / "char.blend"))
    out = tmp_path / "out.blend"
    proc = subprocess.run([str(ROOT / "faceforge"), "lipsync", "--character", char, "--object", "Hero",
                           "--audio", str(data / "audio" / "mfa" / "mfa_the.flac"), "--fps", "24",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "forced alignment" in proc.stdout and out.is_file()
    check = subprocess.run(
        [sys.executable, "-c",
         "import bpy,sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
         "k=bpy.data.objects['Hero'].data.shape_keys; a=k.animation_data.action;"
         "print(a.name, bpy.context.scene.render.fps)", str(out)],
        capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    assert check.stdout.split()[-2:] == ["Hero_speech", "24"]
    bad = subprocess.run([str(ROOT / "faceforge"), "lipsync", "--character", char, "--object", "Nobody",
                          "--audio", str(data / "audio" / "mfa" / "mfa_the.flac"), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "No object named 'Nobody'" in bad.stderr
    layer = subprocess.run([str(ROOT / "faceforge"), "lipsync", "--character", char, "--object", "Hero",
                            "--audio", str(data / "audio" / "mfa" / "mfa_the.flac"), "--life", "blinks,dance",
                            "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert layer.returncode == 2 and "Unknown life layers" in layer.stderr and "Traceback" not in layer.stderr


def _armature_with_head(obj):
    """An armature with a 'head' bone, bound to ``obj`` by an Armature modifier."""
    arm_data = bpy.data.armatures.new("Rig")
    arm = bpy.data.objects.new("Rig", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    b = arm_data.edit_bones.new("head")
    b.head, b.tail = (0, 0, 0), (0, 0, 0.1)
    bpy.ops.object.mode_set(mode="OBJECT")
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    return arm


def test_life_layers_blink_raise_brows_and_nod_while_speaking(ff, data):
    """Blinks, brow raises and nods come with the mouth; each only where the take has nothing
    of its own; the head goes on the head bone when there is one, else on the object."""
    from faceforge.api import actions, lipsync

    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    audio = str(data / "audio" / "jfk" / "jfk.flac")
    obj = make_character()
    r = run(lipsync.lipsync_job(obj, audio, add_sound=False))
    f0, f1 = r["frames"]
    frames = np.arange(f0, f1 + 1)
    life = r["life"]
    assert life["blinks"] == 2 and life["brows"] == 3 and life["head"] == f"object {obj.name}"
    w = actions.sample_shape_key_curves(obj, ["eyeBlinkLeft", "eyeBlinkRight", "browInnerUp"], frames)
    assert w[:, 0].max() > 0.99 and np.array_equal(w[:, 0], w[:, 1]) and np.mean(w[:, 0] > 0.5) < 0.1
    assert w[:, 2].max() > 0.05
    rot = [fc for fc in actions.all_fcurves(obj.animation_data.action) if fc.data_path == "rotation_euler"]
    assert len(rot) == 3
    angles = np.array([[fc.evaluate(float(f)) for fc in rot] for f in frames])
    assert 0.2 < np.degrees(np.abs(angles).max()) < 6.0
    np.testing.assert_allclose(angles[-1], 0.0, atol=1e-4)  # rest again after the last words
    assert "life: blinks, brows, head" in lipsync.summary(r)

    # a take that animates the eyelids and has a head bone: blinks kept, nods on the bone
    obj2 = make_character("Face2")
    arm = _armature_with_head(obj2)
    key = obj2.data.shape_keys
    take = bpy.data.actions.new("EyesTake")
    bag = actions.channels_for(take, key, slot_name=key.name)
    actions.write_curves(bag, actions.shape_key_channels(["eyeBlinkLeft", "eyeBlinkRight"]),
                         np.array([1.0, 400.0]), np.array([[0.2, 0.2], [0.2, 0.2]]))
    r2 = run(lipsync.lipsync_job(obj2, audio, add_sound=False))
    assert r2["life"]["blinks"] == 0 and "eyeBlinkLeft" in r2["life"]["kept"]
    assert r2["life"]["head"] == "bone head" and obj2.animation_data is None
    blink = actions.sample_shape_key_curves(obj2, ["eyeBlinkLeft"], frames)[:, 0]
    np.testing.assert_allclose(blink, 0.2, atol=1e-5)
    assert any(fc.data_path.startswith('pose.bones["head"]') for fc in actions.all_fcurves(arm.animation_data.action))
    # running again replaces lip sync's own life curves (they do not count as the take's)
    r3 = run(lipsync.lipsync_job(obj2, audio, add_sound=False))
    assert r3["life"]["head"] == "bone head"

    # mouth only
    obj3 = make_character("Face3")
    r4 = run(lipsync.lipsync_job(obj3, audio, add_sound=False, life=()))
    assert r4["life"] is None and obj3.animation_data is None
    paths = {fc.data_path for fc in actions.all_fcurves(obj3.data.shape_keys.animation_data.action)}
    assert 'key_blocks["eyeBlinkLeft"].value' not in paths and 'key_blocks["jawOpen"].value' in paths
    with pytest.raises(FaceForgeError, match="Unknown life layers"):
        run(lipsync.lipsync_job(obj3, audio, life=("dance",)))
