// CPU structure-aware state fusion backward (Spatial-Mamba training): the gradients of
// state_fusion_kernels.h's forward, per channel plane, with the forward's layout: the plane's
// output gradient is laid out over the padded row width (columns outside the map zero), so
// every tap is again one contiguous multiply-add over the plane, as in the forward. Each tap
// adds w * dout into the gradient of the padded plane (the transpose of its read) and takes
// the dot product of dout with the padded plane (its weight's gradient); the replicate
// padding's adjoint then folds the padded gradient's borders back onto the map's edge pixels.
//
// Compiled once per instruction-set path (kernels.h); entry point: state_fusion_backward.cpp.
#pragma once

#include "kernels.h"
#include "state_fusion_kernels.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

// One plane: dh (H, W) of the plane; dweight (T, 9) for this plane's channel, overwritten.
template <typename T>
void fuse_plane_backward(const T* src, const T* dout, const T* weight, const std::vector<int64_t>& dilations,
                         int64_t channel, int64_t channels, int64_t H, int64_t W, T* dh, T* dweight) {
  const int64_t pad = *std::max_element(dilations.begin(), dilations.end());
  const int64_t stride = W + 2 * pad;
  const int64_t rows = H + 2 * pad;
  thread_local std::vector<T> padded, grad, dpadded;
  padded.resize(rows * stride);
  grad.assign(H * stride, T(0));
  dpadded.assign(rows * stride, T(0));
  replicate_pad_plane(src, H, W, pad, stride, padded.data());
  for (int64_t i = 0; i < H; ++i) std::copy(dout + i * W, dout + (i + 1) * W, grad.data() + i * stride);
  // output k = i * stride + j (j < W; the other columns' gradient is zero) read padded element
  // base + k + c d of tap (r, c), base = (pad + r d) * stride + pad
  const int64_t n = H * stride - 2 * pad;
  const T* __restrict g = grad.data();
  for (size_t t = 0; t < dilations.size(); ++t) {
    const int64_t d = dilations[t];
    const T* w = weight + (static_cast<int64_t>(t) * channels + channel) * 9;
    for (int r = -1; r <= 1; ++r) {
      for (int c = -1; c <= 1; ++c) {
        const int64_t offset = (pad + r * d) * stride + pad + c * d;
        const T* __restrict x = padded.data() + offset;
        T* __restrict dx = dpadded.data() + offset;
        const T wt = w[(r + 1) * 3 + (c + 1)];
        T dot = 0;
        for (int64_t k = 0; k < n; ++k) {
          dx[k] += wt * g[k];
          dot += g[k] * x[k];
        }
        dweight[static_cast<int64_t>(t) * 9 + (r + 1) * 3 + (c + 1)] = dot;
      }
    }
  }
  // the replicate padding's adjoint: columns, then rows, folded onto the edges
  for (int64_t i = 0; i < rows; ++i) {
    T* row = dpadded.data() + i * stride;
    T left = 0, right = 0;
    for (int64_t j = 0; j < pad; ++j) left += row[j], right += row[pad + W + j];
    row[pad] += left;
    row[pad + W - 1] += right;
  }
  for (int64_t i = 0; i < H; ++i) std::copy(dpadded.data() + (i + pad) * stride + pad, dpadded.data() + (i + pad) * stride + pad + W, dh + i * W);
  for (int64_t i = 0; i < pad; ++i) {
    const T* top = dpadded.data() + i * stride + pad;
    const T* bottom = dpadded.data() + (pad + H + i) * stride + pad;
    for (int64_t j = 0; j < W; ++j) dh[j] += top[j], dh[(H - 1) * W + j] += bottom[j];
  }
}

template <typename T>
void state_fusion_bwd(const StateFusionArgs<T>& p, const T* dout, T* dh, T* dweight) {
  const int64_t plane = p.H * p.W;
  const std::vector<int64_t>& dilations = *p.dilations;
  const int64_t taps = static_cast<int64_t>(dilations.size());
  // dweight: (batch, T, channels, 9) partials, summed over the batch by the entry point
  parallel_tasks(p.batch * p.channels, plane * 18 * taps, [&](int64_t task) {
    const int64_t b = task / p.channels, c = task % p.channels;
    alignas(64) T dw[9 * 8];
    std::vector<T> dw_heap(taps > 8 ? taps * 9 : 0);
    T* part = taps > 8 ? dw_heap.data() : dw;
    fuse_plane_backward<T>(p.h + task * plane, dout + task * plane, p.weight, dilations, c, p.channels, p.H, p.W,
                           dh + task * plane, part);
    for (int64_t t = 0; t < taps; ++t)
      std::copy(part + t * 9, part + t * 9 + 9, dweight + ((b * taps + t) * p.channels + c) * 9);
  });
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
