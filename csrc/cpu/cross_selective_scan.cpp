// Entry point of the fused CPU cross selective scan: argument checks, output allocation, and
// the call into the kernel of the active instruction-set path (cross_selective_scan_kernels.h;
// cross_selective_scan_bf16_kernels.h for bfloat16 x).
#include "cross_selective_scan_checks.h"
#include "kernels.h"
#include "ops.h"

namespace vmamba_zoo {

at::Tensor cross_selective_scan_fwd(const at::Tensor& x, const at::Tensor& x_dbl, const at::Tensor& route,
                                    const at::Tensor& dt_weight, const at::Tensor& dt_bias, const at::Tensor& A,
                                    const at::Tensor& D, bool grouped, bool softplus) {
  const char* op = "cross_selective_scan_fwd";
  const auto s = cpu::check_cross_scan(op, x, x_dbl, route, dt_weight, dt_bias, A, D, grouped, /*bf16_x_allowed=*/true);
  const auto dtype = s.dtype;
  const int64_t batch = s.batch, P = s.pixels, C = s.channels, K = s.K, Dk = s.dir_channels, R = s.rank, N = s.state;
  if (x.scalar_type() == at::kBFloat16) {
    at::Tensor y = at::empty_like(x);  // the kernel writes all of it
    cpu::CrossScanArgs<float> params{
        nullptr, x_dbl.data_ptr<float>(), route.data_ptr<int32_t>(), dt_weight.data_ptr<float>(), dt_bias.data_ptr<float>(),
        A.data_ptr<float>(), D.data_ptr<float>(), nullptr, batch, P, C, K, s.length, Dk, R, N,
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
