// LayerNorm over the last dim with a bfloat16 output, from a float32 or bfloat16 input: float32
// math (two passes over each row, which stays in L1: the mean, then the variance about it) and
// one rounding of the result. Entry point: layer_norm_bf16.cpp.
#pragma once

#include "bfloat16.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

// `lanes` floats (zero beyond) of src: float32, or bfloat16 widened
template <typename In>
simd::Vec<float> load_floats(const In* src, int lanes) {
  if constexpr (std::is_same_v<In, float>) {
    if (lanes == simd::kLanes<float>) return simd::load(src);  // one vector load, not a memcpy call
    simd::Vec<float> v{};
    std::memcpy(&v, src, lanes * sizeof(float));
    return v;
  } else {
    return bf16::load(src, lanes);
  }
}

inline float sum_lanes(simd::Vec<float> v) {
#if VMAMBA_ZOO_ISA_AVX512
  return _mm512_reduce_add_ps((__m512)v);  // a shuffle tree, not kLanes dependent adds
#else
  return simd::hsum<float>(v);
#endif
}

template <typename In>
void layer_norm_rows(const LayerNormBf16Args& a, int64_t row_begin, int64_t row_end) {
  using simd::Vec;
  constexpr int W = simd::kLanes<float>;
  const int64_t C = a.channels;
  const In* x = static_cast<const In*>(a.x);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const In* xr = x + row * C;
    uint16_t* yr = a.y + row * C;
    Vec<float> sum{};
    for (int64_t c = 0; c < C; c += W) sum += load_floats(xr + c, static_cast<int>(std::min<int64_t>(W, C - c)));
    const float mean = sum_lanes(sum) / static_cast<float>(C);
    Vec<float> squares{};
    for (int64_t c = 0; c < C; c += W) {
      const int lanes = static_cast<int>(std::min<int64_t>(W, C - c));
      Vec<float> d = load_floats(xr + c, lanes) - mean;
      for (int w = lanes; w < W; ++w) d[w] = 0;  // (a partial last vector: its lanes beyond C)
      squares += d * d;
    }
    const float rstd = 1.0f / std::sqrt(sum_lanes(squares) / static_cast<float>(C) + a.eps);
    for (int64_t c = 0; c < C; c += W) {
      const int lanes = static_cast<int>(std::min<int64_t>(W, C - c));
      const Vec<float> weight = load_floats(a.weight + c, lanes), bias = load_floats(a.bias + c, lanes);
      bf16::store(yr + c, (load_floats(xr + c, lanes) - mean) * rstd * weight + bias, lanes);
    }
  }
}

inline void layer_norm_bf16(const LayerNormBf16Args& a) {
  constexpr int64_t kRows = 16;  // rows per task
  const int64_t tasks = (a.rows + kRows - 1) / kRows;
  parallel_tasks(tasks, kRows * a.channels, [&](int64_t task) {
    const int64_t begin = task * kRows, end = std::min(a.rows, begin + kRows);
    if (a.x_bf16)
      layer_norm_rows<uint16_t>(a, begin, end);
    else
      layer_norm_rows<float>(a, begin, end);
  });
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
