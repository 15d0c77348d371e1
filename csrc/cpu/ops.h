// Entry points of the vmamba_zoo._C CPU extension (bound to Python in module.cpp). Each checks
// all of its arguments before computing (checks.h).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

namespace vmamba_zoo {

using OptTensor = std::optional<at::Tensor>;

// Selective scan: see vmamba_zoo/ops/selective_scan/__init__.py for the math and shapes.
std::vector<at::Tensor> selective_scan_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                           const at::Tensor& B, const at::Tensor& C, const OptTensor& D,
                                           const OptTensor& delta_bias, bool softplus);
// Returns (du, ddelta, dA, dB, dC, dD or None, ddelta_bias or None).
std::vector<OptTensor> selective_scan_bwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                          const at::Tensor& B, const at::Tensor& C, const OptTensor& D,
                                          const OptTensor& delta_bias, bool softplus, const at::Tensor& dy,
                                          const OptTensor& dlast);
at::Tensor selective_scan_states_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                     const at::Tensor& B, const OptTensor& delta_bias, bool softplus);
// Returns (du, ddelta, dA, dB, ddelta_bias or None).
std::vector<OptTensor> selective_scan_states_bwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                                 const at::Tensor& B, const OptTensor& delta_bias, bool softplus,
                                                 const at::Tensor& dh);

// Cross-scan / cross-merge: see vmamba_zoo/ops/cross_scan/modes.py for the modes.
at::Tensor cross_scan(const at::Tensor& x, const std::string& mode);
at::Tensor cross_merge(const at::Tensor& ys, int64_t H, int64_t W, const std::string& mode);

// Fused cross-scan + Δ projection + selective scan + cross-merge (inference): see
// vmamba_zoo/ops/cross_selective_scan/__init__.py.
at::Tensor cross_selective_scan_fwd(const at::Tensor& x, const at::Tensor& x_dbl, const at::Tensor& route,
                                    const at::Tensor& dt_weight, const at::Tensor& dt_bias, const at::Tensor& A,
                                    const at::Tensor& D, bool grouped, bool softplus);

// Its gradients (training): dy -> (dx through the scan input, ddelta (K, batch * P, Dk), dBC
// (K, batch * P, 2N), dA, dD, ddt_bias); the entry point documents them.
std::vector<at::Tensor> cross_selective_scan_bwd(const at::Tensor& x, const at::Tensor& x_dbl, const at::Tensor& route,
                                                 const at::Tensor& dt_weight, const at::Tensor& dt_bias,
                                                 const at::Tensor& A, const at::Tensor& D, bool grouped, bool softplus,
                                                 const at::Tensor& dy);

// Spatial-Mamba's structure-aware state fusion (inference): see vmamba_zoo/ops/state_fusion.
at::Tensor state_fusion_fwd(const at::Tensor& h, const at::Tensor& weight, const std::vector<int64_t>& dilations);
// Its gradients (training): dout -> (dh, dweight).
std::vector<at::Tensor> state_fusion_bwd(const at::Tensor& h, const at::Tensor& weight,
                                         const std::vector<int64_t>& dilations, const at::Tensor& dout);

// LayerNorm over the last dim of a float32 or bfloat16 x with float32 weight and bias, in float32
// math, rounded once to a bfloat16 output (inference).
at::Tensor layer_norm_bf16(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// The instruction-set paths of the kernels (dispatch.cpp): those compiled into this build and
// those the running CPU supports (fastest first), the active one, and a switch (or "auto").
std::vector<std::string> compiled_cpu_isas();
std::vector<std::string> supported_cpu_isas();
std::string active_cpu_isa();
void set_cpu_isa(const std::string& name);

}  // namespace vmamba_zoo
