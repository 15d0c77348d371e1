// CPU selective scan kernels (forward, adjoint backward, all-states variant), float32 and
// float64, compiled once per instruction-set path (kernels.h); entry points: selective_scan.cpp.
//
// Layout of the work: one task is (batch b, group g, block of W consecutive channels of g),
// W = SIMD lanes (16 floats / 8 doubles). The W channels run in the W lanes of one vector, so
// the recurrence h_l = a_l * h_{l-1} + b_l advances W independent channels per instruction
// while B and C of the group are scalar broadcasts (they are shared by the channels of a
// group). The sequence is walked in chunks of kChunk steps; each chunk of u / delta / dy is
// transposed into a small (kChunk, W) tile that stays in L1.
//
// The backward never stores the L hidden states: a first forward pass keeps the state at each
// chunk boundary (plus, in a per-thread workspace, the transposed u / dt / softplus' tiles and,
// when small enough, the decays), then chunks are visited in reverse, their states recomputed
// from the boundary, and the adjoint g_l = dL/dh_l = rhs_l + a_{l+1} g_{l+1} carried backwards.
// Gradients of B and C (summed over the channels of a group) are written per channel block and
// reduced afterwards, so tasks never write to shared memory.
#pragma once

#include "simd.h"

namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA {

using simd::Vec;

constexpr int64_t kChunk = 64;

// The forward kernels compute the decays exp(dt * A) as 2^(dt * A * log2(e)) (simd::exp2 is the
// cheaper function), with A scaled once per block; the backward recomputes them with exp.
template <typename T>
constexpr T kLog2e = static_cast<T>(1.4426950408889634);

// One task's coordinates.
template <typename T>
struct Block {
  int64_t b, g, blk;
  int64_t c0;     // first channel
  int lanes;      // channels in this block (< W only for the last block of a group)
  int64_t row0;   // offset of (b, c0, 0) in a (batch, channels, L) tensor
  int64_t bc0;    // offset of (b, g, 0, 0) in a (batch, G, N, L) tensor

  Block(const ScanArgs<T>& p, int64_t task) {
    const int64_t nblk = p.blocks_per_group();
    blk = task % nblk;
    g = (task / nblk) % p.groups;
    b = task / (nblk * p.groups);
    c0 = g * p.group_channels + blk * simd::kLanes<T>;
    lanes = static_cast<int>(std::min<int64_t>(simd::kLanes<T>, p.group_channels - blk * simd::kLanes<T>));
    row0 = (b * p.channels + c0) * p.length;
    bc0 = (b * p.groups + g) * p.state * p.length;
  }
};

// Asks for the `steps` elements at `src + w * stride` of every lane w to be brought into cache:
// a block reads or writes `lanes` rows at once, more streams than the hardware prefetcher
// follows, so each chunk prefetches the one processed after it.
template <typename T>
void prefetch_rows(const T* src, int64_t stride, int lanes, int64_t steps) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int w = 0; w < lanes; ++w)
    for (int64_t t = 0; t < steps; t += kLine) __builtin_prefetch(src + w * stride + t);
}

// tile[t][w] = src[w * stride + t] for t < steps, w < lanes; missing lanes are zero.
// Full W x W blocks go through an in-register transpose, the ragged rest element by element.
template <typename T>
void load_tile(const T* src, int64_t stride, int lanes, int64_t steps, T* tile) {
  constexpr int W = simd::kLanes<T>;
  int64_t t0 = 0;
  if (lanes == W) {
    for (; t0 + W <= steps; t0 += W) {
      Vec<T> rows[W];
      for (int w = 0; w < W; ++w) rows[w] = simd::load(src + w * stride + t0);
      simd::transpose<T>(rows);
      for (int t = 0; t < W; ++t) simd::store(tile + (t0 + t) * W, rows[t]);
    }
  }
  if (t0 == steps) return;
  if (lanes < W) std::fill(tile + t0 * W, tile + steps * W, T(0));
  for (int w = 0; w < lanes; ++w) {
    const T* s = src + w * stride;
    for (int64_t t = t0; t < steps; ++t) tile[t * W + w] = s[t];
  }
}

