// CPU cross selective scan: cross-scan + per-direction Δ projection + selective scan +
// cross-merge of an SS2D block in one pass over a channel-last map (inference only).
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
#include "ops.h"
#include "parallel.h"
#include "simd.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace vmamba_zoo {
namespace {

using simd::Vec;

template <typename T>
struct CrossScanArgs {
  const T* x;          // (batch, P, C)
  const T* x_dbl;      // element (k, b * P + p, j) at k * dbl_dir_stride + (b * P + p) * dbl_pix_stride + j
  const int32_t* route;  // (K, L): pixel of step l of direction k, or -1 (zero padding)
  const T* dt_weight;  // (K, Dk, R)
  const T* dt_bias;    // (K * Dk)
  const T* A;          // (K * Dk, N)
  const T* D;          // (K * Dk)
  T* y;                // (batch, P, C), zero on entry
  int64_t batch, pixels, channels, K, length, dir_channels, rank, state;
  int64_t dbl_dir_stride, dbl_pix_stride;
  bool grouped;  // direction k scans channels [k * Dk, (k + 1) * Dk) only; otherwise all C
  bool softplus;

  int64_t blocks() const { return (dir_channels + simd::kLanes<T> - 1) / simd::kLanes<T>; }
  int64_t directions_per_task() const { return grouped ? 1 : K; }
  int64_t tasks() const { return batch * (grouped ? K : 1) * blocks(); }
  int64_t task_cost() const { return simd::kLanes<T> * directions_per_task() * length * (state + rank); }
};

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
  std::vector<Vec<T>> A_store, h_store;
  Vec<T>* A;
  Vec<T>* h;
  explicit StateVectors(int64_t n) : A_store(n), h_store(n), A(A_store.data()), h(h_store.data()) {}
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
  std::vector<Vec<T>> dt_w(p.rank);
  for (int64_t k = k_begin; k < k_begin + p.directions_per_task(); ++k) {
    const int64_t cd = blk * W;  // channel within the direction's Dk
    const int64_t cx = (p.grouped ? k * p.dir_channels : 0) + cd;
    scan_direction<T, kState>(p, b, k, cx, k * p.dir_channels + cd, lanes, dt_w.data());
  }
}

}  // namespace

at::Tensor cross_selective_scan_fwd(const at::Tensor& x, const at::Tensor& x_dbl, const at::Tensor& route,
                                    const at::Tensor& dt_weight, const at::Tensor& dt_bias, const at::Tensor& A,
                                    const at::Tensor& D, bool grouped, bool softplus) {
  const auto dtype = x.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble,
              "vmamba_zoo cpu cross selective scan: float32 or float64 inputs, got ", dtype);
  for (const at::Tensor* t : {&x, &x_dbl, &dt_weight, &dt_bias, &A, &D}) {
    TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == dtype,
                "vmamba_zoo cpu cross selective scan: all inputs must be CPU tensors of one dtype");
  }
  TORCH_CHECK(x.dim() == 3 && x.is_contiguous(), "x must be a contiguous (batch, P, C) tensor");
  TORCH_CHECK(route.dim() == 2 && route.is_contiguous() && route.scalar_type() == at::kInt,
              "route must be a contiguous (K, L) int32 tensor");
  TORCH_CHECK(dt_weight.dim() == 3 && dt_weight.is_contiguous() && dt_bias.is_contiguous() && A.dim() == 2 &&
                  A.is_contiguous() && D.is_contiguous(),
              "parameters must be contiguous");
  const int64_t K = route.size(0), Dk = dt_weight.size(1), R = dt_weight.size(2), N = A.size(1);
  const int64_t batch = x.size(0), P = x.size(1), C = x.size(2);
  TORCH_CHECK(dt_weight.size(0) == K && A.size(0) == K * Dk && D.numel() == K * Dk && dt_bias.numel() == K * Dk,
              "parameter shapes do not match K = ", K, ", Dk = ", Dk);
  TORCH_CHECK(C == (grouped ? K * Dk : Dk), "x has ", C, " channels, the parameters expect ", grouped ? K * Dk : Dk);
  TORCH_CHECK(x_dbl.dim() == 3 && x_dbl.size(0) == K && x_dbl.size(1) == batch * P && x_dbl.size(2) == R + 2 * N &&
                  x_dbl.stride(2) == 1,
              "x_dbl must be a (K, batch * P, R + 2N) view with a contiguous last dim");
  TORCH_CHECK(route.numel() == 0 || (route.min().item<int32_t>() >= -1 && route.max().item<int32_t>() < P),
              "route indexes pixels outside the map");

  at::Tensor y = at::zeros_like(x);
  AT_DISPATCH_FLOATING_TYPES(dtype, "vmamba_zoo_cross_selective_scan_fwd", [&] {
    CrossScanArgs<scalar_t> p{x.data_ptr<scalar_t>(), x_dbl.data_ptr<scalar_t>(), route.data_ptr<int32_t>(),
                              dt_weight.data_ptr<scalar_t>(), dt_bias.data_ptr<scalar_t>(), A.data_ptr<scalar_t>(),
                              D.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), batch, P, C, K, route.size(1), Dk, R, N,
                              x_dbl.stride(0), x_dbl.stride(1), grouped, softplus};
    parallel_tasks(p.tasks(), p.task_cost(), [&](int64_t task) {
      // the state sizes of the released models get register-resident states
      if (N == 1)
        run_task<scalar_t, 1>(p, task);
      else if (N == 16)
        run_task<scalar_t, 16>(p, task);
      else
        run_task<scalar_t, 0>(p, task);
    });
  });
  return y;
}

}  // namespace vmamba_zoo
