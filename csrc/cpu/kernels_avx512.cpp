// The kernels for the avx512 path: AVX-512 F/DQ/BW/VL (with AVX2 + FMA), the vector core of
// x86-64-v4. Called only where the CPU has all of them (dispatch.cpp).
#include "kernels.h"

#if VMAMBA_ZOO_X86_PATHS
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl")
#define VMAMBA_ZOO_ISA avx512
#define VMAMBA_ZOO_VEC_BYTES 64
#define VMAMBA_ZOO_ISA_AVX512 1
#include "kernels_impl.h"
#pragma GCC pop_options
#endif
