// CPU cross selective scan kernel: cross-scan + per-direction Δ projection + selective scan +
// cross-merge of an SS2D block in one pass over a channel-last map (inference only), compiled
// once per instruction-set path (kernels.h); entry point: cross_selective_scan.cpp.
//
// The unfused chain writes the K scanned sequences (K copies of the map, channel-major), their
// Δ (another K copies), the scan outputs (K more) and then sums them back. Here the map stays
// where it is, (batch, P, C) with channels contiguous: a task owns W consecutive channels of
// one image (W = one or two SIMD vectors of them), walks each direction's route through the pixels,
// and gathers u = x[pixel, c0 : c0 + W] with vector loads. B, C and the low-rank Δ input come from
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

// State-size dependent storage of one direction's A and h, kVecs vectors per state (index
// n * kVecs + j): fixed arrays the compiler keeps in registers when N is a compile-time
// constant (kState > 0), heap vectors otherwise.
template <typename T, int kState, int kVecs>
struct StateVectors {
  Vec<T> A[kState * kVecs], h[kState * kVecs];
  explicit StateVectors(int64_t) {}
};

template <typename T, int kVecs>
struct StateVectors<T, 0, kVecs> {
  simd::VecArray<T> A, h;
  explicit StateVectors(int64_t n) : A(n * kVecs), h(n * kVecs) {}
};

// One direction of one task: `lanes` channels of image b (load_u and emit address them),
// direction k, whose parameters are rows [cp, cp + lanes) of the (K * Dk) parameter tables. The task advances kVecs
// vectors of channels together at each step: a step (route, Δ projection, softplus, decays,
// update) has a long latency and steps overlap only as far as the out-of-order window reaches,
// so a second vector's independent work runs in the shadow of the first's, and the per-step
// scalar work (route, pointers, broadcasts of x_dbl) is shared. Vector j holds channels
// [j * W, (j + 1) * W) (none when lanes <= j * W: it computes zeros). The map's element type is
// the caller's: load_u(pix, j, lanes) reads vector j of u at a pixel, and emit(pix, j, out, lanes)
// takes that vector's output (the float kernels add it into y; the bfloat16 one into a float
// buffer, cross_selective_scan_bf16_kernels.h).
template <typename T, int kState, int kVecs, typename LoadU, typename Emit>
void scan_direction(const CrossScanArgs<T>& p, int64_t b, int64_t k, int64_t cp, int lanes, Vec<T>* dt_w,
                    LoadU load_u, Emit emit) {
  constexpr int W = simd::kLanes<T>;
  constexpr int V = kVecs;
  const int64_t R = p.rank;
  const int64_t N = kState > 0 ? kState : p.state;
  int vl[V];  // lanes of vector j
  for (int j = 0; j < V; ++j) vl[j] = std::clamp(lanes - j * W, 0, W);
  StateVectors<T, kState, V> s(N);
  for (int64_t r = 0; r < R; ++r)
    for (int j = 0; j < V; ++j) dt_w[r * V + j] = gather_param(p.dt_weight, cp + j * W, vl[j], R, r);
  constexpr T kLog2e = static_cast<T>(1.4426950408889634);
  for (int64_t n = 0; n < N; ++n) {
    for (int j = 0; j < V; ++j) {
      s.A[n * V + j] = gather_param(p.A, cp + j * W, vl[j], N, n) * kLog2e;  // decays are 2^(Δ·A·log2 e)
      s.h[n * V + j] = Vec<T>{};
    }
  }
  Vec<T> bias[V], D[V];
  for (int j = 0; j < V; ++j) {
    bias[j] = gather_param(p.dt_bias, cp + j * W, vl[j], 1, 0);
    D[j] = gather_param(p.D, cp + j * W, vl[j], 1, 0);
  }
  const int32_t* route = p.route + k * p.length;
  const T* dbl_img = p.x_dbl + k * p.dbl_dir_stride + b * p.pixels * p.dbl_pix_stride;
  for (int64_t l = 0; l < p.length; ++l) {
    const int64_t pix = route[l];
    Vec<T> dt[V], unused;
    if (pix < 0) {
      // padding: u = 0 and a zero projection, but the state still decays by exp(Δ(bias) A)
      for (int j = 0; j < V; ++j) {
        dt[j] = bias[j];
        if (p.softplus) simd::softplus<T, false>(bias[j], dt[j], unused);
        for (int64_t n = 0; n < N; ++n) s.h[n * V + j] = simd::exp2<T>(dt[j] * s.A[n * V + j]) * s.h[n * V + j];
      }
      continue;
    }
    const T* dbl = dbl_img + pix * p.dbl_pix_stride;
    // Δ's low-rank projection in four independent sums per vector: one chain of R dependent
    // FMAs (R up to 64) would be longer than the rest of the step
    Vec<T> part[V][4];
    for (int j = 0; j < V; ++j) part[j][0] = bias[j], part[j][1] = part[j][2] = part[j][3] = Vec<T>{};
    int64_t r = 0;
    for (; r + 4 <= R; r += 4)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < V; ++j) part[j][i] += dt_w[(r + i) * V + j] * dbl[r + i];
    for (; r < R; ++r)
      for (int j = 0; j < V; ++j) part[j][0] += dt_w[r * V + j] * dbl[r];
    Vec<T> u[V], dtu[V], out[V];
    for (int j = 0; j < V; ++j) {
      const Vec<T> raw = (part[j][0] + part[j][1]) + (part[j][2] + part[j][3]);
      dt[j] = raw;
      if (p.softplus) simd::softplus<T, false>(raw, dt[j], unused);
      u[j] = load_u(pix, j, vl[j]);
      dtu[j] = dt[j] * u[j];
      out[j] = D[j] * u[j];
    }
    const T* Bl = dbl + R;
    const T* Cl = Bl + N;
    // unrolled: rolled, GCC splits this into a loop of decays through memory and a loop of
    // updates. With one state entry the decay ends the step's long chain (Δ, softplus, decay),
    // whose length limits the step; with several, their independent decays fill the core
    // (simd::exp2_reduced).
#pragma GCC unroll 16
    for (int64_t n = 0; n < N; ++n) {
      for (int j = 0; j < V; ++j) {
        Vec<T>& h = s.h[n * V + j];
        h = simd::exp2<T, kState != 1>(dt[j] * s.A[n * V + j]) * h + dtu[j] * Bl[n];
        out[j] += h * Cl[n];
      }
    }
    for (int j = 0; j < V; ++j) emit(pix, j, out[j], vl[j]);
  }
}