// dst[w * stride + t] = tile[t][w] for t < steps, w < lanes.
template <typename T>
void store_tile(const T* tile, int lanes, int64_t steps, T* dst, int64_t stride) {
  constexpr int W = simd::kLanes<T>;
  int64_t t0 = 0;
  if (lanes == W) {
    for (; t0 + W <= steps; t0 += W) {
      Vec<T> rows[W];
      for (int t = 0; t < W; ++t) rows[t] = simd::load(tile + (t0 + t) * W);
      simd::transpose<T>(rows);
      for (int w = 0; w < W; ++w) simd::store(dst + w * stride + t0, rows[w]);
    }
  }
  for (int w = 0; w < lanes; ++w) {
    T* d = dst + w * stride;
    for (int64_t t = t0; t < steps; ++t) d[t] = tile[t * W + w];
  }
}

// dst[t] = sum over the lanes of tile[t] (the sum over a block's channels).
template <typename T>
void sum_lanes(const T* tile, int64_t steps, T* dst) {
  constexpr int W = simd::kLanes<T>;
  int64_t t = 0;
  for (; t + W <= steps; t += W) simd::store(dst + t, simd::row_sums<T>(tile + t * W));
  for (; t < steps; ++t) dst[t] = simd::hsum<T>(simd::load(tile + t * W));
}

// The adjoint pass's replay of one chunk's states for state n: from the chunk's boundary state
// h, stores the state before each step into hprev. The
// decays exp(dt * A) come from `cached` when the forward pass kept them; otherwise they are
// computed and written into a_t for the adjoint that follows.
template <typename T>
inline void replay_chunk_states(const T* cached, const T* dt, Vec<T> A, T* a_t, T* hprev, const T* dtu,
                                  const T* B, Vec<T> h, int64_t steps) {
  constexpr int W = simd::kLanes<T>;
  for (int64_t t = 0; t < steps; ++t) {
    Vec<T> a;
    if (cached) {
      a = simd::load(cached + t * W);
    } else {
      a = simd::exp<T>(simd::load(dt + t * W) * A);
      simd::store(a_t + t * W, a);
    }
    simd::store(hprev + t * W, h);
    h = a * h + simd::load(dtu + t * W) * B[t];
  }
}

// Per-lane parameter vector: v[w] = src[(c0 + w) * stride + offset], zero in missing lanes.
template <typename T>
Vec<T> lane_params(const T* src, int64_t c0, int lanes, int64_t stride = 1, int64_t offset = 0) {
  Vec<T> v{};
  if (src != nullptr)
    for (int w = 0; w < lanes; ++w) v[w] = src[(c0 + w) * stride + offset];
  return v;
}

// The discretisation shared by every pass: from the raw delta tile (in `dt`), write the step
// size dt, dt * u, and (when `dsp` is given) d dt / d raw.
template <typename T>
void discretize_chunk(const ScanArgs<T>& p, Vec<T> bias, const T* u_tile, T* dt, T* dtu, T* dsp,
                      int64_t steps) {
  constexpr int W = simd::kLanes<T>;
  for (int64_t t = 0; t < steps; ++t) {
    Vec<T> raw = simd::load(dt + t * W) + bias;
    Vec<T> step = raw;
    if (p.softplus) {
      Vec<T> grad;
      if (dsp) {
        simd::softplus<T, true>(raw, step, grad);
        simd::store(dsp + t * W, grad);
      } else {
        simd::softplus<T, false>(raw, step, grad);
      }
    }
    simd::store(dt + t * W, step);
    simd::store(dtu + t * W, step * simd::load(u_tile + t * W));
  }
}

// ------------------------------------------------------------------------------------------
// Forward: y and the last state (kStates = false), or every hidden state (kStates = true).

