"""Builds the optional compiled backends of vmamba_zoo.ops.

``vmamba_zoo._C`` (csrc/cpu, C++ with OpenMP) is always attempted; ``vmamba_zoo._C_cuda``
(csrc/cuda) only when a CUDA toolkit (nvcc and libcudart) is found and VMAMBA_ZOO_NO_CUDA is not
1. Both are ``optional``: a missing compiler or a failed build prints a warning and the package
still installs and imports, with the backends that did build (``python -m vmamba_zoo.ops.report``
lists them). Metadata lives in pyproject.toml.
Build against the installed torch: ``pip install --no-build-isolation -e .``.
"""

import glob
import os
import shutil

from setuptools import setup


def find_cuda_home() -> str | None:
    """The CUDA toolkit folder: the one whose bin/ has nvcc and whose lib64/ or lib/ has libcudart.

    torch otherwise takes nvcc's parent folder, which need not hold the runtime (e.g. a wrapper
    script in /usr/local/bin), and the link then fails after the whole CUDA compile.
    """
    nvcc = shutil.which("nvcc")
    nvcc_home = os.path.dirname(os.path.dirname(os.path.realpath(nvcc))) if nvcc else None
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda", nvcc_home, *sorted(glob.glob("/usr/local/cuda-*"))):
        if not home or not os.access(os.path.join(home, "bin", "nvcc"), os.X_OK):
            continue
        if glob.glob(os.path.join(home, "lib64", "libcudart.so*")) + glob.glob(os.path.join(home, "lib", "libcudart.so*")):
            return home
    return None


# VMAMBA_ZOO_NO_CUDA=1 leaves the CUDA extension out (a CPU-only wheel, or a quick build).
cuda_home = None
if os.environ.get("VMAMBA_ZOO_NO_CUDA") != "1":
    cuda_home = find_cuda_home()
    if cuda_home:
        # before torch.utils.cpp_extension reads it at import
        os.environ["CUDA_HOME"] = cuda_home
        os.environ["PATH"] = os.path.join(cuda_home, "bin") + os.pathsep + os.environ.get("PATH", "")
        print(f"vmamba_zoo: CUDA toolkit at {cuda_home}: building the CUDA extension too")
    else:
        print("vmamba_zoo: no CUDA toolkit (nvcc and libcudart) found: building the CPU extension only")

ext_modules = []
cmdclass = {}
try:
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension
except ImportError:  # metadata-only builds (e.g. sdist) need no torch
    BuildExtension = None

# `pip install -e .` sets this so the extensions are built once, in place, by `make build-ext`.
if BuildExtension is not None and os.environ.get("VMAMBA_ZOO_SKIP_EXT") != "1":
    # -std is left to torch (it passes the C++20 its headers need). No -march: the binary runs on
    # any CPU of the target architecture; the kernels carry their own AVX2 and AVX-512 copies and
    # pick one at run time (csrc/cpu/kernels.h).
    # -Wno-psabi: GCC notes that 64-byte vector arguments are passed differently with and
    # without AVX-512; the kernels pass them only between functions of one path.
    # -g0: no debug info (Python's own CFLAGS ask for -g), which would double the compile time
    # of every file that includes torch's headers.
    cxx_flags = ["-O3", "-g0", "-fopenmp", "-ffp-contract=fast", "-Wno-psabi"]
    cpu_sources = sorted(glob.glob("csrc/cpu/*.cpp"))
    cuda_sources = sorted(glob.glob("csrc/cuda/*.cu") + glob.glob("csrc/cuda/*.cpp"))
    if cpu_sources:
        ext_modules.append(
            CppExtension(
                "vmamba_zoo._C",
                cpu_sources,
                extra_compile_args={"cxx": cxx_flags},
                extra_link_args=["-fopenmp"],
                optional=True,
            )
        )
    if cuda_sources and cuda_home:
        # without a GPU to ask, torch needs the architectures named (tools/build_ext.sh's default)
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0+PTX")
        ext_modules.append(
            CUDAExtension(
                "vmamba_zoo._C_cuda",
                cuda_sources,
                extra_compile_args={"cxx": ["-O3", "-g0"], "nvcc": ["-O3", "--use_fast_math", "--threads", "2"]},
                optional=True,
            )
        )
if BuildExtension is not None:
    cmdclass["build_ext"] = BuildExtension.with_options(use_ninja=True)

setup(ext_modules=ext_modules, cmdclass=cmdclass)
