// CPU structure-aware state fusion (Spatial-Mamba, inference): per channel plane,
//   out[i, j] = sum_t sum_{a, b in -1..1} w[t, a, b] * h[clamp(i + a d_t), clamp(j + b d_t)],
// i.e. the dilated depthwise 3x3 convolutions of replicate-padded maps, summed.
//
// oneDNN runs this as one 11x11 depthwise convolution (the merged kernel, 121 taps of which 27
// are non-zero) on a padded copy; here only the 27 taps are computed. A task is one channel
// plane, copied once into an L1-sized buffer padded by replication on all sides.
#include "ops.h"
#include "parallel.h"

#include <algorithm>
#include <vector>

namespace vmamba_zoo {
namespace {

template <typename T>
void fuse_plane(const T* src, const T* weight, const std::vector<int64_t>& dilations, int64_t channel,
                int64_t channels, int64_t H, int64_t W, T* dst) {
  const int64_t pad = *std::max_element(dilations.begin(), dilations.end());
  const int64_t stride = W + 2 * pad;
  // the plane replicate-padded on all sides, then every output over the padded row width:
  // each tap row is one contiguous multiply-add over H * stride elements (vectorised even for
  // 7-wide maps); the columns outside the map are computed and dropped
  thread_local std::vector<T> padded, acc;
  padded.resize((H + 2 * pad) * stride);
  acc.assign(H * stride, T(0));
  for (int64_t i = -pad; i < H + pad; ++i) {
    const T* row = src + std::clamp<int64_t>(i, 0, H - 1) * W;
    T* out = padded.data() + (i + pad) * stride;
    std::fill(out, out + pad, row[0]);
    std::copy(row, row + W, out + pad);
    std::fill(out + pad + W, out + stride, row[W - 1]);
  }
  const int64_t n = H * stride;
  T* __restrict a = acc.data();
  for (size_t t = 0; t < dilations.size(); ++t) {
    const int64_t d = dilations[t];
    const T* w = weight + (static_cast<int64_t>(t) * channels + channel) * 9;
    for (int r = -1; r <= 1; ++r) {
      // tap (r, c) of output (i, j) reads padded[i + pad + r d][j + pad + c d]
      const T* __restrict row = padded.data() + (pad + r * d) * stride + pad;
      const T w0 = w[(r + 1) * 3], w1 = w[(r + 1) * 3 + 1], w2 = w[(r + 1) * 3 + 2];
      for (int64_t k = 0; k < n - 2 * pad; ++k) a[k] += w0 * row[k - d] + w1 * row[k] + w2 * row[k + d];
    }
  }
  for (int64_t i = 0; i < H; ++i) std::copy(a + i * stride, a + i * stride + W, dst + i * W);
}

}  // namespace

at::Tensor state_fusion_fwd(const at::Tensor& h, const at::Tensor& weight, const std::vector<int64_t>& dilations) {
  const auto dtype = h.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "vmamba_zoo cpu state fusion: float32 or float64, got ",
              dtype);
  TORCH_CHECK(h.device().is_cpu() && weight.device().is_cpu() && weight.scalar_type() == dtype,
              "vmamba_zoo cpu state fusion: CPU tensors of one dtype");
  TORCH_CHECK(h.dim() == 4 && h.is_contiguous(), "h must be a contiguous (batch, channels, H, W) tensor");
  const int64_t channels = h.size(1), H = h.size(2), W = h.size(3);
  TORCH_CHECK(weight.dim() == 4 && weight.is_contiguous() && weight.size(0) == static_cast<int64_t>(dilations.size()) &&
                  weight.size(1) == channels && weight.size(2) == 3 && weight.size(3) == 3,
              "weight must be a contiguous (len(dilations), channels, 3, 3) tensor");
  TORCH_CHECK(!dilations.empty() && *std::min_element(dilations.begin(), dilations.end()) >= 1,
              "dilations must be positive");
  at::Tensor out = at::empty_like(h);
  AT_DISPATCH_FLOATING_TYPES(dtype, "vmamba_zoo_state_fusion_fwd", [&] {
    const scalar_t* src = h.data_ptr<scalar_t>();
    const scalar_t* w = weight.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    const int64_t plane = H * W;
    parallel_tasks(h.size(0) * channels, plane * 9 * static_cast<int64_t>(dilations.size()), [&](int64_t task) {
      fuse_plane<scalar_t>(src + task * plane, w, dilations, task % channels, channels, H, W, dst + task * plane);
    });
  });
  return out;
}

}  // namespace vmamba_zoo
