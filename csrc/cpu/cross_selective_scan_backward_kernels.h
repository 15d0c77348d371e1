// CPU cross selective scan backward: the gradients of the fused op (cross_selective_scan_kernels.h)
// on the channel-last map, compiled once per instruction-set path (kernels.h); entry point:
// cross_selective_scan_backward.cpp.
//
// The chain's backward cross-scans dy into K channel-major copies, runs the selective scan's
// backward on them, and cross-merges the K copies of du back. Here a task owns W channels of one
// image (one SIMD vector of them) and walks each direction's route over the map in place, as the
// forward does: it gathers u, dy and the per-pixel projections x_dbl through the route and adds
// du straight into the output row of the pixel it visited (the same task owns that channel block
// in every direction, so no two tasks write one element). What the rest of the backward needs
// per pixel and direction is written in pixel-major layouts that one GEMM reads: the gradient of
// Δ's low-rank product (before bias and softplus), and the gradients of B and C (summed over
// the task's channels; the entry point sums the channel blocks).
//
// The recurrence's adjoint is the selective scan's (selective_scan_kernels.h): a forward walk
// keeps the state at every chunk boundary and the discretised chunks in a per-thread workspace,
// then the chunks are visited in reverse with their states recomputed from the boundary.
#pragma once

#include "selective_scan_kernels.h"
#include "simd.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

template <typename T>
void store_lanes(T* dst, Vec<T> v, int lanes) {
  if (lanes == simd::kLanes<T>)
    simd::store(dst, v);
  else
    std::memcpy(dst, &v, lanes * sizeof(T));
}

// Asks for the cache lines of `count` values from `row` on (for writing with kWrite): the routes
// visit the map's pixels out of order (columns, diagonals), more streams than the hardware
// prefetcher follows, so the kernels fetch the rows of the steps ahead along the route.
template <bool kWrite = false, typename T>
inline void prefetch_span(const T* row, int64_t count) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t i = 0; i < count; i += kLine) __builtin_prefetch(row + i, kWrite);
  __builtin_prefetch(row + count - 1, kWrite);
}

// Steps ahead along the route at which pass 1 prefetches the map and x_dbl rows.
constexpr int64_t kAhead = 16;

// One direction of one task: channels [cx, cx + lanes) of image b (channel blk * W of the
// direction's Dk), direction k, parameter rows [cp, cp + lanes). dA / dD / dbias of these rows
// are accumulated into the given vectors.
// Δ before softplus at one position: bias + dt_w · x_dbl[:R], in four independent sums (one chain
// of R dependent FMAs would be longer than the rest of the step), added in the forward's order.
template <typename T>
inline Vec<T> delta_projection(const Vec<T>* dt_w, const T* dbl, int64_t R, Vec<T> bias) {
  Vec<T> part[4] = {bias, Vec<T>{}, Vec<T>{}, Vec<T>{}};
  int64_t r = 0;
  for (; r + 4 <= R; r += 4)
    for (int i = 0; i < 4; ++i) part[i] += dt_w[r + i] * dbl[r + i];
  for (; r < R; ++r) part[0] += dt_w[r] * dbl[r];
  return (part[0] + part[1]) + (part[2] + part[3]);
}

// One position's discretisation: u, Δ = softplus(projection) and softplus' (1 without softplus);
// dbl and x_row are the position's x_dbl and map rows, both null for a padding step (u = 0, Δ
// from the bias alone).
template <typename T>
struct DiscreteStep {
  Vec<T> u, dt, dsoftplus;
};

template <typename T>
inline DiscreteStep<T> discretise(const CrossScanArgs<T>& p, const T* dbl, const T* x_row, int lanes,
                                  const Vec<T>* dt_w, int64_t R, Vec<T> bias) {
  Vec<T> raw = bias, u{};
  if (dbl) {
    raw = delta_projection(dt_w, dbl, R, bias);
    u = load_lanes(x_row, lanes);
  }
  DiscreteStep<T> d{u, raw, simd::broadcast<T>(T(1))};
  if (p.softplus) simd::softplus<T, true>(raw, d.dt, d.dsoftplus);
  return d;
}