template <typename T, bool kStates>
void forward_task(const ScanArgs<T>& p, int64_t task, T* y, T* last_state, T* states) {
  constexpr int W = simd::kLanes<T>;
  const Block<T> blk(p, task);
  const int64_t N = p.state, L = p.length;
  alignas(64) T u_t[kChunk * W], dt_t[kChunk * W], dtu_t[kChunk * W], y_t[kChunk * W];
  simd::VecArray<T> A(N), h(N);
  for (int64_t n = 0; n < N; ++n) A[n] = lane_params(p.A, blk.c0, blk.lanes, N, n) * kLog2e<T>;
  const Vec<T> bias = lane_params(p.bias, blk.c0, blk.lanes);
  const Vec<T> D = lane_params(p.D, blk.c0, blk.lanes);

  for (int64_t t0 = 0; t0 < L; t0 += kChunk) {
    const int64_t steps = std::min(kChunk, L - t0);
    if (t0 + kChunk < L) {
      const int64_t next = std::min(kChunk, L - t0 - kChunk);
      prefetch_rows(p.u + blk.row0 + t0 + kChunk, L, blk.lanes, next);
      prefetch_rows(p.delta + blk.row0 + t0 + kChunk, L, blk.lanes, next);
    }
    load_tile(p.u + blk.row0 + t0, L, blk.lanes, steps, u_t);
    load_tile(p.delta + blk.row0 + t0, L, blk.lanes, steps, dt_t);
    discretize_chunk<T>(p, bias, u_t, dt_t, dtu_t, nullptr, steps);
    if constexpr (!kStates)
      for (int64_t t = 0; t < steps; ++t) simd::store(y_t + t * W, D * simd::load(u_t + t * W));
    for (int64_t n = 0; n < N; ++n) {
      const T* Bn = p.B + blk.bc0 + n * L + t0;
      const Vec<T> An = A[n];
      Vec<T> hn = h[n];
      if constexpr (kStates) {
        for (int64_t t = 0; t < steps; ++t) {
          Vec<T> a = simd::exp2<T>(simd::load(dt_t + t * W) * An);
          hn = a * hn + simd::load(dtu_t + t * W) * Bn[t];
          simd::store(y_t + t * W, hn);
        }
        // states is (batch, channels, N, L): lane w's row is (c0 + w, n).
        store_tile(y_t, blk.lanes, steps, states + ((blk.b * p.channels + blk.c0) * N + n) * L + t0, N * L);
      } else {
        const T* Cn = p.C + blk.bc0 + n * L + t0;
        for (int64_t t = 0; t < steps; ++t) {
          Vec<T> a = simd::exp2<T>(simd::load(dt_t + t * W) * An);
          hn = a * hn + simd::load(dtu_t + t * W) * Bn[t];
          simd::store(y_t + t * W, simd::load(y_t + t * W) + hn * Cn[t]);
        }
      }
      h[n] = hn;
    }
    if constexpr (!kStates) store_tile(y_t, blk.lanes, steps, y + blk.row0 + t0, L);
  }
  if constexpr (!kStates)
    for (int w = 0; w < blk.lanes; ++w)
      for (int64_t n = 0; n < N; ++n) last_state[((blk.b * p.channels + blk.c0 + w) * N) + n] = h[n][w];
}

