// Entry point of the fused CPU cross selective scan's backward: argument checks, output
// allocation, the call into the kernel of the active instruction-set path
// (cross_selective_scan_backward_kernels.h), and the sums of its per-batch / per-block partials.
#include "cross_selective_scan_checks.h"
#include "kernels.h"
#include "ops.h"

namespace vmamba_zoo {

// Returns, for the forward's arguments and dy (batch, P, C):
//   dx      (batch, P, C): the gradient through the scan input u (not through x_dbl)
//   ddelta  (K, batch * P, Dk): of Δ's low-rank product dt_weight[k] · x_dbl[k, pixel, :R]
//   dBC     (K, batch * P, 2N): of x_dbl's B and C columns
//   dA (K * Dk, N), dD and ddt_bias (K * Dk), flat like the forward's tables.
std::vector<at::Tensor> cross_selective_scan_bwd(const at::Tensor& x, const at::Tensor& x_dbl, const at::Tensor& route,
                                                 const at::Tensor& dt_weight, const at::Tensor& dt_bias,
                                                 const at::Tensor& A, const at::Tensor& D, bool grouped, bool softplus,
                                                 const at::Tensor& dy) {
  const char* op = "cross_selective_scan_bwd";
  const auto s = cpu::check_cross_scan(op, x, x_dbl, route, dt_weight, dt_bias, A, D, grouped);
  cpu::check_tensor(op, dy, "dy", s.dtype);
  cpu::check_shape(op, dy, "dy", x.sizes(), "(batch, P, C)");
  const auto options = x.options();
  const int64_t BP = s.batch * s.pixels, KDk = s.K * s.dir_channels, N = s.state;
  // The kernel writes ddelta and dBC at every pixel a route visits: zeros are needed unless
  // every route visits every pixel exactly once.
  const at::Tensor valid = route.ge(0);
  const at::Tensor visited = (route.to(at::kLong) + at::arange(s.K, route.options().dtype(at::kLong)).unsqueeze(1) * s.pixels)
                                 .masked_select(valid);
  const bool covered = at::bincount(visited, {}, s.K * s.pixels).eq(1).all().item<bool>();
  auto alloc = [&](at::IntArrayRef sizes) { return covered ? at::empty(sizes, options) : at::zeros(sizes, options); };
  at::Tensor dx = at::zeros_like(x);
  at::Tensor ddelta = alloc({s.K, BP, s.dir_channels});
  at::Tensor dA = at::empty({s.batch, KDk, N}, options);
  at::Tensor dD = at::empty({s.batch, KDk}, options), dbias = at::empty({s.batch, KDk}, options);
  at::Tensor dBC;
  AT_DISPATCH_FLOATING_TYPES(s.dtype, "vmamba_zoo_cross_selective_scan_bwd", [&] {
    const auto& kernels = cpu::kernels().get<scalar_t>();
    const cpu::CrossScanArgs<scalar_t> p{
        x.data_ptr<scalar_t>(), x_dbl.data_ptr<scalar_t>(), route.data_ptr<int32_t>(),
        dt_weight.data_ptr<scalar_t>(), dt_bias.data_ptr<scalar_t>(), A.data_ptr<scalar_t>(),
        D.data_ptr<scalar_t>(), nullptr, s.batch, s.pixels, s.channels, s.K, s.length, s.dir_channels, s.rank, N,
        x_dbl.stride(0), x_dbl.stride(1), grouped, softplus, kernels.lanes};
    dBC = alloc({s.K, p.blocks(), BP, 2 * N});
    const cpu::CrossScanGrads<scalar_t> out{dy.data_ptr<scalar_t>(), dx.data_ptr<scalar_t>(),
                                            ddelta.data_ptr<scalar_t>(), dBC.data_ptr<scalar_t>(),
                                            dA.data_ptr<scalar_t>(), dD.data_ptr<scalar_t>(),
                                            dbias.data_ptr<scalar_t>()};
    kernels.cross_selective_scan_bwd(p, out);
  });
  return {dx, ddelta, dBC.size(1) == 1 ? dBC.squeeze(1) : dBC.sum(1), dA.sum(0), dD.sum(0), dbias.sum(0)};
}

}  // namespace vmamba_zoo
