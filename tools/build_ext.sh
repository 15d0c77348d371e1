#!/usr/bin/env bash
# Builds the compiled op backends in place: vmamba_zoo._C (C++/OpenMP, always) and
# vmamba_zoo._C_cuda (only where nvcc exists; compiled and linked even without a GPU).
# A failed build is reported, not fatal: the package imports with the backends that built.
set -uo pipefail
cd "$(dirname "$0")/.."
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
    # torch otherwise guesses a CUDA folder without libcudart and the link fails
    export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")")")}
    export PATH="$CUDA_HOME/bin:$PATH"
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-"8.0;9.0"}
    echo "[build-ext] CUDA toolkit at $CUDA_HOME, arch list $TORCH_CUDA_ARCH_LIST"
else
    unset CUDA_HOME
    echo "[build-ext] nvcc not found: building the CPU extension only"
fi
export MAX_JOBS=${MAX_JOBS:-2}
if ! command -v "${CXX:-g++}" >/dev/null 2>&1; then
    echo "[build-ext] no C++ compiler (${CXX:-g++}) found: the 'cpu' and 'cuda' backends will be unavailable" >&2
fi
.venv/bin/python setup.py -q build_ext --inplace 2>&1 | grep -v -E '^(copying|running|creating)' || true
.venv/bin/python -m vmamba_zoo.ops.report
