"""Build the FaceForge extension zips with Blender's own extension command line.

One zip per platform and per Python line, each with ``blender_version_min``/``max``
so that every Blender takes the right one:

=========  ===============  ==================================
line       Blender          wheels / pins
=========  ===============  ==================================
``cp311``  4.2 - 5.0        ``requirements.txt``
``cp313``  5.1 and later    ``requirements-313.txt``
=========  ===============  ==================================

1. Download the runtime wheels (``BUNDLE_NAMES``, pinned) for each platform and
   Python into ``wheels/<line>/<platform>/`` (cached: a second run downloads nothing).
2. Stage the add-on source into ``build/stage/`` and write its manifest with the
   wheel list, the platforms whose wheels all exist and the Blender range.
3. ``blender_ext.py build`` (from the bpy wheel) writes the zips;
   ``blender_ext.py validate`` checks each.  Names: ``faceforge-<version>-<line>-<platform>.zip``.

numpy is not bundled: Blender ships it.  MediaPipe is not bundled either: the
tracker runs MediaPipe's models on onnxruntime (``inference/face_tracker.py``).
Usage::

    python scripts/build_extension.py                  # linux-x64, this interpreter's line (tests)
    python scripts/build_extension.py --python all --all-platforms   # every zip (make extension)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runtime wheels bundled in the extension (pins from the line's requirements file).
BUNDLE_NAMES = (
    "opencv-python-headless", "scipy", "onnxruntime", "pocketsphinx", "sounddevice", "soundfile",
    "cffi", "pycparser", "typing_extensions", "tzdata",
)

# Python line -> (python version, requirements file, blender_version_min, blender_version_max or None).
# Blender's max is exclusive: the first version the zip does not install on.
LINES = {
    "cp311": ("3.11", "requirements.txt", "4.2.0", "5.1.0"),
    "cp313": ("3.13", "requirements-313.txt", "5.1.0", None),
}


def current_line() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"

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


def pins(line: str = "cp311") -> dict[str, str]:
    found = {}
    for row in open(os.path.join(ROOT, LINES[line][1])):
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", row)
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


def download(platform: str, tags: list[str], line: str = "cp311") -> list[str] | None:
    """Wheels for one platform and Python line, or None when one package has none for it."""
    out = os.path.join(ROOT, "wheels", line, platform)
    os.makedirs(out, exist_ok=True)
    versions = pins(line)
    pyver = LINES[line][0]
    wheels = []
    for name in BUNDLE_NAMES:
        version = versions[name.lower().replace("_", "-")]
        norm = re.sub(r"[-_.]+", "_", name).lower()
        have = [f for f in os.listdir(out)
                if f.endswith(".whl") and re.sub(r"[-_.]+", "_", f.split("-")[0]).lower() == norm
                and f.split("-")[1] == version]
        if not have:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                   "--python-version", pyver, "--implementation", "cp", "-d", out, f"{name}=={version}"]
            for tag in tags:
                cmd += ["--platform", tag]
            if subprocess.run(cmd, capture_output=True, text=True).returncode != 0:
                print(f"[extension] {line} {platform}: no wheel of {name}=={version}; platform skipped")
                return None
            have = [f for f in os.listdir(out)
                    if f.endswith(".whl") and re.sub(r"[-_.]+", "_", f.split("-")[0]).lower() == norm
                    and f.split("-")[1] == version]
        wheels.append(os.path.join(out, sorted(have)[0]))
    return wheels


# Files of third-party wheels that FaceForge never reads, left out of the bundled copies (their
# RECORD lines too; Blender unpacks wheels itself and reads RECORD only for the file list).
# pocketsphinx's word language model (27 MB of its 29 MB wheel) serves free dictation; FaceForge
# only aligns to a transcript (a grammar) and recognises phones (the phone LM), and its decoders
# are created with lm=None (animation/phonemes.py).
WHEEL_PRUNE = {"pocketsphinx": ("pocketsphinx/model/en-us/en-us.lm.bin",)}


def pruned_copy(src: str, dst: str) -> None:
    """Copy the wheel ``src`` to ``dst`` without the files ``WHEEL_PRUNE`` lists for its package."""
    name = re.sub(r"[-_.]+", "_", os.path.basename(src).split("-")[0]).lower()
    drop = set(WHEEL_PRUNE.get(name, ()))
    if not drop:
        shutil.copy2(src, dst)
        return
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename in drop:
                continue
            data = zin.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(ln for ln in lines if ln.split(",")[0] not in drop).encode()
            zout.writestr(item, data)


def stage(platform_wheels: dict[str, list[str]], line: str = "cp311") -> str:
    stage_dir = os.path.join(ROOT, "build", "stage", line, "faceforge")
    shutil.rmtree(stage_dir, ignore_errors=True)
    os.makedirs(stage_dir)
    for entry in os.listdir(ROOT):
        if entry in EXCLUDE or entry.startswith(".") and entry not in ():
            continue
        src = os.path.join(ROOT, entry)
        if os.path.isdir(src):
            skip = ["__pycache__", "*.pyc"]
            if entry == "models" and os.path.isfile(os.path.join(src, "minilm-l6-fp16.onnx")):
                skip.append("minilm-l6.onnx")  # the fp32 export: the fp16-stored copy ships instead
            shutil.copytree(src, os.path.join(stage_dir, entry), ignore=shutil.ignore_patterns(*skip))
        elif entry.endswith((".py", ".toml", ".md", ".txt", ".json", ".onnx")) and not entry.startswith("requirements"):
            shutil.copy2(src, stage_dir)
    wheel_dir = os.path.join(stage_dir, "wheels")
    os.makedirs(wheel_dir)
    listed = []
    for wheels in platform_wheels.values():
        for w in wheels:
            base = os.path.basename(w)
            if base not in listed:
                pruned_copy(w, os.path.join(wheel_dir, base))
                listed.append(base)
    manifest = open(os.path.join(ROOT, "blender_manifest.toml")).read()
    plats = ", ".join(f'"{p}"' for p in platform_wheels)
    wheel_list = ",\n".join(f'  "./wheels/{w}"' for w in sorted(listed))
    manifest = re.sub(r"^platforms = .*$", f"platforms = [{plats}]", manifest, flags=re.M)
    manifest = re.sub(r"^wheels = \[\]$", f"wheels = [\n{wheel_list},\n]", manifest, flags=re.M)
    _pyver, _req, bl_min, bl_max = LINES[line]
    bl_range = f'blender_version_min = "{bl_min}"' + (f'\nblender_version_max = "{bl_max}"' if bl_max else "")
    manifest = re.sub(r'^blender_version_min = .*$', bl_range, manifest, flags=re.M)
    with open(os.path.join(stage_dir, "blender_manifest.toml"), "w") as fh:
        fh.write(manifest)
    return stage_dir


def build_line(line: str, platforms: list[str], out: str) -> list[str]:
    """The zips of one Python line (one per platform with all its wheels); returns their paths."""
    platform_wheels = {}
    for platform in platforms:
        wheels = download(platform, PLATFORMS[platform], line)
        if wheels:
            platform_wheels[platform] = wheels
    if "linux-x64" not in platform_wheels:
        sys.exit(f"build_extension: could not get the linux-x64 wheels for {line}")
    stage_dir = stage(platform_wheels, line)
    cli = blender_ext_cli()
    tmp = os.path.join(ROOT, "build", "zips", line)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    subprocess.run([sys.executable, cli, "build", "--source-dir", stage_dir, "--output-dir", tmp,
                    "--split-platforms"], check=True, stdout=subprocess.DEVNULL)
    made = []
    for z in sorted(f for f in os.listdir(tmp) if f.startswith("faceforge-") and f.endswith(".zip")):
        stem = z[:-len(".zip")]
        version_part, _, plat = stem.rpartition("-")  # faceforge-<version>-<platform>
        dst = os.path.join(out, f"{version_part}-{line}-{plat}.zip")
        shutil.move(os.path.join(tmp, z), dst)
        subprocess.run([sys.executable, cli, "validate", dst], check=True, stdout=subprocess.DEVNULL)
        made.append(dst)
    return made


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all-platforms", action="store_true", help="also windows-x64 and macos-arm64")
    ap.add_argument("--python", default=current_line() if current_line() in LINES else "cp311",
                    choices=[*LINES, "all"], help="Python line (default: this interpreter's)")
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"))
    args = ap.parse_args(argv)
    platforms = list(PLATFORMS) if args.all_platforms else ["linux-x64"]
    os.makedirs(args.out, exist_ok=True)
    for line in (list(LINES) if args.python == "all" else [args.python]):
        for path in build_line(line, platforms, args.out):
            print(f"{path}  {os.path.getsize(path) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
