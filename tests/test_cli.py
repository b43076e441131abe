"""The headless command line: same subcommands through the launcher and in-process."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_launcher_demo_writes_a_blend(tmp_path):
    proc = subprocess.run([str(ROOT / "faceforge"), "demo", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    blend = tmp_path / "face.blend"
    assert blend.is_file() and blend.stat().st_size > 10_000
    # The written file opens and holds the face mesh.
    check = subprocess.run(
        [sys.executable, "-c",
         "import bpy,sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
         "o=bpy.data.objects['Face']; print(o.type, len(o.data.vertices))", str(blend)],
        capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    kind, count = check.stdout.split()[-2:]
    assert kind == "MESH" and int(count) > 100


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
