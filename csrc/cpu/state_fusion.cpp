// Entry point of the fused CPU state fusion: argument checks, output allocation, and the call
// into the kernel of the active instruction-set path (state_fusion_kernels.h).
#include "checks.h"
#include "kernels.h"
#include "ops.h"

#include <algorithm>

namespace vmamba_zoo {

at::Tensor state_fusion_fwd(const at::Tensor& h, const at::Tensor& weight, const std::vector<int64_t>& dilations) {
  const char* op = "state_fusion_fwd";
  const auto dtype = cpu::scan_dtype(op, h, "h");
  cpu::check_tensor(op, h, "h", dtype);
  cpu::check_tensor(op, weight, "weight", dtype);
  TORCH_CHECK_VALUE(h.dim() == 4 && h.size(2) >= 1 && h.size(3) >= 1, op,
                    ": h must be (batch, channels, H, W) with H, W >= 1, got ", h.sizes());
  const int64_t channels = h.size(1), H = h.size(2), W = h.size(3);
  TORCH_CHECK_VALUE(!dilations.empty(), op, ": dilations must not be empty");
  // The kernel pads each plane by max(dilations) on every side. A dilation of max(H, W) or more
  // reads only replicated border pixels, the same ones whatever its value: capped there, the
  // padding stays within the map's size.
  std::vector<int64_t> taps_dilations;
  for (int64_t d : dilations) {
    TORCH_CHECK_VALUE(d >= 1, op, ": dilations must be positive, got ", d);
    taps_dilations.push_back(std::min(d, std::max(H, W)));
  }
  cpu::check_shape(op, weight, "weight", {static_cast<int64_t>(dilations.size()), channels, 3, 3},
                   "(len(dilations), channels, 3, 3)");
  at::Tensor out = at::empty_like(h);
  AT_DISPATCH_FLOATING_TYPES(dtype, "vmamba_zoo_state_fusion_fwd", [&] {
    const cpu::StateFusionArgs<scalar_t> p{h.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), &taps_dilations,
                                           out.data_ptr<scalar_t>(), h.size(0), channels, H, W};
    cpu::kernels().get<scalar_t>().state_fusion_fwd(p);
  });
  return out;
}

}  // namespace vmamba_zoo