template <typename T>
void backward_direction(const CrossScanArgs<T>& p, const CrossScanGrads<T>& out, int64_t b, int64_t k, int64_t blk,
                        int64_t cx, int64_t cp, int lanes, Vec<T>* dA, Vec<T>& dD_acc, Vec<T>& dbias_acc) {
  constexpr int W = simd::kLanes<T>;
  constexpr int64_t kTile = kChunk * W;
  const int64_t R = p.rank, N = p.state, L = p.length;
  const int64_t chunks = (L + kChunk - 1) / kChunk;
  const bool cache_decay = N * chunks * kTile * int64_t(sizeof(T)) <= kDecayCacheBytes;
  // per thread: the (chunk, step, lane) tiles of u, dt and d dt / d raw, the decays when cached
  // (n, chunk, step, lane), and one chunk's B and C (n, step)
  thread_local std::vector<T> workspace;
  workspace.resize(chunks * kTile * (3 + (cache_decay ? N : 0)) + 2 * N * kChunk);
  T* const u_ws = workspace.data();
  T* const dt_ws = u_ws + chunks * kTile;
  T* const dsp_ws = dt_ws + chunks * kTile;
  T* const a_ws = dsp_ws + chunks * kTile;
  T* const B_c = a_ws + (cache_decay ? N * chunks * kTile : 0);
  T* const C_c = B_c + N * kChunk;
  alignas(64) T dtu_t[kTile], dy_t[kTile], a_t[kTile], hprev_t[kTile];
  alignas(64) T du_t[kTile], ddt_t[kTile], gdtu_t[kTile], hdy_t[kTile];
  alignas(64) T sums[kChunk];
  simd::VecArray<T> A(N), h(N), q(N), dt_w(R);
  simd::VecArray<T> boundary(chunks * N);  // state entering each chunk
  for (int64_t r = 0; r < R; ++r) dt_w[r] = gather_param(p.dt_weight, cp, lanes, R, r);
  for (int64_t n = 0; n < N; ++n) A[n] = gather_param(p.A, cp, lanes, N, n);
  const Vec<T> bias = gather_param(p.dt_bias, cp, lanes, 1, 0);
  const Vec<T> D = gather_param(p.D, cp, lanes, 1, 0);
  const int32_t* route = p.route + k * L;
  const int64_t BP = p.batch * p.pixels;
  const int64_t img = b * p.pixels;  // first pixel row of image b
  const T* dbl_img = p.x_dbl + k * p.dbl_dir_stride + img * p.dbl_pix_stride;
  const int64_t cd = blk * W;  // channel within the direction's Dk
  T* const ddelta_dir = out.ddelta + k * BP * p.dir_channels + cd;
  T* const dBC_blk = out.dBC + (k * p.blocks() + blk) * BP * 2 * N;

  // B and C of the chunk's steps (zero at padding steps, as the chain's zero-padded x_dbl)
  auto load_BC = [&](int64_t t0, int64_t steps, bool with_C) {
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t pix = route[t0 + t];
      const T* dbl = pix >= 0 ? dbl_img + pix * p.dbl_pix_stride + R : nullptr;
      for (int64_t n = 0; n < N; ++n) {
        B_c[n * kChunk + t] = dbl ? dbl[n] : T(0);
        if (with_C) C_c[n * kChunk + t] = dbl ? dbl[N + n] : T(0);
      }
    }
  };

  // Pass 1: discretise every chunk and keep the state entering it.
  for (int64_t n = 0; n < N; ++n) h[n] = Vec<T>{};
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t t0 = c * kChunk, steps = std::min(kChunk, L - t0);
    T *u_t = u_ws + c * kTile, *dt_t = dt_ws + c * kTile, *dsp_t = dsp_ws + c * kTile;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t pix = route[t0 + t];
      if (t0 + t + kAhead < L && route[t0 + t + kAhead] >= 0) {
        const int64_t ahead = route[t0 + t + kAhead];
        __builtin_prefetch(p.x + (img + ahead) * p.channels + cx);
        prefetch_span(dbl_img + ahead * p.dbl_pix_stride, R + 2 * N);
      }
      const T* dbl = pix >= 0 ? dbl_img + pix * p.dbl_pix_stride : nullptr;
      const DiscreteStep<T> d = discretise(p, dbl, dbl ? p.x + (img + pix) * p.channels + cx : nullptr, lanes,
                                           dt_w.data(), R, bias);
      simd::store(u_t + t * W, d.u);
      simd::store(dt_t + t * W, d.dt);
      simd::store(dsp_t + t * W, d.dsoftplus);
      simd::store(dtu_t + t * W, d.dt * d.u);
    }
    const bool last = c + 1 == chunks;
    if (!(last && !cache_decay)) load_BC(t0, steps, false);
    for (int64_t n = 0; n < N; ++n) {
      boundary[c * N + n] = h[n];
      if (!cache_decay && last) continue;  // the last chunk's end state is not needed
      T* a_n = cache_decay ? a_ws + (n * chunks + c) * kTile : nullptr;
      const T* Bn = B_c + n * kChunk;
      Vec<T> hn = h[n];
      for (int64_t t = 0; t < steps; ++t) {
        const Vec<T> a = simd::exp<T>(simd::load(dt_t + t * W) * A[n]);
        if (a_n) simd::store(a_n + t * W, a);
        hn = a * hn + simd::load(dtu_t + t * W) * Bn[t];
      }
      h[n] = hn;
    }
  }

  // Pass 2: chunks in reverse, carrying q = a_{l+1} g_{l+1}.
  for (int64_t n = 0; n < N; ++n) q[n] = Vec<T>{};
  for (int64_t c = chunks - 1; c >= 0; --c) {
    const int64_t t0 = c * kChunk, steps = std::min(kChunk, L - t0);
    const T *u_t = u_ws + c * kTile, *dt_t = dt_ws + c * kTile, *dsp_t = dsp_ws + c * kTile;
    load_BC(t0, steps, true);
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t pix = route[t0 + t];
      if (pix >= 0) {  // this chunk's outputs, written at its end
        __builtin_prefetch(out.dx + (img + pix) * p.channels + cx, 1);
        __builtin_prefetch(ddelta_dir + (img + pix) * p.dir_channels, 1);
        prefetch_span<true>(dBC_blk + (img + pix) * 2 * N, 2 * N);
      }
      if (c > 0 && route[t0 - kChunk + t] >= 0) {  // the next chunk's inputs
        const int64_t next = route[t0 - kChunk + t];
        __builtin_prefetch(out.dy + (img + next) * p.channels + cx);
        prefetch_span(dbl_img + next * p.dbl_pix_stride, R + 2 * N);
      }
      const Vec<T> dyt = pix >= 0 ? load_lanes(out.dy + (img + pix) * p.channels + cx, lanes) : Vec<T>{};
      const Vec<T> ut = simd::load(u_t + t * W);
      simd::store(dy_t + t * W, dyt);
      simd::store(dtu_t + t * W, simd::load(dt_t + t * W) * ut);
      simd::store(du_t + t * W, D * dyt);
      simd::store(ddt_t + t * W, Vec<T>{});
      dD_acc += dyt * ut;
    }
    for (int64_t n = 0; n < N; ++n) {
      const T* Bn = B_c + n * kChunk;
      const T* Cn = C_c + n * kChunk;
      const Vec<T> An = A[n];
      const T* cached = cache_decay ? a_ws + (n * chunks + c) * kTile : nullptr;
      const T* a_n = cached ? cached : a_t;
      replay_chunk_states<T>(cached, dt_t, An, a_t, hprev_t, dtu_t, Bn, boundary[c * N + n], steps);
      Vec<T> qn = q[n], dAn{};
      for (int64_t t = steps - 1; t >= 0; --t) {
        const Vec<T> a = simd::load(a_n + t * W), hp = simd::load(hprev_t + t * W);
        const Vec<T> dtu = simd::load(dtu_t + t * W), dt = simd::load(dt_t + t * W);
        const Vec<T> dyt = simd::load(dy_t + t * W);
        const T Bt = Bn[t];
        const Vec<T> g = dyt * Cn[t] + qn;
        simd::store(hdy_t + t * W, (a * hp + dtu * Bt) * dyt);  // h_l * dy_l, for dC
        simd::store(gdtu_t + t * W, g * dtu);                    // for dB
        simd::store(du_t + t * W, simd::load(du_t + t * W) + g * dt * Bt);
        const Vec<T> decay = g * hp * a;  // dL/d(dt*A) through the decay
        simd::store(ddt_t + t * W, simd::load(ddt_t + t * W) + g * Bt * simd::load(u_t + t * W) + decay * An);
        dAn += decay * dt;
        qn = a * g;
      }
      q[n] = qn;
      dA[n] += dAn;
      // padding steps' B and C are constants of the chain: their gradients are dropped
      sum_lanes(gdtu_t, steps, sums);
      for (int64_t t = 0; t < steps; ++t)
        if (route[t0 + t] >= 0) dBC_blk[(img + route[t0 + t]) * 2 * N + n] = sums[t];
      sum_lanes(hdy_t, steps, sums);
      for (int64_t t = 0; t < steps; ++t)
        if (route[t0 + t] >= 0) dBC_blk[(img + route[t0 + t]) * 2 * N + N + n] = sums[t];
    }
    for (int64_t t = 0; t < steps; ++t) {
      Vec<T> dd = simd::load(ddt_t + t * W);
      if (p.softplus) dd *= simd::load(dsp_t + t * W);
      dbias_acc += dd;
      const int64_t pix = route[t0 + t];
      if (pix < 0) continue;
      store_lanes(ddelta_dir + (img + pix) * p.dir_channels, dd, lanes);
      add_lanes(out.dx + (img + pix) * p.channels + cx, simd::load(du_t + t * W), lanes);
    }
  }
}

