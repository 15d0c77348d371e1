// CPU selective scan (forward, adjoint backward, all-states variant), float32 and float64.
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
#include "ops.h"
#include "parallel.h"
#include "simd.h"

#include <algorithm>
#include <vector>

namespace vmamba_zoo {
namespace {

using simd::Vec;

constexpr int64_t kChunk = 64;

// The forward kernels compute the decays exp(dt * A) as 2^(dt * A * log2(e)) (simd::exp2 is the
// cheaper function), with A scaled once per block; the backward recomputes them with exp.
template <typename T>
constexpr T kLog2e = static_cast<T>(1.4426950408889634);

template <typename T>
struct ScanArgs {
  const T* u;
  const T* delta;
  const T* A;
  const T* B;
  const T* C;       // null for the all-states scan
  const T* D;       // may be null
  const T* bias;    // may be null
  bool softplus;
  int64_t batch, channels, length, groups, group_channels, state;

  int64_t blocks_per_group() const { return (group_channels + simd::kLanes<T> - 1) / simd::kLanes<T>; }
  int64_t tasks() const { return batch * groups * blocks_per_group(); }
  int64_t task_cost() const { return simd::kLanes<T> * length * state; }
};

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
  std::vector<Vec<T>> A(N), h(N, Vec<T>{});
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

template <typename T>
struct GradOut {
  T* du;          // (batch, channels, L)
  T* ddelta;      // (batch, channels, L)
  T* dA;          // (batch, channels, N): per batch, summed over batch afterwards
  T* dB;          // (batch, G, blocks, N, L): per channel block, summed afterwards
  T* dC;          // same as dB; null for the states scan
  T* dD;          // (batch, channels) or null
  T* dbias;       // (batch, channels) or null
};

// Decays exp(dt * A) of pass 1 are kept for pass 2 when they take at most this much memory
// per task (always for the N = 1 scans of VMamba v2); otherwise pass 2 recomputes them.
constexpr int64_t kDecayCacheBytes = int64_t(1) << 22;

template <typename T, bool kStates>
void backward_task(const ScanArgs<T>& p, int64_t task, const T* dy, const T* dlast, const T* dh,
                   const GradOut<T>& out) {
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
  std::vector<Vec<T>> A(N), h(N, Vec<T>{}), q(N), dA(N, Vec<T>{});
  std::vector<Vec<T>> boundary(chunks * N);  // state entering each chunk
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
      const T* a_n = cache_decay ? a_ws + (n * chunks + c) * kTileSize : a_t;
      Vec<T> hn = boundary[c * N + n];
      for (int64_t t = 0; t < steps; ++t) {
        Vec<T> a;
        if (cache_decay) {
          a = simd::load(a_n + t * W);
        } else {
          a = simd::exp<T>(simd::load(dt_t + t * W) * An);
          simd::store(a_t + t * W, a);
        }
        simd::store(hprev_t + t * W, hn);
        hn = a * hn + simd::load(dtu_t + t * W) * Bn[t];
      }
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
// Tensor-level entry points.

template <typename T>
ScanArgs<T> make_args(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                      const at::Tensor& B, const at::Tensor* C, const OptTensor& D,
                      const OptTensor& bias, bool softplus) {
  ScanArgs<T> p;
  p.u = u.data_ptr<T>();
  p.delta = delta.data_ptr<T>();
  p.A = A.data_ptr<T>();
  p.B = B.data_ptr<T>();
  p.C = C ? C->data_ptr<T>() : nullptr;
  p.D = D ? D->data_ptr<T>() : nullptr;
  p.bias = bias ? bias->data_ptr<T>() : nullptr;
  p.softplus = softplus;
  p.batch = u.size(0);
  p.channels = u.size(1);
  p.length = u.size(2);
  p.groups = B.size(1);
  p.group_channels = p.channels / p.groups;
  p.state = A.size(1);
  return p;
}

void check_scan_inputs(const std::vector<const at::Tensor*>& tensors) {
  const auto dtype = tensors[0]->scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble,
              "vmamba_zoo cpu selective scan: inputs must be float32 or float64, got ", dtype);
  for (const at::Tensor* t : tensors) {
    if (t == nullptr) continue;
    TORCH_CHECK(t->device().is_cpu(), "vmamba_zoo cpu selective scan: tensors must be on the CPU");
    TORCH_CHECK(t->scalar_type() == dtype, "vmamba_zoo cpu selective scan: all inputs must share one dtype");
    TORCH_CHECK(t->is_contiguous(), "vmamba_zoo cpu selective scan: inputs must be contiguous");
  }
}

const at::Tensor* opt_ptr(const OptTensor& t) { return t ? &*t : nullptr; }

// Sum the per-block partials of dB / dC over the channel blocks of each group.
at::Tensor reduce_blocks(const at::Tensor& partial) {
  return partial.size(2) == 1 ? partial.squeeze(2) : partial.sum(2);
}

}  // namespace

std::vector<at::Tensor> selective_scan_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                           const at::Tensor& B, const at::Tensor& C, const OptTensor& D,
                                           const OptTensor& delta_bias, bool softplus) {
  check_scan_inputs({&u, &delta, &A, &B, &C, opt_ptr(D), opt_ptr(delta_bias)});
  at::Tensor y = at::empty(u.sizes(), u.options());
  at::Tensor last = at::empty({u.size(0), u.size(1), A.size(1)}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_fwd", [&] {
    const auto p = make_args<scalar_t>(u, delta, A, B, &C, D, delta_bias, softplus);
    scalar_t* yp = y.data_ptr<scalar_t>();
    scalar_t* lp = last.data_ptr<scalar_t>();
    parallel_tasks(p.tasks(), p.task_cost(),
                   [&](int64_t task) {
                     if (p.state == 1)
                       forward_task_n1<scalar_t>(p, task, yp, lp);
                     else
                       forward_task<scalar_t, false>(p, task, yp, lp, nullptr);
                   });
  });
  return {y, last};
}