// The forward for d_state N = 1 (VMamba v2's SS2D): per chunk, one pass of independent
// per-step math (step size, decay, input) that the core can overlap, then the recurrence,
// which is one fused multiply-add per step, with the state in a register.
template <typename T>
void forward_task_n1(const ScanArgs<T>& p, int64_t task, T* y, T* last_state) {
  constexpr int W = simd::kLanes<T>;
  const Block<T> blk(p, task);
  const int64_t L = p.length;
  alignas(64) T u_t[kChunk * W], a_t[kChunk * W], b_t[kChunk * W];
  const Vec<T> A = lane_params(p.A, blk.c0, blk.lanes) * kLog2e<T>;
  const Vec<T> bias = lane_params(p.bias, blk.c0, blk.lanes);
  const Vec<T> D = lane_params(p.D, blk.c0, blk.lanes);
  const T* const Bg = p.B + blk.bc0;
  const T* const Cg = p.C + blk.bc0;
  Vec<T> h{};
  for (int64_t t0 = 0; t0 < L; t0 += kChunk) {
    const int64_t steps = std::min(kChunk, L - t0);
    if (t0 + kChunk < L) {
      const int64_t next = std::min(kChunk, L - t0 - kChunk);
      prefetch_rows(p.u + blk.row0 + t0 + kChunk, L, blk.lanes, next);
      prefetch_rows(p.delta + blk.row0 + t0 + kChunk, L, blk.lanes, next);
    }
    load_tile(p.u + blk.row0 + t0, L, blk.lanes, steps, u_t);
    load_tile(p.delta + blk.row0 + t0, L, blk.lanes, steps, a_t);
    discretize_chunk<T>(p, bias, u_t, a_t, b_t, nullptr, steps);  // a_t = dt, b_t = dt * u
    for (int64_t t = 0; t < steps; ++t) {
      simd::store(a_t + t * W, simd::exp2<T>(simd::load(a_t + t * W) * A));
      simd::store(b_t + t * W, simd::load(b_t + t * W) * Bg[t0 + t]);
    }
    for (int64_t t = 0; t < steps; ++t) {
      h = simd::load(a_t + t * W) * h + simd::load(b_t + t * W);
      simd::store(u_t + t * W, D * simd::load(u_t + t * W) + h * Cg[t0 + t]);  // y overwrites u
    }
    store_tile(u_t, blk.lanes, steps, y + blk.row0 + t0, L);
  }
  for (int w = 0; w < blk.lanes; ++w) last_state[blk.b * p.channels + blk.c0 + w] = h[w];
}

// ------------------------------------------------------------------------------------------
// Backward. rhs of the adjoint: C_l * dy_l (+ dlast at the end) for the y scan, dh_l for the
// all-states scan.

// Decays exp(dt * A) of pass 1 are kept for pass 2 when they take at most this much memory
// per task (always for the N = 1 scans of VMamba v2); otherwise pass 2 recomputes them.
constexpr int64_t kDecayCacheBytes = int64_t(1) << 22;

