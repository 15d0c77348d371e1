#!/usr/bin/env bash
# Builds the compiled op backends in place: vmamba_zoo._C (C++/OpenMP, always) and
# vmamba_zoo._C_cuda (only where a CUDA toolkit is found; compiled and linked even without a GPU).
# A failed build is reported, not fatal: the package imports with the backends that built.
set -uo pipefail
cd "$(dirname "$0")/.."
# setup.py finds the CUDA toolkit (the folder with nvcc and libcudart) and says whether it builds
# the CUDA extension.
export MAX_JOBS=${MAX_JOBS:-2}
if ! command -v "${CXX:-g++}" >/dev/null 2>&1; then
    echo "[build-ext] no C++ compiler (${CXX:-g++}) found: the 'cpu' and 'cuda' backends will be unavailable" >&2
fi
.venv/bin/python setup.py -q build_ext --inplace 2>&1 | grep -v -E '^(copying|running|creating)' || true
.venv/bin/python -m vmamba_zoo.ops.report
