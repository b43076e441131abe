"""Build the FaceForge extension zip with Blender's own extension command line.

1. Download the runtime wheels (pinned, see BUNDLE) for each platform into
   ``wheels/<platform>/`` (cached: a second run downloads nothing).
2. Stage the add-on source into ``build/stage/`` and write its manifest with
   the wheel list and the platforms whose wheels all exist.
3. ``blender_ext.py build`` (from the bpy wheel) writes ``dist/*.zip``;
   ``blender_ext.py validate`` checks it.

numpy is not bundled: Blender ships it.  Usage::

    python scripts/build_extension.py                 # linux-x64 (fast; used by tests)
    python scripts/build_extension.py --all-platforms # + windows-x64, macos-arm64
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runtime wheels bundled in the extension (pins from requirements*.txt).
BUNDLE_NAMES = (
    "mediapipe", "absl-py", "attrs", "flatbuffers", "protobuf", "matplotlib", "contourpy", "cycler",
    "fonttools", "kiwisolver", "pillow", "pyparsing", "python-dateutil", "packaging",
    "opencv-python-headless", "scipy", "onnxruntime", "pocketsphinx", "sounddevice", "soundfile",
    "cffi", "pycparser", "typing_extensions", "tzdata",
)

# Blender platform -> pip --platform tags (pip matches each tag exactly).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                  "manylinux2014_x86_64", "manylinux1_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_13_0_arm64",
                    "macosx_14_0_arm64", "macosx_10_9_universal2", "macosx_11_0_universal2",
                    "macosx_10_13_universal2"],
}

# Files and folders of the repository that are not part of the add-on.
EXCLUDE = {".git", ".ci", ".venv", "build", "dist", "wheels", "tests", "benchmarks", "scripts",
           "docs", "node_modules", "out", ".pytest_cache", "Makefile", "faceforge",
           "package.json", "package-lock.json", ".gitignore"}


def pins() -> dict[str, str]:
    found = {}
    for name in ("requirements.txt", "requirements-mediapipe.txt"):
        for line in open(os.path.join(ROOT, name)):
            m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
            if m:
                found[m.group(1).lower().replace("_", "-")] = m.group(2)
    return found


def blender_ext_cli() -> str:
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("build_extension: the bpy module is not installed (run scripts/setup_env.sh)")
    base = list(spec.submodule_search_locations)[0]
    for version in sorted(os.listdir(base), reverse=True):
        cand = os.path.join(base, version, "scripts", "addons_core", "bl_pkg", "cli", "blender_ext.py")
        if os.path.isfile(cand):
            return cand
    sys.exit("build_extension: bl_pkg/cli/blender_ext.py not found inside the bpy wheel")


def download(platform: str, tags: list[str]) -> list[str] | None:
    """Wheels for one platform, or None when one package has none for it."""
    out = os.path.join(ROOT, "wheels", platform)
    os.makedirs(out, exist_ok=True)
    versions = pins()
    wheels = []
    for name in BUNDLE_NAMES:
        version = versions[name.lower().replace("_", "-")]
        norm = re.sub(r"[-_.]+", "_", name).lower()
        have = [f for f in os.listdir(out)
                if f.endswith(".whl") and re.sub(r"[-_.]+", "_", f.split("-")[0]).lower() == norm
                and f.split("-")[1] == version]
        if not have:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                   "--python-version", "3.11", "--implementation", "cp", "-d", out, f"{name}=={version}"]
            for tag in tags:
                cmd += ["--platform", tag]
            if subprocess.run(cmd, capture_output=True, text=True).returncode != 0:
                print(f"[extension] {platform}: no wheel of {name}=={version}; platform skipped")
                return None
            have = [f for f in os.listdir(out)
                    if f.endswith(".whl") and re.sub(r"[-_.]+", "_", f.split("-")[0]).lower() == norm
                    and f.split("-")[1] == version]
        wheels.append(os.path.join(out, sorted(have)[0]))
    return wheels


def stage(platform_wheels: dict[str, list[str]]) -> str:
    stage_dir = os.path.join(ROOT, "build", "stage", "faceforge")
    shutil.rmtree(stage_dir, ignore_errors=True)
    os.makedirs(stage_dir)
    for entry in os.listdir(ROOT):
        if entry in EXCLUDE or entry.startswith(".") and entry not in ():
            continue
        src = os.path.join(ROOT, entry)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(stage_dir, entry),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif entry.endswith((".py", ".toml", ".md", ".txt", ".json", ".onnx")) and not entry.startswith("requirements"):
            shutil.copy2(src, stage_dir)
    wheel_dir = os.path.join(stage_dir, "wheels")
    os.makedirs(wheel_dir)
    listed = []
    for wheels in platform_wheels.values():
        for w in wheels:
            base = os.path.basename(w)
            if base not in listed:
                shutil.copy2(w, os.path.join(wheel_dir, base))
                listed.append(base)
    manifest = open(os.path.join(ROOT, "blender_manifest.toml")).read()
    plats = ", ".join(f'"{p}"' for p in platform_wheels)
    wheel_list = ",\n".join(f'  "./wheels/{w}"' for w in sorted(listed))
    manifest = re.sub(r"^platforms = .*$", f"platforms = [{plats}]", manifest, flags=re.M)
    manifest = re.sub(r"^wheels = \[\]$", f"wheels = [\n{wheel_list},\n]", manifest, flags=re.M)
    with open(os.path.join(stage_dir, "blender_manifest.toml"), "w") as fh:
        fh.write(manifest)
    return stage_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all-platforms", action="store_true", help="also windows-x64 and macos-arm64")
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"))
    args = ap.parse_args(argv)
    wanted = list(PLATFORMS) if args.all_platforms else ["linux-x64"]
    platform_wheels = {}
    for platform in wanted:
        wheels = download(platform, PLATFORMS[platform])
        if wheels:
            platform_wheels[platform] = wheels
    if "linux-x64" not in platform_wheels:
        sys.exit("build_extension: could not get the linux-x64 wheels")
    stage_dir = stage(platform_wheels)
    cli = blender_ext_cli()
    os.makedirs(args.out, exist_ok=True)
    cmd = [sys.executable, cli, "build", "--source-dir", stage_dir, "--output-dir", args.out]
    if len(platform_wheels) > 1:
        cmd.append("--split-platforms")
    subprocess.run(cmd, check=True)
    zips = sorted(f for f in os.listdir(args.out) if f.startswith("faceforge-") and f.endswith(".zip"))
    for z in zips:
        subprocess.run([sys.executable, cli, "validate", os.path.join(args.out, z)], check=True)
        print(os.path.join(args.out, z))
    return 0


if __name__ == "__main__":
    sys.exit(main())
