# FaceForge. Quickstart: `make demo` (main job on the built-in default), `make test`.
PY := .venv/bin/python

.PHONY: setup demo test test-fast test-installed extension benchmarks clean

setup:
	@scripts/setup_env.sh

demo: setup
	./faceforge demo --out out/demo

test: setup
	$(PY) -m pytest -q tests

# Everyday work: the suite without the tests marked slow (what CI runs is `make test`).
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

# The same suite against the built extension zip installed into a throwaway user folder.
test-installed: setup
	FACEFORGE_TEST_INSTALLED=1 $(PY) -m pytest -q tests

extension: setup
	$(PY) scripts/build_extension.py --all-platforms

benchmarks: setup
	$(PY) -m pip install -q -r benchmarks/requirements-reference.txt
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build dist out .pytest_cache
