// The kernels of one instruction-set path and its KernelTable. Included once by each
// kernels_<path>.cpp, which defines VMAMBA_ZOO_ISA (the path's namespace) and, on x86, opens the
// target region first.
#pragma once

#ifndef VMAMBA_ZOO_ISA
#error "kernels_impl.h is included by kernels_<path>.cpp, which names the path"
#endif

#include "cross_selective_scan_bf16_kernels.h"
#include "cross_selective_scan_kernels.h"
#include "layer_norm_bf16_kernels.h"
#include "selective_scan_kernels.h"
#include "cross_selective_scan_backward_kernels.h"
#include "state_fusion_kernels.h"
#include "state_fusion_backward_kernels.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

template <typename T>
constexpr Kernels<T> kKernels{simd::kLanes<T>, &scan_fwd<T>,       &scan_bwd<T>,
                              &scan_states_fwd<T>, &scan_states_bwd<T>,
                              &cross_selective_scan_fwd<T>, &cross_selective_scan_bwd<T>,
                              &state_fusion_fwd<T>, &state_fusion_bwd<T>};

const KernelTable table{kKernels<float>, kKernels<double>, &cross_selective_scan_fwd_bf16, &layer_norm_bf16};

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