std::vector<OptTensor> selective_scan_bwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                          const at::Tensor& B, const at::Tensor& C, const OptTensor& D,
                                          const OptTensor& delta_bias, bool softplus, const at::Tensor& dy,
                                          const OptTensor& dlast) {
  check_scan_inputs({&u, &delta, &A, &B, &C, opt_ptr(D), opt_ptr(delta_bias), &dy, opt_ptr(dlast)});
  const int64_t batch = u.size(0), channels = u.size(1), L = u.size(2), G = B.size(1), N = A.size(1);
  at::Tensor du = at::empty(u.sizes(), u.options()), ddelta = at::empty(delta.sizes(), delta.options());
  at::Tensor dA = at::empty({batch, channels, N}, u.options());
  at::Tensor dD = D ? at::empty({batch, channels}, u.options()) : at::Tensor();
  at::Tensor dbias = delta_bias ? at::empty({batch, channels}, u.options()) : at::Tensor();
  at::Tensor dB, dC;
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_bwd", [&] {
    const auto p = make_args<scalar_t>(u, delta, A, B, &C, D, delta_bias, softplus);
    dB = at::empty({batch, G, p.blocks_per_group(), N, L}, u.options());
    dC = at::empty_like(dB);
    GradOut<scalar_t> out{du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(), dA.data_ptr<scalar_t>(),
                          dB.data_ptr<scalar_t>(), dC.data_ptr<scalar_t>(),
                          D ? dD.data_ptr<scalar_t>() : nullptr, delta_bias ? dbias.data_ptr<scalar_t>() : nullptr};
    const scalar_t* dyp = dy.data_ptr<scalar_t>();
    const scalar_t* dlp = dlast ? dlast->data_ptr<scalar_t>() : nullptr;
    parallel_tasks(p.tasks(), p.task_cost(),
                   [&](int64_t task) { backward_task<scalar_t, false>(p, task, dyp, dlp, nullptr, out); });
  });
  return {du, ddelta, dA.sum(0), reduce_blocks(dB), reduce_blocks(dC),
          D ? OptTensor(dD.sum(0)) : OptTensor(), delta_bias ? OptTensor(dbias.sum(0)) : OptTensor()};
}

at::Tensor selective_scan_states_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                     const at::Tensor& B, const OptTensor& delta_bias, bool softplus) {
  check_scan_inputs({&u, &delta, &A, &B, opt_ptr(delta_bias)});
  at::Tensor states = at::empty({u.size(0), u.size(1), A.size(1), u.size(2)}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_states_fwd", [&] {
    const auto p = make_args<scalar_t>(u, delta, A, B, nullptr, OptTensor(), delta_bias, softplus);
    scalar_t* sp = states.data_ptr<scalar_t>();
    parallel_tasks(p.tasks(), p.task_cost(),
                   [&](int64_t task) { forward_task<scalar_t, true>(p, task, nullptr, nullptr, sp); });
  });
  return states;
}

std::vector<OptTensor> selective_scan_states_bwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                                 const at::Tensor& B, const OptTensor& delta_bias, bool softplus,
                                                 const at::Tensor& dh) {
  check_scan_inputs({&u, &delta, &A, &B, opt_ptr(delta_bias), &dh});
  const int64_t batch = u.size(0), channels = u.size(1), L = u.size(2), G = B.size(1), N = A.size(1);
  at::Tensor du = at::empty(u.sizes(), u.options()), ddelta = at::empty(delta.sizes(), delta.options());
  at::Tensor dA = at::empty({batch, channels, N}, u.options());
  at::Tensor dbias = delta_bias ? at::empty({batch, channels}, u.options()) : at::Tensor();
  at::Tensor dB;
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "vmamba_zoo_selective_scan_states_bwd", [&] {
    const auto p = make_args<scalar_t>(u, delta, A, B, nullptr, OptTensor(), delta_bias, softplus);
    dB = at::empty({batch, G, p.blocks_per_group(), N, L}, u.options());
    GradOut<scalar_t> out{du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(), dA.data_ptr<scalar_t>(),
                          dB.data_ptr<scalar_t>(), nullptr, nullptr,
                          delta_bias ? dbias.data_ptr<scalar_t>() : nullptr};
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    parallel_tasks(p.tasks(), p.task_cost(),
                   [&](int64_t task) { backward_task<scalar_t, true>(p, task, nullptr, nullptr, dhp, out); });
  });
  return {du, ddelta, dA.sum(0), reduce_blocks(dB), delta_bias ? OptTensor(dbias.sum(0)) : OptTensor()};
}

}  // namespace vmamba_zoo