template <typename T, bool kStates>
void backward_task(const ScanArgs<T>& p, int64_t task, const T* dy, const T* dlast, const T* dh,
                   const ScanGrads<T>& out) {
  constexpr int W = simd::kLanes<T>;
  constexpr int64_t kTileSize = kChunk * W;
  const Block<T> blk(p, task);
  const int64_t N = p.state, L = p.length;
  const int64_t chunks = (L + kChunk - 1) / kChunk;
  const bool cache_decay = N * chunks * kTileSize * int64_t(sizeof(T)) <= kDecayCacheBytes;
  // Pass 1 leaves the (chunk, step, lane) tiles of u, dt, d dt / d raw and, when cached, the
  // decays a (n, chunk, step, lane) in this per-thread workspace for pass 2.
  thread_local std::vector<T> workspace;
  workspace.resize(chunks * kTileSize * (3 + (cache_decay ? N : 0)));
  T* const u_ws = workspace.data();
  T* const dt_ws = u_ws + chunks * kTileSize;
  T* const dsp_ws = dt_ws + chunks * kTileSize;
  T* const a_ws = dsp_ws + chunks * kTileSize;
  alignas(64) T dtu_t[kTileSize], dy_t[kTileSize], a_t[kTileSize], hprev_t[kTileSize];
  alignas(64) T du_t[kTileSize], ddt_t[kTileSize], gdtu_t[kTileSize], hdy_t[kTileSize];
  simd::VecArray<T> A(N), h(N), q(N), dA(N);
  simd::VecArray<T> boundary(chunks * N);  // state entering each chunk
  for (int64_t n = 0; n < N; ++n) A[n] = lane_params(p.A, blk.c0, blk.lanes, N, n);
  const Vec<T> bias = lane_params(p.bias, blk.c0, blk.lanes);
  const Vec<T> D = lane_params(p.D, blk.c0, blk.lanes);
  const int64_t dB_row0 = ((blk.b * p.groups + blk.g) * p.blocks_per_group() + blk.blk) * N * L;

  // Pass 1: discretise every chunk and keep the state entering it.
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t t0 = c * kChunk, steps = std::min(kChunk, L - t0);
    T *u_t = u_ws + c * kTileSize, *dt_t = dt_ws + c * kTileSize;
    if (c + 1 < chunks) {
      prefetch_rows(p.u + blk.row0 + t0 + kChunk, L, blk.lanes, std::min(kChunk, L - t0 - kChunk));
      prefetch_rows(p.delta + blk.row0 + t0 + kChunk, L, blk.lanes, std::min(kChunk, L - t0 - kChunk));
    }
    load_tile(p.u + blk.row0 + t0, L, blk.lanes, steps, u_t);
    load_tile(p.delta + blk.row0 + t0, L, blk.lanes, steps, dt_t);
    discretize_chunk<T>(p, bias, u_t, dt_t, dtu_t, dsp_ws + c * kTileSize, steps);
    for (int64_t n = 0; n < N; ++n) {
      boundary[c * N + n] = h[n];
      if (!cache_decay && c + 1 == chunks) continue;  // the last chunk's end state is not needed
      const T* Bn = p.B + blk.bc0 + n * L + t0;
      T* a_n = cache_decay ? a_ws + (n * chunks + c) * kTileSize : nullptr;
      Vec<T> hn = h[n];
      for (int64_t t = 0; t < steps; ++t) {
        const Vec<T> a = simd::exp<T>(simd::load(dt_t + t * W) * A[n]);
        if (a_n) simd::store(a_n + t * W, a);
        hn = a * hn + simd::load(dtu_t + t * W) * Bn[t];
      }
      h[n] = hn;
    }
  }

  // Pass 2: chunks in reverse, carrying q = a_{l+1} g_{l+1} (dlast before the last step).
  for (int64_t n = 0; n < N; ++n)
    q[n] = (!kStates && dlast) ? lane_params(dlast + blk.b * p.channels * N, blk.c0, blk.lanes, N, n) : Vec<T>{};
  Vec<T> dD_acc{}, dbias_acc{};
  for (int64_t c = chunks - 1; c >= 0; --c) {
    const int64_t t0 = c * kChunk, steps = std::min(kChunk, L - t0);
    const T *u_t = u_ws + c * kTileSize, *dt_t = dt_ws + c * kTileSize, *dsp_t = dsp_ws + c * kTileSize;
    if constexpr (!kStates) {
      if (c > 0) prefetch_rows(dy + blk.row0 + t0 - kChunk, L, blk.lanes, kChunk);
      load_tile(dy + blk.row0 + t0, L, blk.lanes, steps, dy_t);
    }
    for (int64_t t = 0; t < steps; ++t) {
      const Vec<T> ut = simd::load(u_t + t * W);
      simd::store(dtu_t + t * W, simd::load(dt_t + t * W) * ut);
      Vec<T> d0{};
      if constexpr (!kStates) {
        const Vec<T> dyt = simd::load(dy_t + t * W);
        d0 = D * dyt;
        dD_acc += dyt * ut;
      }
      simd::store(du_t + t * W, d0);
      simd::store(ddt_t + t * W, Vec<T>{});
    }
    for (int64_t n = 0; n < N; ++n) {
      const T* Bn = p.B + blk.bc0 + n * L + t0;
      const Vec<T> An = A[n];
      // The states of this chunk, from the boundary (and the decays, unless cached).
      const T* cached = cache_decay ? a_ws + (n * chunks + c) * kTileSize : nullptr;
      const T* a_n = cached ? cached : a_t;
      replay_chunk_states<T>(cached, dt_t, An, a_t, hprev_t, dtu_t, Bn, boundary[c * N + n], steps);
      const T* Cn = kStates ? nullptr : p.C + blk.bc0 + n * L + t0;
      if constexpr (kStates)  // rhs tile: dh of state n
        load_tile(dh + ((blk.b * p.channels + blk.c0) * N + n) * L + t0, N * L, blk.lanes, steps, dy_t);
      Vec<T> qn = q[n], dAn{};
      for (int64_t t = steps - 1; t >= 0; --t) {
        const Vec<T> a = simd::load(a_n + t * W), hp = simd::load(hprev_t + t * W);
        const Vec<T> dtu = simd::load(dtu_t + t * W), dt = simd::load(dt_t + t * W);
        const T Bt = Bn[t];
        Vec<T> g;
        if constexpr (kStates) {
          g = simd::load(dy_t + t * W) + qn;
        } else {
          const Vec<T> dyt = simd::load(dy_t + t * W);
          g = dyt * Cn[t] + qn;
          simd::store(hdy_t + t * W, (a * hp + dtu * Bt) * dyt);  // h_l * dy_l, for dC
        }
        simd::store(gdtu_t + t * W, g * dtu);  // for dB
        simd::store(du_t + t * W, simd::load(du_t + t * W) + g * dt * Bt);
        const Vec<T> decay = g * hp * a;  // dL/d(dt*A) through the decay
        simd::store(ddt_t + t * W, simd::load(ddt_t + t * W) + g * Bt * simd::load(u_t + t * W) + decay * An);
        dAn += decay * dt;
        qn = a * g;
      }
      q[n] = qn;
      dA[n] += dAn;
      sum_lanes(gdtu_t, steps, out.dB + dB_row0 + n * L + t0);
      if constexpr (!kStates) sum_lanes(hdy_t, steps, out.dC + dB_row0 + n * L + t0);
    }
    for (int64_t t = 0; t < steps; ++t) {
      Vec<T> dd = simd::load(ddt_t + t * W);
      if (p.softplus) dd *= simd::load(dsp_t + t * W);
      simd::store(ddt_t + t * W, dd);
      dbias_acc += dd;
    }
    store_tile(du_t, blk.lanes, steps, out.du + blk.row0 + t0, L);
    store_tile(ddt_t, blk.lanes, steps, out.ddelta + blk.row0 + t0, L);
  }
  const int64_t c_row = blk.b * p.channels + blk.c0;
  for (int w = 0; w < blk.lanes; ++w) {
    for (int64_t n = 0; n < N; ++n) out.dA[(c_row + w) * N + n] = dA[n][w];
    if (out.dD) out.dD[c_row + w] = dD_acc[w];
    if (out.dbias) out.dbias[c_row + w] = dbias_acc[w];
  }
}

