// Selective scan (S6) forward and adjoint backward on CUDA, float32 and float64.
//
// Layout, as in the selective-scan kernels of state-spaces/mamba (csrc/selective_scan): one thread
// block scans one (batch, channel) row in chunks of kThreads * kItems positions; thread t owns the
// kItems consecutive positions t * kItems ... of the chunk. Inputs are staged through shared
// memory so that global reads and writes are coalesced while each thread works on its own run.
// The step size dt (and softplus) is computed once per position and kept in registers for all N
// states. For each state the thread composes the affine maps h -> a h + b of its run
// sequentially, a block-wide scan of the run maps (warp shuffles, then the warp totals through
// shared memory) gives the state entering every run starting from the chunk's carried state, and
// the thread walks its run again, accumulating y in registers; y is stored once per chunk.
//
// Backward: a forward pass stores the state entering every chunk; chunks are visited from the last.
// Per state, the forward scan from the chunk's checkpoint gives h_{l-1} at every position, and the
// adjoint g_l = a_{l+1} g_{l+1} + r_l (r = C dy, or dh for the all-states op), written as
// k_l = a_l (k_{l+1} + r_l) with g_l = k_{l+1} + r_l, is a block-wide suffix scan of the runs'
// adjoint maps. B and C are shared by the channels of a group: the block's dB / dC for a chunk are
// gathered in shared memory in position order and added with coalesced atomics (or, in
// deterministic mode, stored in a per-channel slab that the caller sums over the group).

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "ops.h"

namespace vmamba_zoo {
namespace {

constexpr float kSoftplusThreshold = 20.0f;
// Largest state size: the carried states of a row live in shared memory.
constexpr int64_t kMaxState = 1024;

template <typename T>
struct Affine {  // h -> a * h + b
  T a;
  T b;
};

// first, then next.
template <typename T>
__device__ __forceinline__ Affine<T> compose(const Affine<T>& first, const Affine<T>& next) {
  return {first.a * next.a, next.a * first.b + next.b};
}

template <typename T>
__device__ __forceinline__ Affine<T> shfl_up(const Affine<T>& v, int offset) {
  return {__shfl_up_sync(0xffffffffu, v.a, offset), __shfl_up_sync(0xffffffffu, v.b, offset)};
}

template <typename T>
__device__ __forceinline__ Affine<T> shfl_down(const Affine<T>& v, int offset) {
  return {__shfl_down_sync(0xffffffffu, v.a, offset), __shfl_down_sync(0xffffffffu, v.b, offset)};
}

__device__ __forceinline__ float exp_of(float x) { return __expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }
__device__ __forceinline__ float log1p_of(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_of(double x) { return log1p(x); }

template <typename T>
__device__ __forceinline__ T softplus(T x) {
  return x > T(kSoftplusThreshold) ? x : log1p_of(exp_of(x));
}

// Shared memory of one block: the staging buffer of a chunk (padded against bank conflicts),
// the warp totals of the scans, and per-state values carried across chunks.
template <typename T, int kThreads, int kItems>
struct Smem {
  static constexpr int kChunk = kThreads * kItems;
  static constexpr int kWarps = kThreads / 32;
  static __device__ __forceinline__ int pad(int i) { return i + i / 32; }
  static constexpr int kStage = kChunk + kChunk / 32;
  static size_t bytes(int64_t carried) {
    return sizeof(T) * (kStage + 2 * kWarps + 2 * carried) + sizeof(Affine<T>) * kWarps;
  }
};

// Reads positions [0, valid) of src (zero beyond) into each thread's run.
template <typename T, int kThreads, int kItems>
__device__ __forceinline__ void load_runs(const T* __restrict__ src, int valid, T (&out)[kItems], T* stage) {
  using S = Smem<T, kThreads, kItems>;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int idx = i * kThreads + threadIdx.x;
    stage[S::pad(idx)] = idx < valid ? src[idx] : T(0);
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kItems; ++i) out[i] = stage[S::pad(threadIdx.x * kItems + i)];
  __syncthreads();
}

// Writes each thread's run to positions [0, valid) of dst; with kAtomic, adds atomically.
template <bool kAtomic, typename T, int kThreads, int kItems>
__device__ __forceinline__ void store_runs(T* __restrict__ dst, int valid, const T (&in)[kItems], T* stage) {
  using S = Smem<T, kThreads, kItems>;
#pragma unroll
  for (int i = 0; i < kItems; ++i) stage[S::pad(threadIdx.x * kItems + i)] = in[i];
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int idx = i * kThreads + threadIdx.x;
    if (idx < valid) {
      if constexpr (kAtomic) {
        atomicAdd(dst + idx, stage[S::pad(idx)]);
      } else {
        dst[idx] = stage[S::pad(idx)];
      }
    }
  }
  __syncthreads();
}

// Block-wide scan of the threads' run maps in thread order: the map of all runs before mine
// (exclusive) and of all runs (total).
template <typename T, int kThreads>
__device__ __forceinline__ void scan_forward(Affine<T> run, Affine<T>* warp_totals, Affine<T>& before,
                                             Affine<T>& total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  Affine<T> inc = run;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const Affine<T> other = shfl_up(inc, offset);
    if (lane >= offset) inc = compose(other, inc);
  }
  Affine<T> exc = shfl_up(inc, 1);
  if (lane == 0) exc = {T(1), T(0)};
  if (lane == 31) warp_totals[warp] = inc;
  __syncthreads();
  Affine<T> prefix{T(1), T(0)};
  total = {T(1), T(0)};
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) {
    if (w < warp) prefix = compose(prefix, warp_totals[w]);
    total = compose(total, warp_totals[w]);
  }
  before = compose(prefix, exc);
  __syncthreads();
}

