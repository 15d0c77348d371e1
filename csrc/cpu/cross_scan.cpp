// CPU cross-scan / cross-merge for every mode of vmamba_zoo/ops/cross_scan/modes.py.
//
// Every route of every mode is a strided sub-grid of one (H, W) plane read in row- or
// column-major order, possibly reversed:
//   sequence position of grid cell (i, j) = (column_major ? j * rows + i : i * cols + j),
//   mirrored (L - 1 - position) when reversed; the cell is pixel (row0 + step*i, col0 + step*j),
//   zero (scan) / dropped (merge) when that pixel lies in atrous2's padding.
// One task is one (batch, channel) plane; column-major routes are walked in square tiles so the
// strided side of the transpose stays in L1. Pure data movement, compiled once at the
// extension's baseline flags (no per-instruction-set copies, unlike kernels.h).
#include "checks.h"
#include "ops.h"
#include "parallel.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <algorithm>
#include <type_traits>
#include <vector>

namespace vmamba_zoo {
namespace {

constexpr int64_t kTile = 32;

struct Route {
  int64_t row0 = 0, col0 = 0, step = 1;
  bool column_major = false, reversed = false;
};

struct Mode {
  std::vector<Route> routes;
  int64_t rows = 0, cols = 0;  // sub-grid size; L = rows * cols
  bool grouped = false;        // channel group k only uses route k
  bool disjoint = false;       // routes cover disjoint pixels (merge needs no sum)
  int64_t K() const { return static_cast<int64_t>(routes.size()); }
  int64_t length() const { return rows * cols; }
};

Mode parse_mode(const std::string& name, int64_t H, int64_t W) {
  const Route row{0, 0, 1, false, false}, col{0, 0, 1, true, false};
  const Route row_flip{0, 0, 1, false, true}, col_flip{0, 0, 1, true, true};
  Mode m;
  m.rows = H;
  m.cols = W;
  if (name == "cross2d" || name == "cross2d_grouped") {
    m.routes = {row, col, row_flip, col_flip};
    m.grouped = name == "cross2d_grouped";
  } else if (name == "row") {
    m.routes = {row};
  } else if (name == "col") {
    m.routes = {col};
  } else if (name == "row_flip") {
    m.routes = {row_flip};
  } else if (name == "col_flip") {
    m.routes = {col_flip};
  } else if (name == "atrous2") {
    m.rows = (H + 1) / 2;
    m.cols = (W + 1) / 2;
    m.routes = {Route{0, 0, 2, false, false}, Route{1, 0, 2, true, false}, Route{0, 1, 2, false, false},
                Route{1, 1, 2, true, false}};
    m.disjoint = true;
  } else {
    TORCH_CHECK_VALUE(false, "cross_scan: unknown mode '", name, "'");
  }
  if (m.K() == 1) m.disjoint = true;
  return m;
}

// Visits every in-bounds cell of `route` as fn(pixel index in the plane, sequence position),
// in tiles for column-major routes.
template <typename Fn>
inline void for_each_cell(const Mode& m, const Route& r, int64_t H, int64_t W, const Fn& fn) {
  const int64_t L = m.length();
  const int64_t rows = std::min(m.rows, (H - r.row0 + r.step - 1) / r.step);
  const int64_t cols = std::min(m.cols, (W - r.col0 + r.step - 1) / r.step);
  auto position = [&](int64_t i, int64_t j) {
    const int64_t pos = r.column_major ? j * m.rows + i : i * m.cols + j;
    return r.reversed ? L - 1 - pos : pos;
  };
  if (!r.column_major) {
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t pix = (r.row0 + r.step * i) * W + r.col0;
      for (int64_t j = 0; j < cols; ++j) fn(pix + r.step * j, position(i, j));
    }
    return;
  }
  for (int64_t i0 = 0; i0 < rows; i0 += kTile)
    for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
      const int64_t i1 = std::min(rows, i0 + kTile), j1 = std::min(cols, j0 + kTile);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) fn((r.row0 + r.step * i) * W + r.col0 + r.step * j, position(i, j));
    }
}

template <typename T>
void scan_plane(const Mode& m, const Route& r, const T* plane, int64_t H, int64_t W, T* seq) {
  const int64_t L = m.length();
  if (r.step == 1 && !r.column_major) {  // cross2d rows: a copy, or a reversed copy
    if (r.reversed) {
      for (int64_t p = 0; p < L; ++p) seq[L - 1 - p] = plane[p];
    } else {
      std::copy(plane, plane + L, seq);
    }
    return;
  }
  if (m.rows * r.step > H || m.cols * r.step > W)  // padded cells (atrous2, odd sizes) read as zero
    std::fill(seq, seq + L, T(0));
  for_each_cell(m, r, H, W, [&](int64_t pix, int64_t pos) { seq[pos] = plane[pix]; });
}

