// Entry point of the fused CPU state fusion: argument checks, output allocation, and the call
// into the kernel of the active instruction-set path (state_fusion_kernels.h).
#include "checks.h"
#include "kernels.h"
#include "ops.h"

#include <algorithm>

namespace vmamba_zoo {

namespace {

// Checks h (batch, channels, H, W), weight (len(dilations), channels, 3, 3) and the dilations;
// returns the dilations the kernels use. The kernels pad each plane by max(dilations) on every
// side. A dilation of max(H, W) or more reads only replicated border pixels, the same ones
// whatever its value: capped there, the padding stays within the map's size.
std::vector<int64_t> check_state_fusion(const char* op, const at::Tensor& h, const at::Tensor& weight,
                                        const std::vector<int64_t>& dilations) {
  const auto dtype = cpu::scan_dtype(op, h, "h");
  cpu::check_tensor(op, h, "h", dtype);
  cpu::check_tensor(op, weight, "weight", dtype);
  TORCH_CHECK_VALUE(h.dim() == 4 && h.size(2) >= 1 && h.size(3) >= 1, op,
                    ": h must be (batch, channels, H, W) with H, W >= 1, got ", h.sizes());
  const int64_t channels = h.size(1), H = h.size(2), W = h.size(3);
  TORCH_CHECK_VALUE(!dilations.empty(), op, ": dilations must not be empty");
  std::vector<int64_t> taps_dilations;
  for (int64_t d : dilations) {
    TORCH_CHECK_VALUE(d >= 1, op, ": dilations must be positive, got ", d);
    taps_dilations.push_back(std::min(d, std::max(H, W)));
  }
  cpu::check_shape(op, weight, "weight", {static_cast<int64_t>(dilations.size()), channels, 3, 3},
                   "(len(dilations), channels, 3, 3)");
  return taps_dilations;
}

}  // namespace

at::Tensor state_fusion_fwd(const at::Tensor& h, const at::Tensor& weight, const std::vector<int64_t>& dilations) {
  const auto taps_dilations = check_state_fusion("state_fusion_fwd", h, weight, dilations);
  const auto dtype = h.scalar_type();
  const int64_t channels = h.size(1), H = h.size(2), W = h.size(3);
  at::Tensor out = at::empty_like(h);
  AT_DISPATCH_FLOATING_TYPES(dtype, "vmamba_zoo_state_fusion_fwd", [&] {
    const cpu::StateFusionArgs<scalar_t> p{h.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), &taps_dilations,
                                           out.data_ptr<scalar_t>(), h.size(0), channels, H, W};
    cpu::kernels().get<scalar_t>().state_fusion_fwd(p);
  });
  return out;
}

std::vector<at::Tensor> state_fusion_bwd(const at::Tensor& h, const at::Tensor& weight,
                                         const std::vector<int64_t>& dilations, const at::Tensor& dout) {
  const char* op = "state_fusion_bwd";
  const auto taps_dilations = check_state_fusion(op, h, weight, dilations);
  cpu::check_tensor(op, dout, "dout", h.scalar_type());
  cpu::check_shape(op, dout, "dout", h.sizes(), "(batch, channels, H, W)");
  const int64_t batch = h.size(0), channels = h.size(1), taps = weight.size(0);
  at::Tensor dh = at::empty_like(h);
  at::Tensor dweight = at::empty({batch, taps, channels, 3, 3}, h.options());
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "vmamba_zoo_state_fusion_bwd", [&] {
    const cpu::StateFusionArgs<scalar_t> p{h.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), &taps_dilations,
                                           nullptr, batch, channels, h.size(2), h.size(3)};
    cpu::kernels().get<scalar_t>().state_fusion_bwd(p, dout.data_ptr<scalar_t>(), dh.data_ptr<scalar_t>(),
                                                    dweight.data_ptr<scalar_t>());
  });
  return {dh, dweight.sum(0)};
}

}  // namespace vmamba_zoo