// The same over the runs in reverse thread order: the map of all runs after mine (applied from
// the last run) and of all runs.
template <typename T, int kThreads>
__device__ __forceinline__ void scan_backward(Affine<T> run, Affine<T>* warp_totals, Affine<T>& after,
                                              Affine<T>& total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  Affine<T> inc = run;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const Affine<T> other = shfl_down(inc, offset);
    if (lane + offset < 32) inc = compose(other, inc);
  }
  Affine<T> exc = shfl_down(inc, 1);
  if (lane == 31) exc = {T(1), T(0)};
  if (lane == 0) warp_totals[warp] = inc;
  __syncthreads();
  Affine<T> suffix{T(1), T(0)};
  total = {T(1), T(0)};
#pragma unroll
  for (int w = kThreads / 32 - 1; w >= 0; --w) {
    if (w > warp) suffix = compose(suffix, warp_totals[w]);
    total = compose(total, warp_totals[w]);
  }
  after = compose(suffix, exc);
  __syncthreads();
}

template <typename T>
struct ScanParams {
  const T* __restrict__ u;
  const T* __restrict__ delta;
  const T* __restrict__ A;
  const T* __restrict__ B;
  const T* __restrict__ C;           // nullptr: all-states mode
  const T* __restrict__ D;           // may be nullptr
  const T* __restrict__ delta_bias;  // may be nullptr
  int64_t channels;
  int64_t group_channels;
  int64_t groups;
  int64_t N;
  int64_t L;
  int64_t n_chunks;
  bool softplus;
};

template <typename T>
__device__ __forceinline__ int64_t group_offset(const ScanParams<T>& p, int64_t row) {
  const int64_t b = row / p.channels, c = row % p.channels;
  return (b * p.groups + c / p.group_channels) * p.N * p.L;
}

