// CPU structure-aware state fusion (Spatial-Mamba, inference): per channel plane,
//   out[i, j] = sum_t sum_{a, b in -1..1} w[t, a, b] * h[clamp(i + a d_t), clamp(j + b d_t)],
// i.e. the dilated depthwise 3x3 convolutions of replicate-padded maps, summed.
//
// oneDNN runs this as one 11x11 depthwise convolution (the merged kernel, 121 taps of which 27
// are non-zero) on a padded copy; here only the 27 taps are computed. A task is one channel
// plane, copied once into an L1-sized buffer padded by replication on all sides.
//
// Compiled once per instruction-set path (kernels.h), where the compiler vectorises the tap
// loops for that path; entry point: state_fusion.cpp.
#pragma once

#include "kernels.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

// The (H, W) plane src replicate-padded by pad on all sides into `padded`, rows of `stride` elements.
template <typename T>
void replicate_pad_plane(const T* src, int64_t H, int64_t W, int64_t pad, int64_t stride, T* padded) {
  for (int64_t i = -pad; i < H + pad; ++i) {
    const T* row = src + std::clamp<int64_t>(i, 0, H - 1) * W;
    T* out = padded + (i + pad) * stride;
    std::fill(out, out + pad, row[0]);
    std::copy(row, row + W, out + pad);
    std::fill(out + pad + W, out + stride, row[W - 1]);
  }
}

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
  replicate_pad_plane(src, H, W, pad, stride, padded.data());
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

template <typename T>
void state_fusion_fwd(const StateFusionArgs<T>& p) {
  const int64_t plane = p.H * p.W;
  const std::vector<int64_t>& dilations = *p.dilations;
  parallel_tasks(p.batch * p.channels, plane * 9 * static_cast<int64_t>(dilations.size()), [&](int64_t task) {
    fuse_plane<T>(p.h + task * plane, p.weight, dilations, task % p.channels, p.channels, p.H, p.W,
                  p.out + task * plane);
  });
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
