# Two entry points on a fresh clone: `make demo` and `make test`. Both set up .venv/ on first use
# (torch, mmcv 2.1.0 built once and cached in ~/.cache/vmamba_zoo, this package, its extensions).
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-stamp
EXT_STAMP := $(VENV)/.ext-stamp
CSRC := $(wildcard csrc/*/*.cpp csrc/*/*.cu csrc/*/*.h csrc/*/*.cuh)

.PHONY: setup build-ext test test-fast demo wheel clean

$(SETUP_STAMP): pyproject.toml tools/setup_env.sh
	bash tools/setup_env.sh
	touch $@

$(EXT_STAMP): $(SETUP_STAMP) setup.py $(CSRC)
	bash tools/build_ext.sh
	touch $@

setup: $(EXT_STAMP)

build-ext:
	bash tools/build_ext.sh
	touch $(EXT_STAMP)

test: $(EXT_STAMP)
	$(PY) -m pytest -ra tests

test-fast: $(EXT_STAMP)
	$(PY) -m pytest -ra -m "not slow" tests

demo: $(EXT_STAMP)
	$(PY) tools/demo.py

# sdist + Linux wheel (with the compiled extensions) in dist/, built against the venv's torch
wheel: $(SETUP_STAMP)
	$(PY) -m build --no-isolation --outdir dist .

clean:
	rm -rf build dist vmamba_zoo/*.so $(EXT_STAMP)