// out: y (rows, L) when p.C is set, else every state (rows, N, L), or nothing when null (the
// checkpoint pass of the backward); checkpoints (rows, n_chunks, N), when not null, receives the
// state entering each chunk.
template <typename T, int kThreads, int kItems>
__global__ __launch_bounds__(kThreads) void scan_fwd_kernel(ScanParams<T> p, T* __restrict__ out,
                                                             T* __restrict__ last_state,
                                                             T* __restrict__ checkpoints) {
  using S = Smem<T, kThreads, kItems>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* stage = reinterpret_cast<T*>(smem_raw);
  Affine<T>* warp_totals = reinterpret_cast<Affine<T>*>(stage + S::kStage);
  T* carry = reinterpret_cast<T*>(warp_totals + S::kWarps);  // N states entering the chunk

  const int64_t row = blockIdx.x;
  const int64_t c = row % p.channels;
  const int64_t row_off = row * p.L;
  const int64_t bc_off = group_offset(p, row);
  const T bias = p.delta_bias != nullptr ? p.delta_bias[c] : T(0);
  const T D = p.D != nullptr ? p.D[c] : T(0);
  for (int64_t n = threadIdx.x; n < p.N; n += kThreads) carry[n] = T(0);
  __syncthreads();

  for (int64_t chunk = 0; chunk < p.n_chunks; ++chunk) {
    const int64_t start = chunk * S::kChunk;
    const int valid = static_cast<int>(p.L - start < S::kChunk ? p.L - start : S::kChunk);
    T u[kItems], dt[kItems], y[kItems];
    load_runs<T, kThreads, kItems>(p.u + row_off + start, valid, u, stage);
    load_runs<T, kThreads, kItems>(p.delta + row_off + start, valid, dt, stage);
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const T raw = dt[i] + bias;
      // Past L the step is 0: an identity map.
      dt[i] = threadIdx.x * kItems + i < valid ? (p.softplus ? softplus(raw) : raw) : T(0);
      y[i] = D * u[i];
    }
    for (int64_t n = 0; n < p.N; ++n) {
      const T A = p.A[c * p.N + n];
      T Bv[kItems], a[kItems];
      load_runs<T, kThreads, kItems>(p.B + bc_off + n * p.L + start, valid, Bv, stage);
      Affine<T> run{T(1), T(0)};
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        a[i] = exp_of(dt[i] * A);
        Bv[i] *= dt[i] * u[i];  // the drive b_l
        run = compose(run, Affine<T>{a[i], Bv[i]});
      }
      const T h_in = carry[n];
      Affine<T> before, total;
      scan_forward<T, kThreads>(run, warp_totals, before, total);
      if (threadIdx.x == 0) {
        if (checkpoints != nullptr) checkpoints[(row * p.n_chunks + chunk) * p.N + n] = h_in;
        carry[n] = total.a * h_in + total.b;
      }
      T h = before.a * h_in + before.b;
      if (p.C != nullptr) {
        T Cv[kItems];
        load_runs<T, kThreads, kItems>(p.C + bc_off + n * p.L + start, valid, Cv, stage);
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          h = a[i] * h + Bv[i];
          y[i] += Cv[i] * h;
        }
      } else if (out != nullptr) {
        T hs[kItems];
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          h = a[i] * h + Bv[i];
          hs[i] = h;
        }
        store_runs<false, T, kThreads, kItems>(out + (row * p.N + n) * p.L + start, valid, hs, stage);
      }
    }
    if (p.C != nullptr) store_runs<false, T, kThreads, kItems>(out + row_off + start, valid, y, stage);
    __syncthreads();  // carry[] written by thread 0 is read by all in the next chunk
  }
  __syncthreads();
  for (int64_t n = threadIdx.x; n < p.N; n += kThreads) last_state[row * p.N + n] = carry[n];
}

template <typename T>
struct GradParams {
  const T* __restrict__ grad;         // dy (rows, L) when C is set, else dh (rows, N, L)
  const T* __restrict__ dlast;        // (rows, N) or nullptr
  const T* __restrict__ checkpoints;  // (rows, n_chunks, N)
  T* __restrict__ du;
  T* __restrict__ ddelta;
  T* __restrict__ dA_rows;     // (rows, N)
  T* __restrict__ dB;          // (batch, groups, N, L), or (rows, N, L) when deterministic
  T* __restrict__ dC;          // same layout as dB, or nullptr
  T* __restrict__ dD_rows;     // (rows,) or nullptr
  T* __restrict__ dbias_rows;  // (rows,) or nullptr
  bool deterministic;
};

