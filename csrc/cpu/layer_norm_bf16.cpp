// Entry point of the bfloat16-output LayerNorm (layer_norm_bf16_kernels.h): argument checks,
// output allocation, and the call into the kernel of the active instruction-set path.
#include "checks.h"
#include "kernels.h"
#include "ops.h"

namespace vmamba_zoo {

at::Tensor layer_norm_bf16(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  const char* op = "layer_norm_bf16";
  TORCH_CHECK_VALUE(x.defined(), op, ": x is an undefined tensor");
  const bool x_bf16 = x.scalar_type() == at::kBFloat16;
  TORCH_CHECK_VALUE(x_bf16 || x.scalar_type() == at::kFloat, op, ": x must be float32 or bfloat16, got ",
                    x.scalar_type());
  cpu::check_tensor(op, x, "x", x.scalar_type());
  TORCH_CHECK_VALUE(x.dim() >= 1 && x.size(-1) >= 1, op, ": x must have a last dim of at least 1, got ", x.sizes());
  const int64_t C = x.size(-1);
  cpu::check_tensor(op, weight, "weight", at::kFloat);
  cpu::check_tensor(op, bias, "bias", at::kFloat);
  cpu::check_shape(op, weight, "weight", {C}, "(channels)");
  cpu::check_shape(op, bias, "bias", {C}, "(channels)");
  TORCH_CHECK_VALUE(eps >= 0, op, ": eps must be >= 0, got ", eps);
  at::Tensor y = at::empty(x.sizes(), x.options().dtype(at::kBFloat16));
  if (y.numel() == 0) return y;
  const cpu::LayerNormBf16Args args{x.data_ptr(), x_bf16, weight.data_ptr<float>(), bias.data_ptr<float>(),
                                    reinterpret_cast<uint16_t*>(y.data_ptr<at::BFloat16>()), x.numel() / C, C,
                                    static_cast<float>(eps)};
  cpu::kernels().layer_norm_bf16(args);
  return y;
}

}  // namespace vmamba_zoo
