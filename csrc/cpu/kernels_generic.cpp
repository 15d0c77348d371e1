// The kernels for the generic path: portable vector code at the extension's baseline flags
// (runs on any x86-64; the only path on other architectures and compilers).
#include "kernels.h"

#define VMAMBA_ZOO_ISA generic
#define VMAMBA_ZOO_VEC_BYTES 16
#define VMAMBA_ZOO_ISA_AVX512 0
#include "kernels_impl.h"