template <typename T, int kThreads>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  T total = 0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) total += scratch[w];
  __syncthreads();
  return total;
}

template <typename T, int kThreads, int kItems>
__global__ __launch_bounds__(kThreads) void scan_bwd_kernel(ScanParams<T> p, GradParams<T> q) {
  using S = Smem<T, kThreads, kItems>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* stage = reinterpret_cast<T*>(smem_raw);
  Affine<T>* warp_totals = reinterpret_cast<Affine<T>*>(stage + S::kStage);
  T* sums = reinterpret_cast<T*>(warp_totals + S::kWarps);  // kWarps partial sums
  T* k_carry = sums + S::kWarps;                            // N: k after the chunk
  T* dA = k_carry + p.N;                                    // N: the row's dA

  const int64_t row = blockIdx.x;
  const int64_t c = row % p.channels;
  const int64_t row_off = row * p.L;
  const int64_t bc_off = group_offset(p, row);
  const int64_t grad_bc_off = q.deterministic ? row_off * p.N : bc_off;
  const bool states_grad = p.C == nullptr;
  const T bias = p.delta_bias != nullptr ? p.delta_bias[c] : T(0);
  const T D = p.D != nullptr ? p.D[c] : T(0);
  for (int64_t n = threadIdx.x; n < p.N; n += kThreads) {
    k_carry[n] = T(0);
    dA[n] = T(0);
  }
  __syncthreads();
  T dbias_acc = 0, dD_acc = 0;

  for (int64_t chunk = p.n_chunks - 1; chunk >= 0; --chunk) {
    const int64_t start = chunk * S::kChunk;
    const int valid = static_cast<int>(p.L - start < S::kChunk ? p.L - start : S::kChunk);
    T u[kItems], dt[kItems], dsoft[kItems], dy[kItems], du[kItems], ddt[kItems];
    load_runs<T, kThreads, kItems>(p.u + row_off + start, valid, u, stage);
    load_runs<T, kThreads, kItems>(p.delta + row_off + start, valid, dt, stage);
    if (!states_grad) load_runs<T, kThreads, kItems>(q.grad + row_off + start, valid, dy, stage);
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const bool inside = threadIdx.x * kItems + i < valid;
      const T raw = dt[i] + bias;
      dt[i] = inside ? (p.softplus ? softplus(raw) : raw) : T(0);
      dsoft[i] = p.softplus && raw <= T(kSoftplusThreshold) ? T(1) / (T(1) + exp_of(-raw)) : T(1);
      if (states_grad) dy[i] = T(0);
      du[i] = D * dy[i];
      ddt[i] = T(0);
      dD_acc += dy[i] * u[i];
    }
    for (int64_t n = 0; n < p.N; ++n) {
      const T A = p.A[c * p.N + n];
      T Bv[kItems], a[kItems], rhs[kItems], h_prev[kItems];
      load_runs<T, kThreads, kItems>(p.B + bc_off + n * p.L + start, valid, Bv, stage);
      if (states_grad) {
        load_runs<T, kThreads, kItems>(q.grad + (row * p.N + n) * p.L + start, valid, rhs, stage);
      } else {
        load_runs<T, kThreads, kItems>(p.C + bc_off + n * p.L + start, valid, rhs, stage);
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          rhs[i] *= dy[i];
          if (q.dlast != nullptr && start + threadIdx.x * kItems + i == p.L - 1) rhs[i] += q.dlast[row * p.N + n];
        }
      }
      // The run's forward map and its adjoint map k_start = adj.a * k_after + adj.b.
      Affine<T> run{T(1), T(0)};
      T adj_b = 0;
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        a[i] = exp_of(dt[i] * A);
        run = compose(run, Affine<T>{a[i], dt[i] * u[i] * Bv[i]});
        adj_b += rhs[i] * run.a;
      }
      const T h0 = q.checkpoints[(row * p.n_chunks + chunk) * p.N + n];
      const T k_after_chunk = k_carry[n];
      Affine<T> before, total, after, adj_total;
      scan_forward<T, kThreads>(run, warp_totals, before, total);
      scan_backward<T, kThreads>(Affine<T>{run.a, adj_b}, warp_totals, after, adj_total);
      if (threadIdx.x == 0) k_carry[n] = adj_total.a * k_after_chunk + adj_total.b;
      T h = before.a * h0 + before.b;
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        h_prev[i] = h;
        h = a[i] * h + dt[i] * u[i] * Bv[i];
      }
      T k = after.a * k_after_chunk + after.b;
      T dA_acc = 0, dB[kItems], dC[kItems];