// One step of lane_sums: pairs (v[2i], v[2i + 1]) fold into v[i], whose lanes j with bit k
// clear hold v[2i]'s lanes j and j + k added and the others v[2i + 1]'s lanes j - k and j (the
// shuffles of simd::transpose, added instead of kept).
template <typename T, int k, std::size_t... j>
inline Vec<T> fold_pair(Vec<T> a, Vec<T> b, std::index_sequence<j...>) {
  constexpr std::size_t W = simd::kLanes<T>;
#if defined(VMAMBA_ZOO_HAS_SHUFFLEVECTOR)
  return __builtin_shufflevector(a, b, ((j & k) ? W + j - k : j)...) +
         __builtin_shufflevector(a, b, ((j & k) ? W + j : j + k)...);
#else  // GCC before 12
  using I = typename simd::VecTraits<T>::int_t;
  return __builtin_shuffle(a, b, simd::IVec<T>{static_cast<I>((j & k) ? W + j - k : j)...}) +
         __builtin_shuffle(a, b, simd::IVec<T>{static_cast<I>((j & k) ? W + j : j + k)...});
#endif
}

template <typename T, int k>
inline void fold_level(Vec<T>* v) {
  constexpr int W = simd::kLanes<T>;
  for (int i = 0; i < W / (2 * k); ++i)
    v[i] = fold_pair<T, k>(v[2 * i], v[2 * i + 1], std::make_index_sequence<W>{});
  if constexpr (2 * k < W) fold_level<T, 2 * k>(v);
}

