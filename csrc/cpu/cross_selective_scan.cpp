// Entry point of the fused CPU cross selective scan: argument checks, output allocation, and
// the call into the kernel of the active instruction-set path (cross_selective_scan_kernels.h;
// cross_selective_scan_bf16_kernels.h for bfloat16 x).
#include "checks.h"
#include "kernels.h"
#include "ops.h"

namespace vmamba_zoo {

at::Tensor cross_selective_scan_fwd(const at::Tensor& x, const at::Tensor& x_dbl, const at::Tensor& route,
                                    const at::Tensor& dt_weight, const at::Tensor& dt_bias, const at::Tensor& A,
                                    const at::Tensor& D, bool grouped, bool softplus) {
  const char* op = "cross_selective_scan_fwd";
  TORCH_CHECK_VALUE(x.defined(), op, ": x is an undefined tensor");
  // x (and y) in bfloat16: float32 x_dbl, parameters, states and sums (the bf16 kernel)
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  const auto dtype = bf16 ? at::kFloat : x.scalar_type();
  TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kDouble, op,
                    ": x must be float32, float64 or bfloat16, got ", x.scalar_type());
  cpu::check_tensor(op, x, "x", x.scalar_type());
  for (const auto& [t, name] : {std::pair{&dt_weight, "dt_weight"}, {&dt_bias, "dt_bias"}, {&A, "A"}, {&D, "D"}}) {
    TORCH_CHECK_VALUE(!bf16 || !t->defined() || t->scalar_type() == at::kFloat, op, ": with bfloat16 x, ", name,
                      " must be float32, got ", t->scalar_type());
    cpu::check_tensor(op, *t, name, dtype);
  }
  cpu::check_tensor(op, route, "route", at::kInt);
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

  if (bf16) {
    at::Tensor y = at::empty_like(x);  // the kernel writes all of it
    cpu::CrossScanArgs<float> params{
        nullptr, x_dbl.data_ptr<float>(), route.data_ptr<int32_t>(), dt_weight.data_ptr<float>(), dt_bias.data_ptr<float>(),
        A.data_ptr<float>(), D.data_ptr<float>(), nullptr, batch, P, C, K, route.size(1), Dk, R, N,
        x_dbl.stride(0), x_dbl.stride(1), grouped, softplus, cpu::kernels().f32.lanes};
    cpu::kernels().cross_selective_scan_fwd_bf16(
        {params, reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>()),
         reinterpret_cast<uint16_t*>(y.data_ptr<at::BFloat16>())});
    return y;
  }
  at::Tensor y = at::zeros_like(x);
  AT_DISPATCH_FLOATING_TYPES(dtype, "vmamba_zoo_cross_selective_scan_fwd", [&] {
    const auto& kernels = cpu::kernels().get<scalar_t>();
    const cpu::CrossScanArgs<scalar_t> p{
        x.data_ptr<scalar_t>(), x_dbl.data_ptr<scalar_t>(), route.data_ptr<int32_t>(),
        dt_weight.data_ptr<scalar_t>(), dt_bias.data_ptr<scalar_t>(), A.data_ptr<scalar_t>(),
        D.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), batch, P, C, K, route.size(1), Dk, R, N,
        x_dbl.stride(0), x_dbl.stride(1), grouped, softplus, kernels.lanes};
    kernels.cross_selective_scan_fwd(p);
  });
  return y;
}

}  // namespace vmamba_zoo