#pragma unroll
      for (int i = kItems - 1; i >= 0; --i) {
        const T g = k + rhs[i];
        k = a[i] * g;
        const T decay_grad = g * h_prev[i] * a[i];  // d/d(dt * A) of the decay term
        du[i] += g * Bv[i] * dt[i];
        ddt[i] += g * Bv[i] * u[i] + decay_grad * A;
        dA_acc += decay_grad * dt[i];
        dB[i] = g * dt[i] * u[i];
        dC[i] = (a[i] * h_prev[i] + dt[i] * u[i] * Bv[i]) * dy[i];
      }
      T* dB_n = q.dB + grad_bc_off + n * p.L + start;
      if (q.deterministic) {
        store_runs<false, T, kThreads, kItems>(dB_n, valid, dB, stage);
      } else {
        store_runs<true, T, kThreads, kItems>(dB_n, valid, dB, stage);
      }
      if (!states_grad) {
        T* dC_n = q.dC + grad_bc_off + n * p.L + start;
        if (q.deterministic) {
          store_runs<false, T, kThreads, kItems>(dC_n, valid, dC, stage);
        } else {
          store_runs<true, T, kThreads, kItems>(dC_n, valid, dC, stage);
        }
      }
      const T dA_chunk = block_sum<T, kThreads>(dA_acc, sums);
      if (threadIdx.x == 0) dA[n] += dA_chunk;
    }
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      ddt[i] *= dsoft[i];
      if (threadIdx.x * kItems + i < valid) dbias_acc += ddt[i];
    }
    store_runs<false, T, kThreads, kItems>(q.du + row_off + start, valid, du, stage);
    store_runs<false, T, kThreads, kItems>(q.ddelta + row_off + start, valid, ddt, stage);
  }
  const T dbias = block_sum<T, kThreads>(dbias_acc, sums);
  const T dD = block_sum<T, kThreads>(dD_acc, sums);
  if (threadIdx.x == 0) {
    if (q.dbias_rows != nullptr) q.dbias_rows[row] = dbias;
    if (q.dD_rows != nullptr) q.dD_rows[row] = dD;
  }
  for (int64_t n = threadIdx.x; n < p.N; n += kThreads) q.dA_rows[row * p.N + n] = dA[n];
}

// ---------------------------------------------------------------------------------------------
// Host side: every argument is checked here (shapes, dtypes, divisibility, layout, device)
// before anything is launched, whatever the Python wrapper checked.

void check_tensor(const at::Tensor& t, const char* name, int64_t dim, const at::Tensor& like) {
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), "selective scan: ", name, " must have dtype ",
              like.scalar_type(), " (u's), got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim, "selective scan: ", name, " must be ", dim, "-D, got ", t.dim(), "-D with shape ",
              t.sizes());
}

void check_layout(const at::Tensor& t, const char* name, const at::Tensor& like) {
  TORCH_CHECK(t.is_contiguous(), "selective scan: ", name, " must be contiguous");
  TORCH_CHECK(t.is_cuda(), "selective scan: ", name, " must be a CUDA tensor, got one on ", t.device());
  TORCH_CHECK(t.device() == like.device(), "selective scan: ", name, " must be on ", like.device(), " (u's), got ",
              t.device());
}

struct Shape {
  int64_t batch, channels, L, N, groups;
};

