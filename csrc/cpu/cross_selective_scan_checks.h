// Argument checks shared by the fused cross selective scan's entry points (forward and backward).
#pragma once

#include "checks.h"

namespace vmamba_zoo::cpu {

struct CrossScanSizes {
  at::ScalarType dtype;
  int64_t batch, pixels, channels, K, length, dir_channels, rank, state;
};

// x (batch, P, C), x_dbl (K, batch * P, R + 2N) with a contiguous last dim, route (K, L) of pixel
// indices or -1, dt_weight (K, Dk, R), dt_bias and D K * Dk elements, A (K * Dk, N); C = K * Dk
// when grouped, else Dk.
inline CrossScanSizes check_cross_scan(const char* op, const at::Tensor& x, const at::Tensor& x_dbl,
                                       const at::Tensor& route, const at::Tensor& dt_weight,
                                       const at::Tensor& dt_bias, const at::Tensor& A, const at::Tensor& D,
                                       bool grouped, bool bf16_x_allowed = false) {
  TORCH_CHECK_VALUE(x.defined(), op, ": x is an undefined tensor");
  // bfloat16 x (and y), where the entry point takes it: float32 x_dbl, parameters, states and sums
  const bool bf16 = bf16_x_allowed && x.scalar_type() == at::kBFloat16;
  const auto dtype = bf16 ? at::kFloat : x.scalar_type();
  TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kDouble, op, ": x must be float32",
                    bf16_x_allowed ? ", float64 or bfloat16" : " or float64", ", got ", x.scalar_type());
  check_tensor(op, x, "x", x.scalar_type());
  for (const auto& [t, name] : {std::pair{&dt_weight, "dt_weight"}, {&dt_bias, "dt_bias"}, {&A, "A"}, {&D, "D"}}) {
    TORCH_CHECK_VALUE(!bf16 || !t->defined() || t->scalar_type() == at::kFloat, op, ": with bfloat16 x, ", name,
                      " must be float32, got ", t->scalar_type());
    check_tensor(op, *t, name, dtype);
  }
  check_tensor(op, route, "route", at::kInt);
  // x_dbl is a view of one GEMM's output: only its last dim must be contiguous
  TORCH_CHECK_VALUE(x_dbl.defined() && x_dbl.device().is_cpu() && x_dbl.scalar_type() == dtype, op,
                    ": x_dbl must be a CPU tensor of dtype ", dtype, bf16 ? " (float32 with bfloat16 x)" : " (x's)");
  TORCH_CHECK_VALUE(route.dim() == 2 && route.size(0) >= 1, op, ": route must be (K >= 1, L), got ", route.sizes());
  const int64_t K = route.size(0);
  TORCH_CHECK_VALUE(dt_weight.dim() == 3 && dt_weight.size(0) == K && dt_weight.size(1) >= 1, op,
                    ": dt_weight must be (K=", K, ", Dk >= 1, R), got ", dt_weight.sizes());
  const int64_t Dk = dt_weight.size(1), R = dt_weight.size(2);
  TORCH_CHECK_VALUE(A.dim() == 2 && A.size(0) == K * Dk && A.size(1) >= 1, op, ": A must be (K * Dk=", K * Dk,
                    ", N >= 1), got ", A.sizes());
  const int64_t N = A.size(1);
  TORCH_CHECK_VALUE(dt_bias.numel() == K * Dk && D.numel() == K * Dk, op, ": dt_bias and D must have K * Dk = ",
                    K * Dk, " elements, got shapes ", dt_bias.sizes(), " and ", D.sizes());
  const int64_t C = grouped ? K * Dk : Dk;
  TORCH_CHECK_VALUE(x.dim() == 3 && x.size(2) == C, op, ": x must be (batch, P, C=", C, "), got ", x.sizes());
  const int64_t batch = x.size(0), P = x.size(1);
  TORCH_CHECK_VALUE(x_dbl.dim() == 3 && x_dbl.size(0) == K && x_dbl.size(1) == batch * P &&
                        x_dbl.size(2) == R + 2 * N && x_dbl.stride(2) == 1,
                    op, ": x_dbl must be (K, batch * P, R + 2N) = (", K, ", ", batch * P, ", ", R + 2 * N,
                    ") with a contiguous last dim, got ", x_dbl.sizes(), " with strides ", x_dbl.strides());
  TORCH_CHECK_VALUE(route.numel() == 0 || (route.min().item<int32_t>() >= -1 && route.max().item<int32_t>() < P), op,
                    ": route indexes pixels outside the map of ", P, " pixels");
  return {dtype, batch, P, C, K, route.size(1), Dk, R, N};
}

}  // namespace vmamba_zoo::cpu
