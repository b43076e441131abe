# FaceForge. Quickstart: `make demo` (main job on the built-in default), `make test` (what CI runs).
# Two Blender lines: .venv (Python 3.11, bpy 4.5 LTS: Blender 4.2-5.0) and .venv-313
# (Python 3.13, bpy 5.3: Blender 5.1+).
PY := .venv/bin/python
PY313 := .venv-313/bin/python

.PHONY: setup setup-313 demo test test-45 test-fast test-313 test-installed test-installed-313 extension benchmarks clean

setup:
	@scripts/setup_env.sh

setup-313:
	@scripts/setup_env.sh 313

demo: setup
	./faceforge demo --out out/demo

# What CI runs (.ci/run; 90 minutes for everything, environments included): the whole suite on
# the Blender 4.5 line, then every non-slow test on 5.3 (test_extension installs each line's zip
# into its own bpy).
test: setup setup-313
	$(PY) -m pytest -q tests
	$(PY313) -m pytest -q -m "not slow" tests

# The whole suite on the Blender 4.5 line only (with mediapipe as the tracker's reference).
test-45: setup
	$(PY) -m pytest -q tests

# Everyday work: the suite without the tests marked slow.
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

# Every test not marked slow on the Blender 5.3 line (the reference tracker's tests skip:
# mediapipe has no Python 3.13 wheel).
test-313: setup-313
	$(PY313) -m pytest -q -m "not slow" tests

# The same suites against the built extension zip of each line, installed into a throwaway
# Blender user folder.
test-installed: setup
	FACEFORGE_TEST_INSTALLED=1 $(PY) -m pytest -q tests

test-installed-313: setup-313
	FACEFORGE_TEST_INSTALLED=1 $(PY313) -m pytest -q -m "not slow" tests

# Every zip: linux-x64, windows-x64, macos-arm64 x cp311 (Blender 4.2-5.0), cp313 (5.1+).
extension: setup
	$(PY) scripts/build_extension.py --python all --all-platforms

benchmarks: setup
	$(PY) -m pip install -q -r benchmarks/requirements-reference.txt
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build dist out .pytest_cache