Shape check_scan_inputs(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                        const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& D,
                        const std::optional<at::Tensor>& delta_bias) {
  TORCH_CHECK(u.scalar_type() == at::kFloat || u.scalar_type() == at::kDouble,
              "selective scan: u must be float32 or float64, got ", u.scalar_type());
  check_tensor(u, "u (batch, channels, L)", 3, u);
  check_tensor(delta, "delta (batch, channels, L)", 3, u);
  check_tensor(A, "A (channels, N)", 2, u);
  check_tensor(B, "B (batch, groups, N, L)", 4, u);
  const Shape s{u.size(0), u.size(1), u.size(2), A.size(1), B.size(1)};
  TORCH_CHECK(s.batch > 0 && s.channels > 0 && s.L > 0, "selective scan: u must have non-empty dims, got shape ",
              u.sizes());
  TORCH_CHECK(delta.sizes() == u.sizes(), "selective scan: delta must have u's shape ", u.sizes(), ", got ",
              delta.sizes());
  TORCH_CHECK(A.size(0) == s.channels, "selective scan: A must have ", s.channels, " rows (u's channels), got ",
              A.size(0));
  TORCH_CHECK(s.N >= 1 && s.N <= kMaxState, "selective scan: the state size N (A's columns) must be in [1, ",
              kMaxState, "], got ", s.N);
  TORCH_CHECK(s.groups >= 1, "selective scan: B must have at least one group, got shape ", B.sizes());
  TORCH_CHECK(s.channels % s.groups == 0, "selective scan: channels (", s.channels,
              ") must be divisible by the groups of B (", s.groups, ")");
  TORCH_CHECK(B.size(0) == s.batch && B.size(2) == s.N && B.size(3) == s.L, "selective scan: B must have shape (",
              s.batch, ", groups, ", s.N, ", ", s.L, "), got ", B.sizes());
  if (C.has_value()) {
    check_tensor(*C, "C (batch, groups, N, L)", 4, u);
    TORCH_CHECK(C->sizes() == B.sizes(), "selective scan: C must have B's shape ", B.sizes(), ", got ",
                C->sizes());
  }
  for (const auto& [t, name] : {std::pair{&D, "D"}, std::pair{&delta_bias, "delta_bias"}}) {
    if (!t->has_value()) continue;
    check_tensor(**t, name, 1, u);
    TORCH_CHECK((*t)->size(0) == s.channels, "selective scan: ", name, " must have shape (", s.channels,
                ",), got ", (*t)->sizes());
  }
  TORCH_CHECK(s.batch * s.channels <= 0x7fffffff, "selective scan: too many rows (batch * channels = ",
              s.batch * s.channels, ")");
  return s;
}

// After the shape checks: every tensor contiguous and on u's CUDA device.
void check_scan_layout(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                       const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& D,
                       const std::optional<at::Tensor>& delta_bias) {
  check_layout(u, "u", u);
  check_layout(delta, "delta", u);
  check_layout(A, "A", u);
  check_layout(B, "B", u);
  if (C.has_value()) check_layout(*C, "C", u);
  if (D.has_value()) check_layout(*D, "D", u);
  if (delta_bias.has_value()) check_layout(*delta_bias, "delta_bias", u);
}

template <typename T>
ScanParams<T> make_params(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                          const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& D,
                          const std::optional<at::Tensor>& delta_bias, bool softplus, const Shape& s,
                          int64_t chunk) {
  ScanParams<T> p;
  p.u = u.data_ptr<T>();
  p.delta = delta.data_ptr<T>();
  p.A = A.data_ptr<T>();
  p.B = B.data_ptr<T>();
  p.C = C.has_value() ? C->data_ptr<T>() : nullptr;
  p.D = D.has_value() ? D->data_ptr<T>() : nullptr;
  p.delta_bias = delta_bias.has_value() ? delta_bias->data_ptr<T>() : nullptr;
  p.channels = s.channels;
  p.group_channels = s.channels / s.groups;
  p.groups = s.groups;
  p.N = s.N;
  p.L = s.L;
  p.n_chunks = (s.L + chunk - 1) / chunk;
  p.softplus = softplus;
  return p;
}