// out (op)= route^T(seq): assign when `accumulate` is false.
template <typename T, typename Acc>
void merge_plane(const Mode& m, const Route& r, const T* seq, int64_t H, int64_t W, Acc* out, bool accumulate) {
  const int64_t L = m.length();
  if (r.step == 1 && !r.column_major) {
    for (int64_t p = 0; p < L; ++p) {
      const Acc v = static_cast<Acc>(seq[r.reversed ? L - 1 - p : p]);
      out[p] = accumulate ? out[p] + v : v;
    }
    return;
  }
  if (accumulate) {
    for_each_cell(m, r, H, W, [&](int64_t pix, int64_t pos) { out[pix] += static_cast<Acc>(seq[pos]); });
  } else {
    for_each_cell(m, r, H, W, [&](int64_t pix, int64_t pos) { out[pix] = static_cast<Acc>(seq[pos]); });
  }
}

void check_tensor(const char* op, const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(t.defined(), op, ": ", name, " is an undefined tensor");
  const auto dtype = t.scalar_type();
  TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf || dtype == at::kBFloat16, op,
                    ": ", name, " must be float32, float64, float16 or bfloat16, got ", dtype);
  cpu::check_tensor(op, t, name, dtype);
}

// Sizes up to 2^31 keep every index product of the kernels within int64.
constexpr int64_t kMaxSide = int64_t(1) << 31;

}  // namespace

at::Tensor cross_scan(const at::Tensor& x, const std::string& mode) {
  const char* op = "cross_scan";
  check_tensor(op, x, "x");
  TORCH_CHECK_VALUE(x.dim() == 4 && x.size(2) >= 1 && x.size(3) >= 1, op,
                    ": x must be (batch, C, H, W) with H, W >= 1, got ", x.sizes());
  const int64_t batch = x.size(0), channels = x.size(1), H = x.size(2), W = x.size(3);
  const Mode m = parse_mode(mode, H, W);
  const int64_t K = m.K(), L = m.length();
  TORCH_CHECK_VALUE(!m.grouped || channels % K == 0, op, ": mode ", mode, " needs channels divisible by ", K,
                    ", got ", channels);
  const int64_t seq_channels = m.grouped ? channels / K : channels;
  at::Tensor out = at::empty({batch, K, seq_channels, L}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "vmamba_zoo_cross_scan", [&] {
    const scalar_t* src = x.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    parallel_tasks(batch * channels, H * W * (m.grouped ? 1 : K), [&](int64_t plane) {
      const int64_t b = plane / channels, c = plane % channels;
      const scalar_t* xp = src + plane * H * W;
      if (m.grouped) {  // (b, k, c', :) with c = k * C' + c' is row b * C + c of the output
        scan_plane(m, m.routes[c / seq_channels], xp, H, W, dst + plane * L);
        return;
      }
      for (int64_t k = 0; k < K; ++k) scan_plane(m, m.routes[k], xp, H, W, dst + ((b * K + k) * channels + c) * L);
    });
  });
  return out;
}

at::Tensor cross_merge(const at::Tensor& ys, int64_t H, int64_t W, const std::string& mode) {
  const char* op = "cross_merge";
  check_tensor(op, ys, "ys");
  TORCH_CHECK_VALUE(H >= 1 && W >= 1 && H <= kMaxSide && W <= kMaxSide, op, ": H and W must be in [1, 2^31], got H=",
                    H, ", W=", W);
  const Mode m = parse_mode(mode, H, W);
  const int64_t K = m.K(), L = m.length();
  TORCH_CHECK_VALUE(ys.dim() == 4 && ys.size(1) == K && ys.size(3) == L, op, ": mode ", mode, " at H=", H, ", W=", W,
                    " needs ys of shape (batch, ", K, ", C, ", L, "), got ", ys.sizes());
  const int64_t batch = ys.size(0), seq_channels = ys.size(2);
  const int64_t channels = m.grouped ? K * seq_channels : seq_channels;
  at::Tensor out = at::empty({batch, channels, H * W}, ys.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ys.scalar_type(), "vmamba_zoo_cross_merge", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* src = ys.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    parallel_tasks(batch * channels, H * W * (m.grouped ? 1 : K), [&](int64_t plane) {
      const int64_t b = plane / channels, c = plane % channels;
      scalar_t* op = dst + plane * H * W;
      if (m.grouped) {
        merge_plane(m, m.routes[c / seq_channels], src + plane * L, H, W, op, false);
        return;
      }
      if (m.disjoint || std::is_same_v<scalar_t, acc_t>) {
        for (int64_t k = 0; k < K; ++k)
          merge_plane(m, m.routes[k], src + ((b * K + k) * channels + c) * L, H, W, op, k > 0 && !m.disjoint);
        return;
      }
      // Reduced precision: sum the routes in float and round once, as torch's sum does.
      thread_local std::vector<acc_t> acc;
      acc.resize(H * W);
      for (int64_t k = 0; k < K; ++k)
        merge_plane(m, m.routes[k], src + ((b * K + k) * channels + c) * L, H, W, acc.data(), k > 0);
      for (int64_t p = 0; p < H * W; ++p) op[p] = static_cast<scalar_t>(acc[p]);
    });
  });
  return out;
}

}  // namespace vmamba_zoo
