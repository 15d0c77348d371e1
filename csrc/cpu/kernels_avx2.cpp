// The kernels for the avx2 path: AVX2 + FMA, the vector core of x86-64-v3 (x86-64 CPUs since
// about 2013-2015). Called only where the CPU has both (dispatch.cpp).
#include "kernels.h"

#if VMAMBA_ZOO_X86_PATHS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VMAMBA_ZOO_ISA avx2
#define VMAMBA_ZOO_VEC_BYTES 32
#define VMAMBA_ZOO_ISA_AVX512 0
#include "kernels_impl.h"
#pragma GCC pop_options
#endif