// Short rows get one warp per row, longer ones four; float keeps 8 positions per thread,
// double 4 (the same registers).
template <typename T>
constexpr int items_per_thread() {
  return sizeof(T) == 4 ? 8 : 4;
}

bool short_rows(int64_t L) { return L <= 256; }

template <typename T>
int64_t chunk_size(int64_t L) {
  return (short_rows(L) ? 32 : 128) * items_per_thread<T>();
}

template <typename T, int kThreads>
void launch_fwd(const ScanParams<T>& p, int64_t rows, T* out, T* last_state, T* checkpoints) {
  constexpr int kItems = items_per_thread<T>();
  const size_t smem = Smem<T, kThreads, kItems>::bytes(p.N);
  scan_fwd_kernel<T, kThreads, kItems><<<static_cast<unsigned int>(rows), kThreads, smem,
                                          c10::cuda::getCurrentCUDAStream()>>>(p, out, last_state, checkpoints);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, int kThreads>
void launch_bwd(const ScanParams<T>& p, const GradParams<T>& q, int64_t rows) {
  constexpr int kItems = items_per_thread<T>();
  const size_t smem = Smem<T, kThreads, kItems>::bytes(p.N);
  scan_bwd_kernel<T, kThreads, kItems><<<static_cast<unsigned int>(rows), kThreads, smem,
                                          c10::cuda::getCurrentCUDAStream()>>>(p, q);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void run_fwd(const ScanParams<T>& p, int64_t rows, T* out, T* last_state, T* checkpoints) {
  if (short_rows(p.L)) {
    launch_fwd<T, 32>(p, rows, out, last_state, checkpoints);
  } else {
    launch_fwd<T, 128>(p, rows, out, last_state, checkpoints);
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> selective_scan_fwd(const at::Tensor& u, const at::Tensor& delta,
                                                      const at::Tensor& A, const at::Tensor& B,
                                                      const std::optional<at::Tensor>& C,
                                                      const std::optional<at::Tensor>& D,
                                                      const std::optional<at::Tensor>& delta_bias, bool softplus,
                                                      bool store_states) {
  TORCH_CHECK(store_states != C.has_value(),
              "selective_scan_fwd: pass C for y, or store_states=True without C for every state");
  TORCH_CHECK(!(store_states && D.has_value()), "selective_scan_fwd: D is only used with C (the y output)");
  const Shape s = check_scan_inputs(u, delta, A, B, C, D, delta_bias);
  check_scan_layout(u, delta, A, B, C, D, delta_bias);
  const c10::cuda::CUDAGuard guard(u.device());
  at::Tensor out = store_states ? at::empty({s.batch, s.channels, s.N, s.L}, u.options()) : at::empty_like(u);
  at::Tensor last_state = at::empty({s.batch, s.channels, s.N}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "selective_scan_fwd", [&] {
    const auto p = make_params<scalar_t>(u, delta, A, B, C, D, delta_bias, softplus, s, chunk_size<scalar_t>(s.L));
    run_fwd<scalar_t>(p, s.batch * s.channels, out.data_ptr<scalar_t>(), last_state.data_ptr<scalar_t>(), nullptr);
  });
  return {out, last_state};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> selective_scan_bwd(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
    const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& D,
    const std::optional<at::Tensor>& delta_bias, bool softplus, const at::Tensor& grad,
    const std::optional<at::Tensor>& dlast, bool deterministic) {
  const Shape s = check_scan_inputs(u, delta, A, B, C, D, delta_bias);
  if (C.has_value()) {
    check_tensor(grad, "dy (batch, channels, L)", 3, u);
    TORCH_CHECK(grad.sizes() == u.sizes(), "selective_scan_bwd: dy must have u's shape ", u.sizes(), ", got ",
                grad.sizes());
  } else {
    TORCH_CHECK(!D.has_value(), "selective_scan_bwd: D is only used with C (the y output)");
    check_tensor(grad, "dh (batch, channels, N, L)", 4, u);
    TORCH_CHECK(grad.size(0) == s.batch && grad.size(1) == s.channels && grad.size(2) == s.N && grad.size(3) == s.L,
                "selective_scan_bwd: dh must have shape (", s.batch, ", ", s.channels, ", ", s.N, ", ", s.L,
                "), got ", grad.sizes());
    TORCH_CHECK(!dlast.has_value(), "selective_scan_bwd: dlast is only defined for the y scan (with C)");
  }
  if (dlast.has_value()) {
    check_tensor(*dlast, "dlast (batch, channels, N)", 3, u);
    TORCH_CHECK(dlast->size(0) == s.batch && dlast->size(1) == s.channels && dlast->size(2) == s.N,
                "selective_scan_bwd: dlast must have shape (", s.batch, ", ", s.channels, ", ", s.N, "), got ",
                dlast->sizes());
  }
  check_scan_layout(u, delta, A, B, C, D, delta_bias);
  check_layout(grad, C.has_value() ? "dy" : "dh", u);
  if (dlast.has_value()) check_layout(*dlast, "dlast", u);
  const c10::cuda::CUDAGuard guard(u.device());
  const auto options = u.options();
  at::Tensor du = at::empty_like(u), ddelta = at::empty_like(delta);
  at::Tensor dA_rows = at::empty({s.batch, s.channels, s.N}, options);
  // Atomics add into zeros; the deterministic per-channel slab is written everywhere.
  at::Tensor dB = deterministic ? at::empty({s.batch, s.channels, s.N, s.L}, options) : at::zeros_like(B);
  at::Tensor dC = !C.has_value() ? at::empty({0}, options)
                  : deterministic ? at::empty({s.batch, s.channels, s.N, s.L}, options)
                                  : at::zeros_like(*C);
  at::Tensor dD_rows = D.has_value() ? at::empty({s.batch, s.channels}, options) : at::empty({0}, options);
  at::Tensor dbias_rows = delta_bias.has_value() ? at::empty({s.batch, s.channels}, options) : at::empty({0}, options);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "selective_scan_bwd", [&] {
    const int64_t chunk = chunk_size<scalar_t>(s.L);
    const auto p = make_params<scalar_t>(u, delta, A, B, C, D, delta_bias, softplus, s, chunk);
    const int64_t rows = s.batch * s.channels;
    at::Tensor checkpoints = at::empty({s.batch, s.channels, p.n_chunks, s.N}, options);
    at::Tensor last_state = at::empty({s.batch, s.channels, s.N}, options);
    auto ckpt_params = p;
    ckpt_params.C = nullptr;
    ckpt_params.D = nullptr;
    run_fwd<scalar_t>(ckpt_params, rows, nullptr, last_state.data_ptr<scalar_t>(), checkpoints.data_ptr<scalar_t>());
    GradParams<scalar_t> q;
    q.grad = grad.data_ptr<scalar_t>();
    q.dlast = dlast.has_value() ? dlast->data_ptr<scalar_t>() : nullptr;
    q.checkpoints = checkpoints.data_ptr<scalar_t>();
    q.du = du.data_ptr<scalar_t>();
    q.ddelta = ddelta.data_ptr<scalar_t>();
    q.dA_rows = dA_rows.data_ptr<scalar_t>();
    q.dB = dB.data_ptr<scalar_t>();
    q.dC = C.has_value() ? dC.data_ptr<scalar_t>() : nullptr;
    q.dD_rows = D.has_value() ? dD_rows.data_ptr<scalar_t>() : nullptr;
    q.dbias_rows = delta_bias.has_value() ? dbias_rows.data_ptr<scalar_t>() : nullptr;
    q.deterministic = deterministic;
    if (short_rows(s.L)) {
      launch_bwd<scalar_t, 32>(p, q, rows);
    } else {
      launch_bwd<scalar_t, 128>(p, q, rows);
    }
  });
  return {du, ddelta, dA_rows, dB, dC, dD_rows, dbias_rows};
}

}  // namespace vmamba_zoo
