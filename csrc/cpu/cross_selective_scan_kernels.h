// CPU cross selective scan kernel: cross-scan + per-direction Δ projection + selective scan +
// cross-merge of an SS2D block in one pass over a channel-last map (inference only), compiled
// once per instruction-set path (kernels.h); entry point: cross_selective_scan.cpp.
//
// The unfused chain writes the K scanned sequences (K copies of the map, channel-major), their
// Δ (another K copies), the scan outputs (K more) and then sums them back. Here the map stays
// where it is, (batch, P, C) with channels contiguous: a task owns W consecutive channels of
// one image (W = SIMD lanes), walks each direction's route through the pixels, and gathers
// u = x[pixel, c0 : c0 + W] with one vector load. B, C and the low-rank Δ input come from
// x_dbl, the per-pixel projections (padding positions of a route read zeros, as the unfused
// chain's zero padding does). Δ = dt_weight · x_dbl[:R] is formed in registers, and every
// direction adds C·h + D·u into the output row of the pixel it visited, so the K outputs are
// merged in place. The working set of a task (its W channels of the map, input and output)
// stays in L2 while the K routes walk over it.
#pragma once

#include "simd.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

using simd::Vec;

template <typename T>
Vec<T> load_lanes(const T* src, int lanes) {
  if (lanes == simd::kLanes<T>) return simd::load(src);
  Vec<T> v{};
  std::memcpy(&v, src, lanes * sizeof(T));
  return v;
}

template <typename T>
void add_lanes(T* dst, Vec<T> v, int lanes) {
  if (lanes == simd::kLanes<T>) {
    simd::store(dst, simd::load(dst) + v);
    return;
  }
  for (int w = 0; w < lanes; ++w) dst[w] += v[w];
}

// lanes of src[(row0 + w) * stride + offset], zero beyond `lanes`
template <typename T>
Vec<T> gather_param(const T* src, int64_t row0, int lanes, int64_t stride, int64_t offset) {
  Vec<T> v{};
  for (int w = 0; w < lanes; ++w) v[w] = src[(row0 + w) * stride + offset];
  return v;
}

// State-size dependent storage of one direction's A and h: fixed arrays the compiler keeps in
// registers when N is a compile-time constant (kState > 0), heap vectors otherwise.
template <typename T, int kState>
struct StateVectors {
  Vec<T> A[kState], h[kState];
  explicit StateVectors(int64_t) {}
};

template <typename T>
struct StateVectors<T, 0> {
  simd::VecArray<T> A, h;
  explicit StateVectors(int64_t n) : A(n), h(n) {}
};

// One direction of one task: channels [cx, cx + lanes) of image b, direction k, whose
// parameters are rows [cp, cp + lanes) of the (K * Dk) parameter tables.
template <typename T, int kState>
void scan_direction(const CrossScanArgs<T>& p, int64_t b, int64_t k, int64_t cx, int64_t cp, int lanes,
                    Vec<T>* dt_w) {
  const int64_t R = p.rank;
  const int64_t N = kState > 0 ? kState : p.state;
  StateVectors<T, kState> s(N);
  for (int64_t r = 0; r < R; ++r) dt_w[r] = gather_param(p.dt_weight, cp, lanes, R, r);
  constexpr T kLog2e = static_cast<T>(1.4426950408889634);
  for (int64_t n = 0; n < N; ++n) {
    s.A[n] = gather_param(p.A, cp, lanes, N, n) * kLog2e;  // decays are 2^(Δ·A·log2 e)
    s.h[n] = Vec<T>{};
  }
  const Vec<T> bias = gather_param(p.dt_bias, cp, lanes, 1, 0);
  const Vec<T> D = gather_param(p.D, cp, lanes, 1, 0);
  const int32_t* route = p.route + k * p.length;
  const T* x_img = p.x + b * p.pixels * p.channels + cx;
  T* y_img = p.y + b * p.pixels * p.channels + cx;
  const T* dbl_img = p.x_dbl + k * p.dbl_dir_stride + b * p.pixels * p.dbl_pix_stride;
  for (int64_t l = 0; l < p.length; ++l) {
    const int64_t pix = route[l];
    Vec<T> raw = bias;
    if (pix < 0) {
      // padding: u = 0 and a zero projection, but the state still decays by exp(Δ(bias) A)
      Vec<T> dt = raw, unused;
      if (p.softplus) simd::softplus<T, false>(raw, dt, unused);
      for (int64_t n = 0; n < N; ++n) s.h[n] = simd::exp2<T>(dt * s.A[n]) * s.h[n];
      continue;
    }
    const T* dbl = dbl_img + pix * p.dbl_pix_stride;
    // Δ's low-rank projection in four independent sums: one chain of R dependent FMAs (R up
    // to 64) would be longer than the rest of the step
    Vec<T> part[4] = {raw, Vec<T>{}, Vec<T>{}, Vec<T>{}};
    int64_t r = 0;
    for (; r + 4 <= R; r += 4)
      for (int j = 0; j < 4; ++j) part[j] += dt_w[r + j] * dbl[r + j];
    for (; r < R; ++r) part[0] += dt_w[r] * dbl[r];
    raw = (part[0] + part[1]) + (part[2] + part[3]);
    Vec<T> dt = raw, unused;
    if (p.softplus) simd::softplus<T, false>(raw, dt, unused);
    const Vec<T> u = load_lanes(x_img + pix * p.channels, lanes);
    const Vec<T> dtu = dt * u;
    const T* Bl = dbl + R;
    const T* Cl = Bl + N;
    Vec<T> out = D * u;
    // unrolled: rolled, GCC splits this into a loop of decays through memory and a loop of
    // updates (measured)
#pragma GCC unroll 16
    for (int64_t n = 0; n < N; ++n) {
      s.h[n] = simd::exp2<T>(dt * s.A[n]) * s.h[n] + dtu * Bl[n];
      out += s.h[n] * Cl[n];
    }
    add_lanes(y_img + pix * p.channels, out, lanes);
  }
}

template <typename T, int kState>
void run_task(const CrossScanArgs<T>& p, int64_t task) {
  constexpr int W = simd::kLanes<T>;
  const int64_t nblk = p.blocks();
  const int64_t blk = task % nblk;
  const int64_t rest = task / nblk;
  const int64_t b = p.grouped ? rest / p.K : rest;
  const int64_t k_begin = p.grouped ? rest % p.K : 0;
  const int lanes = static_cast<int>(std::min<int64_t>(W, p.dir_channels - blk * W));
  simd::VecArray<T> dt_w(p.rank);
  for (int64_t k = k_begin; k < k_begin + p.directions_per_task(); ++k) {
    const int64_t cd = blk * W;  // channel within the direction's Dk
    const int64_t cx = (p.grouped ? k * p.dir_channels : 0) + cd;
    scan_direction<T, kState>(p, b, k, cx, k * p.dir_channels + cd, lanes, dt_w.data());
  }
}

template <typename T>
void cross_selective_scan_fwd(const CrossScanArgs<T>& p) {
  parallel_tasks(p.tasks(), p.task_cost(), [&](int64_t task) {
    // the state sizes of the released models get register-resident states
    if (p.state == 1)
      run_task<T, 1>(p, task);
    else if (p.state == 16)
      run_task<T, 16>(p, task);
    else
      run_task<T, 0>(p, task);
  });
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
