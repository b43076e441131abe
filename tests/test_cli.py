"""The headless command line: same subcommands through the launcher and in-process."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_launcher_demo_writes_a_blend(tmp_path):
    """The main job: the astronaut's head (the face model's 26,719 vertices, its 52 keys, the skin
    texture packed), a timeline, FBX + glb (the texture inside) + preview + .blend."""
    import json
    import struct

    proc = subprocess.run([str(ROOT / "faceforge"), "demo", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    blend = tmp_path / "face.blend"
    assert blend.is_file() and blend.stat().st_size > 10_000
    for name in ("face.fbx", "face.glb", "face_preview.mp4"):
        assert (tmp_path / name).is_file(), name
    # The written file opens and holds the head.
    check = subprocess.run(
        [sys.executable, "-c",
         "import bpy,sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
         "o=bpy.data.objects['Face']; print(o.type, len(o.data.vertices), len(o.data.shape_keys.key_blocks) - 1,"
         "sum(1 for i in bpy.data.images if i.packed_file), 'astronaut' in bpy.data.actions)", str(blend)],
        capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    kind, count, keys, packed, pose = check.stdout.split()[-5:]
    assert kind == "MESH" and int(count) == 26719 and int(keys) == 52 and int(packed) == 1 and pose == "True"
    with open(tmp_path / "face.glb", "rb") as f:
        f.read(12)
        size, _kind = struct.unpack("<II", f.read(8))
        gltf = json.loads(f.read(size))
    assert len(gltf.get("images", [])) == 1 and len(gltf["meshes"][0]["primitives"][0]["targets"]) == 52
    # the FBX carries the skin texture inside (embedded, no file beside it)
    fbx = (tmp_path / "face.fbx").read_bytes()
    assert b"\x89PNG\r\n\x1a\n" in fbx
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == ["astronaut.png"]  # the input photo


def test_cli_errors_are_clear(tmp_path):
    proc = subprocess.run([str(ROOT / "faceforge"), "demo", "--mesh", str(tmp_path / "nope.obj"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Mesh file not found" in proc.stderr
    proc = subprocess.run([str(ROOT / "faceforge"), "no-such-command"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2


def test_cli_command_is_registered_for_blender(ff):
    """``blender --background --command faceforge`` reaches the same parser."""
    from faceforge import addon, cli

    assert addon._cli_handle is not None
    parser = cli.build_parser()
    assert "demo" in parser._subparsers._group_actions[0].choices
    assert addon._run_cli([]) == 2  # no subcommand: usage, status 2