// Lane i of the result is the sum of v[i]'s lanes, for W vectors v (overwritten): a tree of
// W - 1 folds of two shuffles and an add each, about half the instructions of a transpose.
template <typename T>
inline Vec<T> lane_sums(Vec<T>* v) {
  fold_level<T, 1>(v);
  return v[0];
}

// Steps per segment of the fixed-state backward: its decays and states fill two tiles of
// kSegment * N vectors that stay in L1 between the replay and the adjoint.
constexpr int64_t kSegment = 16;

// backward_direction for a compile-time state size N that is a multiple of the lanes (d_state
// 16): the N states advance together at each step, in registers, as in the forward kernel,
// instead of one state's whole chunk at a time through memory tiles. Pass 1 keeps the states
// entering each segment of kSegment steps (and the tiles of u, dt and d dt / d raw of every
// step); pass 2 visits the segments in reverse, replays a segment's states and decays into two
// small tiles, then runs the adjoint over its steps with the N adjoint states in registers. Per
// step, the sums over n of the adjoint's terms give du and dΔ directly, and the per-state
// gradients of B and C (sums over the lanes) come out as whole vectors over n (lane_sums),
// stored as the pixel's contiguous row of dBC.
//
// Prefetches along the route (prefetch_span): pass 1 fetches the map and x_dbl rows kAhead
// steps ahead, the replay the rows its segment's adjoint reads and writes (dy, dx, dΔ, dBC),
// and the adjoint the x_dbl rows of the segment replayed next.
template <typename T, int kState>
void backward_direction_fixed(const CrossScanArgs<T>& p, const CrossScanGrads<T>& out, int64_t b, int64_t k,
                              int64_t blk, int64_t cx, int64_t cp, int lanes, Vec<T>* dA_acc, Vec<T>& dD_acc,
                              Vec<T>& dbias_acc) {
  constexpr int W = simd::kLanes<T>;
  constexpr int N = kState;
  static_assert(N % W == 0, "the states' B and C gradients are summed W states at a time");
  constexpr T kLog2e = static_cast<T>(1.4426950408889634);
  const int64_t R = p.rank, L = p.length;
  const int64_t segments = (L + kSegment - 1) / kSegment;
  // per thread: u, dt and d dt / d raw of every step, and the states entering every segment
  thread_local std::vector<T> workspace;
  workspace.resize((3 * L + segments * N) * W);
  T* const u_ws = workspace.data();
  T* const dt_ws = u_ws + L * W;
  T* const dsp_ws = dt_ws + L * W;
  T* const boundary = dsp_ws + L * W;
  alignas(64) T a_tile[kSegment * N * W], hp_tile[kSegment * N * W];
  Vec<T> A[N], A2[N], h[N], q[N], dA[N];
  simd::VecArray<T> dt_w(R);
  for (int64_t r = 0; r < R; ++r) dt_w[r] = gather_param(p.dt_weight, cp, lanes, R, r);
  for (int n = 0; n < N; ++n) {
    A[n] = gather_param(p.A, cp, lanes, N, n);
    A2[n] = A[n] * kLog2e;  // decays are 2^(dt·A·log2 e), as in the forward kernel
  }
  const Vec<T> bias = gather_param(p.dt_bias, cp, lanes, 1, 0);
  const Vec<T> D = gather_param(p.D, cp, lanes, 1, 0);
  const int32_t* route = p.route + k * L;
  const int64_t BP = p.batch * p.pixels;
  const int64_t img = b * p.pixels;
  const T* dbl_img = p.x_dbl + k * p.dbl_dir_stride + img * p.dbl_pix_stride;
  T* const ddelta_dir = out.ddelta + k * BP * p.dir_channels + blk * W;
  T* const dBC_blk = out.dBC + (k * p.blocks() + blk) * BP * 2 * N;

  auto prefetch_dbl = [&](int64_t pix) { prefetch_span(dbl_img + pix * p.dbl_pix_stride, R + 2 * N); };

  // Pass 1: discretise every step and keep the states entering every segment (the last
  // segment's own updates are not needed).
  const int64_t last_segment = (segments - 1) * kSegment;
  for (int n = 0; n < N; ++n) h[n] = Vec<T>{};
  for (int64_t t = 0; t < L; ++t) {
    if (t % kSegment == 0)
      for (int n = 0; n < N; ++n) simd::store(boundary + ((t / kSegment) * N + n) * W, h[n]);
    if (t + kAhead < L && route[t + kAhead] >= 0) {
      const int64_t ahead = route[t + kAhead];
      __builtin_prefetch(p.x + (img + ahead) * p.channels + cx);
      prefetch_dbl(ahead);
    }
    const int64_t pix = route[t];
    const T* dbl = pix >= 0 ? dbl_img + pix * p.dbl_pix_stride : nullptr;
    const DiscreteStep<T> d = discretise(p, dbl, dbl ? p.x + (img + pix) * p.channels + cx : nullptr, lanes,
                                         dt_w.data(), R, bias);
    const Vec<T> u = d.u, dt = d.dt;
    simd::store(u_ws + t * W, u);
    simd::store(dt_ws + t * W, dt);
    simd::store(dsp_ws + t * W, d.dsoftplus);
    if (t >= last_segment) continue;
    if (dbl) {
      const Vec<T> dtu = dt * u;
      const T* Bl = dbl + R;
#pragma GCC unroll 16
      for (int n = 0; n < N; ++n) h[n] = simd::exp2<T>(dt * A2[n]) * h[n] + dtu * Bl[n];
    } else {  // padding: u = 0, the state only decays
#pragma GCC unroll 16
      for (int n = 0; n < N; ++n) h[n] = simd::exp2<T>(dt * A2[n]) * h[n];
    }
  }

  // Pass 2: segments in reverse, carrying q = a_{l+1} g_{l+1}.
  for (int n = 0; n < N; ++n) q[n] = dA[n] = Vec<T>{};
  for (int64_t s = segments - 1; s >= 0; --s) {
    const int64_t t0 = s * kSegment, steps = std::min(kSegment, L - t0);
    for (int n = 0; n < N; ++n) h[n] = simd::load(boundary + (s * N + n) * W);
    for (int64_t t = 0; t < steps; ++t) {  // replay: decays and the states before every step
      const int64_t pix = route[t0 + t];
      const Vec<T> dt = simd::load(dt_ws + (t0 + t) * W);
      const Vec<T> dtu = dt * simd::load(u_ws + (t0 + t) * W);
      const T* Bl = pix >= 0 ? dbl_img + pix * p.dbl_pix_stride + R : nullptr;
      T* a_t = a_tile + t * N * W;
      T* hp_t = hp_tile + t * N * W;
      if (pix >= 0) {  // for the adjoint
        __builtin_prefetch(out.dy + (img + pix) * p.channels + cx);
        __builtin_prefetch(out.dx + (img + pix) * p.channels + cx, 1);
        __builtin_prefetch(ddelta_dir + (img + pix) * p.dir_channels, 1);
        prefetch_span<true>(dBC_blk + (img + pix) * 2 * N, 2 * N);
      }
#pragma GCC unroll 16
      for (int n = 0; n < N; ++n) {
        const Vec<T> a = simd::exp2<T>(dt * A2[n]);
        simd::store(a_t + n * W, a);
        simd::store(hp_t + n * W, h[n]);
        h[n] = Bl ? a * h[n] + dtu * Bl[n] : a * h[n];
      }
    }
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t pix = route[t0 + t];
      const Vec<T> u = simd::load(u_ws + (t0 + t) * W), dt = simd::load(dt_ws + (t0 + t) * W);
      const T* a_t = a_tile + t * N * W;
      const T* hp_t = hp_tile + t * N * W;
      if (s > 0 && route[t0 - kSegment + t] >= 0) prefetch_dbl(route[t0 - kSegment + t]);  // next replay's
      Vec<T> s2{};  // sum over n of dL/d(dt·A_n) · A_n
      if (pix < 0) {  // padding: no dy, B or C; only the decay carries the adjoint
#pragma GCC unroll 16
        for (int n = 0; n < N; ++n) {
          const Vec<T> a = simd::load(a_t + n * W);
          const Vec<T> decay = q[n] * simd::load(hp_t + n * W) * a;
          dA[n] += decay * dt;
          s2 += decay * A[n];
          q[n] = a * q[n];
        }
        dbias_acc += p.softplus ? s2 * simd::load(dsp_ws + (t0 + t) * W) : s2;
        continue;
      }
      const T* Bl = dbl_img + pix * p.dbl_pix_stride + R;
      const T* Cl = Bl + N;
      const Vec<T> dy = load_lanes(out.dy + (img + pix) * p.channels + cx, lanes);
      const Vec<T> dtu = dt * u;
      Vec<T> s1{};  // sum over n of g_n B_n
      Vec<T> gdtu[N], hdy[N];
#pragma GCC unroll 16
      for (int n = 0; n < N; ++n) {
        const Vec<T> a = simd::load(a_t + n * W), hp = simd::load(hp_t + n * W);
        const Vec<T> g = dy * Cl[n] + q[n];
        gdtu[n] = g * dtu;                    // for dB
        hdy[n] = (a * hp + dtu * Bl[n]) * dy;  // h_l * dy_l, for dC
        s1 += g * Bl[n];
        const Vec<T> decay = g * hp * a;  // dL/d(dt·A) through the decay
        dA[n] += decay * dt;
        s2 += decay * A[n];
        q[n] = a * g;
      }
      Vec<T> dd = s1 * u + s2;
      if (p.softplus) dd *= simd::load(dsp_ws + (t0 + t) * W);
      dbias_acc += dd;
      dD_acc += dy * u;
      store_lanes(ddelta_dir + (img + pix) * p.dir_channels, dd, lanes);
      add_lanes(out.dx + (img + pix) * p.channels + cx, D * dy + s1 * dt, lanes);
      T* dBC_row = dBC_blk + (img + pix) * 2 * N;
      for (int j = 0; j < N; j += W) {
        simd::store(dBC_row + j, lane_sums<T>(gdtu + j));
        simd::store(dBC_row + N + j, lane_sums<T>(hdy + j));
      }
    }
  }
  for (int n = 0; n < N; ++n) dA_acc[n] += dA[n];
}