// ------------------------------------------------------------------------------------------
// Whole ops, over every task (the KernelTable entries).

template <typename T>
void scan_fwd(const ScanArgs<T>& p, T* y, T* last_state) {
  parallel_tasks(p.tasks(), p.task_cost(), [&](int64_t task) {
    if (p.state == 1)
      forward_task_n1<T>(p, task, y, last_state);
    else
      forward_task<T, false>(p, task, y, last_state, nullptr);
  });
}

template <typename T>
void scan_states_fwd(const ScanArgs<T>& p, T* states) {
  parallel_tasks(p.tasks(), p.task_cost(),
                 [&](int64_t task) { forward_task<T, true>(p, task, nullptr, nullptr, states); });
}

template <typename T>
void scan_bwd(const ScanArgs<T>& p, const T* dy, const T* dlast, const ScanGrads<T>& out) {
  parallel_tasks(p.tasks(), p.task_cost(),
                 [&](int64_t task) { backward_task<T, false>(p, task, dy, dlast, nullptr, out); });
}

template <typename T>
void scan_states_bwd(const ScanArgs<T>& p, const T* dh, const ScanGrads<T>& out) {
  parallel_tasks(p.tasks(), p.task_cost(),
                 [&](int64_t task) { backward_task<T, true>(p, task, nullptr, nullptr, dh, out); });
}

}  // namespace vmamba_zoo::cpu::VMAMBA_ZOO_ISA
