#!/usr/bin/env bash
# Builds the compiled op backends in place: vmamba_zoo._C (C++/OpenMP, always) and
# vmamba_zoo._C_cuda (only where nvcc exists; compiled and linked even without a GPU).
# A failed build is reported, not fatal: the package imports with the backends that built.
set -uo pipefail
cd "$(dirname "$0")/.."
# The CUDA toolkit folder: the one whose bin/ has nvcc and whose lib64/ (or lib/) has libcudart;
# torch otherwise guesses a folder without it and the link fails.
find_cuda_home() {
    local nvcc_dir=""
    command -v nvcc >/dev/null 2>&1 && nvcc_dir=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
    for candidate in "${CUDA_HOME:-}" /usr/local/cuda "$nvcc_dir" /usr/local/cuda-*; do
        [ -n "$candidate" ] && [ -x "$candidate/bin/nvcc" ] || continue
        if ls "$candidate"/lib64/libcudart.so* "$candidate"/lib/libcudart.so* >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
if cuda_home=$(find_cuda_home); then
    export CUDA_HOME=$cuda_home
    export PATH="$CUDA_HOME/bin:$PATH"
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-"8.0;9.0+PTX"}
    echo "[build-ext] CUDA toolkit at $CUDA_HOME, arch list $TORCH_CUDA_ARCH_LIST"
else
    unset CUDA_HOME
    echo "[build-ext] no CUDA toolkit (nvcc + libcudart) found: building the CPU extension only"
fi
export MAX_JOBS=${MAX_JOBS:-2}
if ! command -v "${CXX:-g++}" >/dev/null 2>&1; then
    echo "[build-ext] no C++ compiler (${CXX:-g++}) found: the 'cpu' and 'cuda' backends will be unavailable" >&2
fi
.venv/bin/python setup.py -q build_ext --inplace 2>&1 | grep -v -E '^(copying|running|creating)' || true
.venv/bin/python -m vmamba_zoo.ops.report
