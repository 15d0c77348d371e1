// Selective scan (S6) forward and adjoint backward on CUDA, float32 and float64.
//
// Thread layout: one (batch, channel) row is served by a "lane group" of S consecutive lanes of
// a warp, S = min(next_pow2(N), 32); lane s owns states n = s, s + S, s + 2S, ... and the
// group makes ceil(N / S) passes over the sequence, one state per lane per pass (so any N
// works). Each lane runs its recurrence sequentially over L with the state in a register, so
// the sequence length is unbounded. Sums over states (y, du, ddelta) are warp shuffles inside
// the group; lane 0 of the group accumulates them into the row's output across passes.
//
// Backward: a forward pass stores the state at the start of every CHUNK positions; then chunks
// are visited from the last to the first, the chunk's states are recomputed from its checkpoint
// into a per-thread buffer, and the adjoint g_l = a_{l+1} g_{l+1} + r_l runs backwards through
// it. B and C are shared by the Dg channels of a group, so dB and dC use atomicAdd.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "ops.h"

namespace vmamba_zoo {
namespace {

constexpr int kThreads = 128;
constexpr int kChunk = 64;  // positions per backward checkpoint
constexpr double kSoftplusThreshold = 20.0;

template <typename T>
struct ScanArgs {
  const T* u;
  const T* delta;
  const T* A;
  const T* B;
  const T* C;           // nullptr: all-states mode
  const T* delta_bias;  // may be nullptr
  int64_t rows;         // batch * channels
  int64_t channels;
  int64_t group_channels;
  int64_t groups;
  int64_t N;
  int64_t L;
  int lanes;  // S
  bool softplus;
};

// dt_l = softplus(delta_l + bias) (or delta_l + bias), the step size of position l.
template <typename T>
__device__ __forceinline__ T step_size(const ScanArgs<T>& p, T raw) {
  if (!p.softplus) return raw;
  return raw > T(kSoftplusThreshold) ? raw : log1p(exp(raw));
}

template <typename T>
__device__ __forceinline__ T group_sum(T v, int lanes) {
  for (int offset = lanes / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

struct RowIndex {
  int64_t row;
  int lane;
  bool active;
};

__device__ __forceinline__ RowIndex row_index(int lanes, int64_t rows) {
  const int64_t rows_per_block = kThreads / lanes;
  RowIndex r;
  r.row = static_cast<int64_t>(blockIdx.x) * rows_per_block + threadIdx.x / lanes;
  r.lane = threadIdx.x % lanes;
  r.active = r.row < rows;
  return r;
}

// out: y (rows, L), accumulated over passes and zero-initialised by the host, or states (rows, N, L).
template <typename T>
__global__ void scan_fwd_kernel(ScanArgs<T> p, T* out, T* last_state) {
  const RowIndex r = row_index(p.lanes, p.rows);
  // Inactive rows still run the loops (with row 0's inputs) so that every lane joins the shuffles.
  const int64_t row = r.active ? r.row : 0;
  const int64_t c = row % p.channels;
  const int64_t row_off = row * p.L;
  const int64_t bc_off = ((row / p.channels) * p.groups + c / p.group_channels) * p.N * p.L;
  const T bias = p.delta_bias != nullptr ? p.delta_bias[c] : T(0);
  const int64_t passes = (p.N + p.lanes - 1) / p.lanes;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const int64_t n = pass * p.lanes + r.lane;
    const bool owns_state = r.active && n < p.N;
    const T a_coef = owns_state ? p.A[c * p.N + n] : T(0);
    const T* B_n = p.B + bc_off + (owns_state ? n : 0) * p.L;
    const T* C_n = p.C != nullptr ? p.C + bc_off + (owns_state ? n : 0) * p.L : nullptr;
    T h = 0;
    for (int64_t l = 0; l < p.L; ++l) {
      const T dt = step_size(p, p.delta[row_off + l] + bias);
      const T b_in = owns_state ? B_n[l] : T(0);
      h = exp(dt * a_coef) * h + dt * b_in * p.u[row_off + l];
      if (C_n != nullptr) {
        const T y_part = group_sum(owns_state ? C_n[l] * h : T(0), p.lanes);
        if (r.lane == 0 && r.active) out[row_off + l] += y_part;
      } else if (owns_state) {
        out[(row * p.N + n) * p.L + l] = h;
      }
    }
    if (owns_state) last_state[row * p.N + n] = h;
  }
}

// grad: dy (rows, L) when p.C is set, else dh (rows, N, L). du and ddelta are zero-initialised
// by the host and accumulated over passes; ddelta holds d/d(dt) until the final per-row pass.
template <typename T>
__global__ void scan_bwd_kernel(ScanArgs<T> p, const T* grad, const T* dlast, T* checkpoints, T* du, T* ddelta,
                                T* dA_rows, T* dB, T* dC, T* dbias_rows) {
  const RowIndex r = row_index(p.lanes, p.rows);
  const int64_t row = r.active ? r.row : 0;
  const int64_t c = row % p.channels;
  const int64_t row_off = row * p.L;
  const int64_t bc_off = ((row / p.channels) * p.groups + c / p.group_channels) * p.N * p.L;
  const T bias = p.delta_bias != nullptr ? p.delta_bias[c] : T(0);
  const int64_t passes = (p.N + p.lanes - 1) / p.lanes;
  const int64_t n_chunks = (p.L + kChunk - 1) / kChunk;
  const bool states_grad = p.C == nullptr;
  T history[kChunk];  // h_{l-1} for every position l of the current chunk
  for (int64_t pass = 0; pass < passes; ++pass) {
    const int64_t n = pass * p.lanes + r.lane;
    const bool owns_state = r.active && n < p.N;
    const int64_t n_safe = owns_state ? n : 0;
    const T a_coef = owns_state ? p.A[c * p.N + n] : T(0);
    const T* B_n = p.B + bc_off + n_safe * p.L;
    T* ckpt = checkpoints + (row * p.N + n_safe) * n_chunks;

    T h = 0;
    for (int64_t l = 0; l < p.L; ++l) {
      if (l % kChunk == 0 && owns_state) ckpt[l / kChunk] = h;
      const T dt = step_size(p, p.delta[row_off + l] + bias);
      h = exp(dt * a_coef) * h + dt * (owns_state ? B_n[l] : T(0)) * p.u[row_off + l];
    }

    T g = 0;  // adjoint dL/dh_l
    T a_next = 0;  // decay at l + 1 (none past the end)
    T dA_acc = 0;
    for (int64_t chunk = n_chunks - 1; chunk >= 0; --chunk) {
      const int64_t start = chunk * kChunk;
      const int64_t stop = start + kChunk < p.L ? start + kChunk : p.L;
      h = owns_state ? ckpt[chunk] : T(0);
      for (int64_t l = start; l < stop; ++l) {
        history[l - start] = h;
        const T dt = step_size(p, p.delta[row_off + l] + bias);
        h = exp(dt * a_coef) * h + dt * (owns_state ? B_n[l] : T(0)) * p.u[row_off + l];
      }
      for (int64_t l = stop - 1; l >= start; --l) {
        const T dt = step_size(p, p.delta[row_off + l] + bias);
        const T a = exp(dt * a_coef);
        const T u_l = p.u[row_off + l];
        const T b_in = owns_state ? B_n[l] : T(0);
        const T h_prev = history[l - start];
        T rhs = 0;
        T dy = 0;
        if (states_grad) {
          rhs = owns_state ? grad[(row * p.N + n) * p.L + l] : T(0);
        } else {
          dy = grad[row_off + l];
          rhs = owns_state ? p.C[bc_off + n * p.L + l] * dy : T(0);
          if (l == p.L - 1 && dlast != nullptr && owns_state) rhs += dlast[row * p.N + n];
        }
        g = a_next * g + rhs;
        a_next = a;
        const T decay_grad = g * h_prev * a;
        dA_acc += decay_grad * dt;
        if (owns_state) {
          atomicAdd(dB + bc_off + n * p.L + l, g * dt * u_l);
          if (!states_grad) atomicAdd(dC + bc_off + n * p.L + l, (a * h_prev + dt * b_in * u_l) * dy);
        }
        const T gB = group_sum(g * b_in, p.lanes);
        const T ddt_decay = group_sum(decay_grad * a_coef, p.lanes);
        if (r.lane == 0 && r.active) {
          du[row_off + l] += gB * dt;
          ddelta[row_off + l] += gB * u_l + ddt_decay;
        }
      }
    }
    if (owns_state) dA_rows[row * p.N + n] = dA_acc;
  }
  if (r.lane != 0 || !r.active) return;
  T dbias_acc = 0;
  for (int64_t l = 0; l < p.L; ++l) {
    const T raw = p.delta[row_off + l] + bias;
    T d = ddelta[row_off + l];
    if (p.softplus && raw <= T(kSoftplusThreshold)) d = d / (T(1) + exp(-raw));
    ddelta[row_off + l] = d;
    dbias_acc += d;
  }
  if (dbias_rows != nullptr) dbias_rows[row] = dbias_acc;
}

void check_input(const at::Tensor& t, const char* name, int64_t dim, const at::Tensor& like) {
  TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
  TORCH_CHECK(t.device() == like.device(), name, " must be on ", like.device(), ", got ", t.device());
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " must have dtype ", like.scalar_type(), ", got ",
              t.scalar_type());
  TORCH_CHECK(t.dim() == dim, name, " must be ", dim, "-D, got ", t.dim(), "-D");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

int lanes_for(int64_t N) {
  int lanes = 1;
  while (lanes < N && lanes < 32) lanes *= 2;
  return lanes;
}

template <typename T>
ScanArgs<T> make_args(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                      const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& delta_bias,
                      bool softplus) {
  ScanArgs<T> p;
  p.u = u.data_ptr<T>();
  p.delta = delta.data_ptr<T>();
  p.A = A.data_ptr<T>();
  p.B = B.data_ptr<T>();
  p.C = C.has_value() ? C->data_ptr<T>() : nullptr;
  p.delta_bias = delta_bias.has_value() ? delta_bias->data_ptr<T>() : nullptr;
  p.channels = u.size(1);
  p.rows = u.size(0) * p.channels;
  p.groups = B.size(1);
  p.group_channels = p.channels / p.groups;
  p.N = A.size(1);
  p.L = u.size(2);
  p.lanes = lanes_for(p.N);
  p.softplus = softplus;
  return p;
}

void check_scan_inputs(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                       const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& delta_bias) {
  TORCH_CHECK(u.scalar_type() == at::kFloat || u.scalar_type() == at::kDouble,
              "selective scan: u must be float32 or float64, got ", u.scalar_type());
  check_input(u, "u", 3, u);
  check_input(delta, "delta", 3, u);
  check_input(A, "A", 2, u);
  check_input(B, "B", 4, u);
  TORCH_CHECK(delta.sizes() == u.sizes(), "delta must have u's shape");
  const int64_t batch = u.size(0), channels = u.size(1), L = u.size(2);
  TORCH_CHECK(batch > 0 && channels > 0 && L > 0, "u must have non-empty dims");
  TORCH_CHECK(A.size(0) == channels && A.size(1) > 0, "A must be (channels, N) with N >= 1");
  TORCH_CHECK(B.size(0) == batch && B.size(1) > 0 && channels % B.size(1) == 0 && B.size(2) == A.size(1) &&
                  B.size(3) == L,
              "B must be (batch, groups, N, L) with channels divisible by groups");
  if (C.has_value()) {
    check_input(*C, "C", 4, u);
    TORCH_CHECK(C->sizes() == B.sizes(), "C must have B's shape");
  }
  if (delta_bias.has_value()) {
    check_input(*delta_bias, "delta_bias", 1, u);
    TORCH_CHECK(delta_bias->size(0) == channels, "delta_bias must be (channels,)");
  }
}

unsigned int blocks_for(int64_t rows, int lanes) {
  const int64_t rows_per_block = kThreads / lanes;
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  TORCH_CHECK(blocks <= 0x7fffffff, "selective scan: too many rows (", rows, ")");
  return static_cast<unsigned int>(blocks);
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> selective_scan_fwd(const at::Tensor& u, const at::Tensor& delta,
                                                      const at::Tensor& A, const at::Tensor& B,
                                                      const std::optional<at::Tensor>& C,
                                                      const std::optional<at::Tensor>& delta_bias, bool softplus,
                                                      bool store_states) {
  check_scan_inputs(u, delta, A, B, C, delta_bias);
  TORCH_CHECK(store_states != C.has_value(), "selective_scan_fwd: pass C for y, or store_states without C");
  const c10::cuda::CUDAGuard guard(u.device());
  const int64_t batch = u.size(0), channels = u.size(1), L = u.size(2), N = A.size(1);
  at::Tensor out = store_states ? at::empty({batch, channels, N, L}, u.options()) : at::zeros_like(u);
  at::Tensor last_state = at::empty({batch, channels, N}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "selective_scan_fwd", [&] {
    const auto p = make_args<scalar_t>(u, delta, A, B, C, delta_bias, softplus);
    scan_fwd_kernel<scalar_t><<<blocks_for(p.rows, p.lanes), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        p, out.data_ptr<scalar_t>(), last_state.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {out, last_state};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> selective_scan_bwd(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
    const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& delta_bias, bool softplus,
    const at::Tensor& grad, const std::optional<at::Tensor>& dlast) {
  check_scan_inputs(u, delta, A, B, C, delta_bias);
  const int64_t batch = u.size(0), channels = u.size(1), L = u.size(2), N = A.size(1);
  if (C.has_value()) {
    check_input(grad, "dy", 3, u);
    TORCH_CHECK(grad.sizes() == u.sizes(), "dy must have u's shape");
  } else {
    check_input(grad, "dh", 4, u);
    TORCH_CHECK(grad.size(0) == batch && grad.size(1) == channels && grad.size(2) == N && grad.size(3) == L,
                "dh must be (batch, channels, N, L)");
    TORCH_CHECK(!dlast.has_value(), "dlast is only defined for the y scan (with C)");
  }
  if (dlast.has_value()) {
    check_input(*dlast, "dlast", 3, u);
    TORCH_CHECK(dlast->size(0) == batch && dlast->size(1) == channels && dlast->size(2) == N,
                "dlast must be (batch, channels, N)");
  }
  const c10::cuda::CUDAGuard guard(u.device());
  const int64_t n_chunks = (L + kChunk - 1) / kChunk;
  at::Tensor checkpoints = at::empty({batch, channels, N, n_chunks}, u.options());
  at::Tensor du = at::zeros_like(u);
  at::Tensor ddelta = at::zeros_like(delta);
  at::Tensor dA_rows = at::empty({batch, channels, N}, u.options());
  at::Tensor dB = at::zeros_like(B);
  at::Tensor dC = C.has_value() ? at::zeros_like(*C) : at::empty({0}, u.options());
  at::Tensor dbias_rows = delta_bias.has_value() ? at::empty({batch, channels}, u.options()) : at::empty({0}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "selective_scan_bwd", [&] {
    const auto p = make_args<scalar_t>(u, delta, A, B, C, delta_bias, softplus);
    scan_bwd_kernel<scalar_t><<<blocks_for(p.rows, p.lanes), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        p, grad.data_ptr<scalar_t>(), dlast.has_value() ? dlast->data_ptr<scalar_t>() : nullptr,
        checkpoints.data_ptr<scalar_t>(), du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(),
        dA_rows.data_ptr<scalar_t>(), dB.data_ptr<scalar_t>(), C.has_value() ? dC.data_ptr<scalar_t>() : nullptr,
        delta_bias.has_value() ? dbias_rows.data_ptr<scalar_t>() : nullptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {du, ddelta, dA_rows, dB, dC, dbias_rows};
}

}  // namespace vmamba_zoo