template <typename T, int kState, int kVecs>
void run_task(const CrossScanArgs<T>& p, int64_t task) {
  const int64_t W = p.lanes;  // channels per task: kVecs vectors
  const int64_t nblk = p.blocks();
  const int64_t blk = task % nblk;
  const int64_t rest = task / nblk;
  const int64_t b = p.grouped ? rest / p.K : rest;
  const int64_t k_begin = p.grouped ? rest % p.K : 0;
  const int lanes = static_cast<int>(std::min<int64_t>(W, p.dir_channels - blk * W));
  simd::VecArray<T> dt_w(p.rank * kVecs);
  for (int64_t k = k_begin; k < k_begin + p.directions_per_task(); ++k) {
    const int64_t cd = blk * W;  // channel within the direction's Dk
    const int64_t cx = (p.grouped ? k * p.dir_channels : 0) + cd;
    const T* x_img = p.x + b * p.pixels * p.channels + cx;
    T* y_img = p.y + b * p.pixels * p.channels + cx;
    scan_direction<T, kState, kVecs>(
        p, b, k, k * p.dir_channels + cd, lanes, dt_w.data(),
        [&](int64_t pix, int j, int vl) { return load_lanes(x_img + pix * p.channels + j * simd::kLanes<T>, vl); },
        [&](int64_t pix, int j, const Vec<T>& out, int vl) {
          add_lanes(y_img + pix * p.channels + j * simd::kLanes<T>, out, vl);
        });
  }
}

template <typename T, int kVecs>
void run_tasks(const CrossScanArgs<T>& args) {
  CrossScanArgs<T> p = args;
  p.lanes = kVecs * simd::kLanes<T>;
  parallel_tasks(p.tasks(), p.task_cost(), [&](int64_t task) {
    // the state sizes of the released models get register-resident states
    if (p.state == 1)
      run_task<T, 1, kVecs>(p, task);
    else if (p.state == 16)
      run_task<T, 16, kVecs>(p, task);
    else
      run_task<T, 0, kVecs>(p, task);
  });
}

// Tasks of two vectors where the threads stay as busy as with one-vector tasks: a two-vector
// task takes well under twice as long (scan_direction), which this rule takes as 3/2, so two
// vectors are used unless the rounds of tasks per thread would then take longer.
template <typename T>
void cross_selective_scan_fwd(const CrossScanArgs<T>& p) {
  CrossScanArgs<T> one = p, two = p;
  one.lanes = simd::kLanes<T>;
  two.lanes = 2 * simd::kLanes<T>;
  const int64_t threads = parallel_threads(one.tasks(), one.task_cost());
  const int64_t rounds_one = (one.tasks() + threads - 1) / threads;
  const int64_t rounds_two = (two.tasks() + threads - 1) / threads;
  if (3 * rounds_two <= 2 * rounds_one)
    run_tasks<T, 2>(p);
  else
    run_tasks<T, 1>(p);
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
