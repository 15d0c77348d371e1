#!/usr/bin/env bash
# Creates .venv/ with the full stack (`make demo` / `make test`), in the order it requires:
# torch first, then mmcv 2.1.0 built from its sdist with CPU ops (cached as a wheel outside the
# clone), then our package in editable mode with every extra ([mm,deploy,dev]); the C++ (and,
# where nvcc exists, CUDA) extensions are built by tools/build_ext.sh. A core-only install
# (models, ops, FLOPs, benchmark) needs none of this: `pip install .` (README "Set-up").
# Idempotent: a second run only re-installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
CACHE_DIR=${VMAMBA_ZOO_CACHE:-$HOME/.cache/vmamba_zoo}
WHEEL_DIR=$CACHE_DIR/wheels
TORCH_PIN="torch==2.14.1 torchvision==0.29.1"
MMCV_VERSION=2.1.0

log() { printf '[setup] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"

log "installing $TORCH_PIN"
$PIP install -q $TORCH_PIN wheel ninja

if ! $VENV/bin/python -c "import mmcv, mmcv.ops" >/dev/null 2>&1; then
    mkdir -p "$WHEEL_DIR"
    wheel=$(ls "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        log "building mmcv $MMCV_VERSION with CPU ops from its sdist (about 20 min on 2 cores, once per machine)"
        build_dir=$(mktemp -d)
        # mmcv 2.1.0's setup.py imports pkg_resources and is known to build with setuptools<70;
        # afterwards restore the range torch (>=77) and mmengine (pkg_resources, <81) need.
        $PIP install -q 'setuptools<70'
        $PIP download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$build_dir"
        # torch 2.14's headers require C++20 but mmcv's setup.py hard-codes -std=c++17;
        # gcc honours the last -std flag, so a wrapper that appends c++20 overrides it.
        cat > "$build_dir/cxx20" <<'WRAP'
#!/bin/sh
exec g++ "$@" -std=c++20
WRAP
        chmod +x "$build_dir/cxx20"
        $PIP install -q 'addict' 'packaging' 'pyyaml' 'yapf' 'mmengine==0.10.7' 'opencv-python' 'psutil'
        MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} CXX="$build_dir/cxx20" \
            $PIP wheel --no-build-isolation --no-deps -w "$build_dir/dist" "$build_dir"/mmcv-$MMCV_VERSION.tar.gz
        cp "$build_dir"/dist/mmcv-$MMCV_VERSION-*.whl "$WHEEL_DIR"/
        rm -rf "$build_dir"
        $PIP install -q 'setuptools>=77,<81'
        wheel=$(ls "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl | head -n 1)
    fi
    log "installing cached $wheel"
    $PIP install -q "$wheel"
fi

log "installing vmamba_zoo (editable) with its pinned dependencies and every extra"
VMAMBA_ZOO_SKIP_EXT=1 $PIP install -q --no-build-isolation -e '.[mm,deploy,dev]'