template <typename T>
void cross_selective_scan_bwd(const CrossScanArgs<T>& args, const CrossScanGrads<T>& out) {
  CrossScanArgs<T> p = args;
  p.lanes = simd::kLanes<T>;  // one vector of channels per task
  const int64_t KDk = p.K * p.dir_channels, N = p.state;
  parallel_tasks(p.tasks(), p.task_cost(), [&](int64_t task) {
    const int64_t nblk = p.blocks();
    const int64_t blk = task % nblk;
    const int64_t rest = task / nblk;
    const int64_t b = p.grouped ? rest / p.K : rest;
    const int64_t k_begin = p.grouped ? rest % p.K : 0;
    const int64_t cd = blk * p.lanes;
    const int lanes = static_cast<int>(std::min<int64_t>(p.lanes, p.dir_channels - cd));
    simd::VecArray<T> dA(N);
    for (int64_t k = k_begin; k < k_begin + p.directions_per_task(); ++k) {
      const int64_t cx = (p.grouped ? k * p.dir_channels : 0) + cd;
      const int64_t cp = k * p.dir_channels + cd;
      for (int64_t n = 0; n < N; ++n) dA[n] = Vec<T>{};
      Vec<T> dD{}, dbias{};
      if (N == 16)  // d_state of VMamba v0 and Res-VMamba
        backward_direction_fixed<T, 16>(p, out, b, k, blk, cx, cp, lanes, dA.data(), dD, dbias);
      else
        backward_direction<T>(p, out, b, k, blk, cx, cp, lanes, dA.data(), dD, dbias);
      for (int w = 0; w < lanes; ++w) {
        const int64_t row = b * KDk + cp + w;
        for (int64_t n = 0; n < N; ++n) out.dA[row * N + n] = dA[n][w];
        out.dD[row] = dD[w];
        out.dbias[row] = dbias[w];
      }
    }
  });
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
