// The compute kernels of the CPU extension, as the entry points see them.
//
// Every kernel is compiled once per instruction-set path, each copy in its own namespace:
// `generic` (portable vector code at the extension's baseline flags: any x86-64, aarch64, ...),
// and on x86-64 with GCC also `avx2` (AVX2 + FMA) and `avx512` (AVX-512 F/DQ/BW/VL); see
// kernels_<path>.cpp. Each path works on vectors of its native register width (16, 32 or 64
// bytes), so a task's block of channels (one vector of them) differs between paths. Each copy exports a KernelTable; dispatch.cpp picks the table of the
// fastest path the running CPU supports. The kernels see raw pointers and sizes only: the entry
// points (selective_scan.cpp, cross_selective_scan.cpp, state_fusion.cpp) check every tensor
// before calling them.
//
// Everything a kernel file needs from outside is included here, before the target pragmas of
// kernels_<path>.cpp: a header first included inside one would compile its inline functions for
// that instruction set, and the linker could then keep that copy for the whole extension.
#pragma once

#include "parallel.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
// The avx2 / avx512 copies are compiled with `#pragma GCC target`.
#define VMAMBA_ZOO_X86_PATHS 1
#else
#define VMAMBA_ZOO_X86_PATHS 0
#endif

namespace vmamba_zoo::cpu {

// Selective scan: see vmamba_zoo/ops/selective_scan/__init__.py for the math and shapes.
template <typename T>
struct ScanArgs {
  const T* u;       // (batch, channels, L)
  const T* delta;   // (batch, channels, L)
  const T* A;       // (channels, N)
  const T* B;       // (batch, groups, N, L)
  const T* C;       // (batch, groups, N, L); null for the all-states scan
  const T* D;       // (channels) or null
  const T* bias;    // (channels) or null
  bool softplus;
  int64_t batch, channels, length, groups, group_channels, state;
  int64_t lanes;  // channels per SIMD vector of the path that runs (Kernels::lanes)

  int64_t blocks_per_group() const { return (group_channels + lanes - 1) / lanes; }
  int64_t tasks() const { return batch * groups * blocks_per_group(); }
  int64_t task_cost() const { return lanes * length * state; }
};

// Gradients of the selective scans.
template <typename T>
struct ScanGrads {
  T* du;          // (batch, channels, L)
  T* ddelta;      // (batch, channels, L)
  T* dA;          // (batch, channels, N): per batch, summed over batch afterwards
  T* dB;          // (batch, G, blocks_per_group, N, L): per channel block, summed afterwards
  T* dC;          // same as dB; null for the states scan
  T* dD;          // (batch, channels) or null
  T* dbias;       // (batch, channels) or null
};

// Fused cross selective scan: see vmamba_zoo/ops/cross_selective_scan/__init__.py.
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
  int64_t lanes;  // channels per task: set by the kernel (one or two SIMD vectors of them)

  int64_t blocks() const { return (dir_channels + lanes - 1) / lanes; }
  int64_t directions_per_task() const { return grouped ? 1 : K; }
  int64_t tasks() const { return batch * (grouped ? K : 1) * blocks(); }
  int64_t task_cost() const { return lanes * directions_per_task() * length * (state + rank); }
};

// Gradients of the fused cross selective scan (cross_selective_scan_backward_kernels.h), with
// blocks = CrossScanArgs::blocks() at one SIMD vector of channels per task.
template <typename T>
struct CrossScanGrads {
  const T* dy;     // (batch, P, C)
  T* dx;           // (batch, P, C), zero on entry: the gradient through the scan's input u
  T* ddelta;       // (K, batch * P, Dk), zero where a route skips a pixel: of dt_weight · x_dbl[:R] (before bias)
  T* dBC;          // (K, blocks, batch * P, 2N), as ddelta: of x_dbl's B and C, per block
  T* dA;           // (batch, K * Dk, N): per batch, summed afterwards
  T* dD;           // (batch, K * Dk)
  T* dbias;        // (batch, K * Dk)
};

// The fused cross selective scan with bfloat16 x and y (raw bit patterns) and float32 x_dbl and
// parameters (cross_selective_scan_bf16_kernels.h).
struct CrossScanBf16Args {
  CrossScanArgs<float> params;  // sizes, route, x_dbl and the parameters; its x and y are unused
  const uint16_t* x;
  uint16_t* y;  // written whole (every pixel of every channel)
};

// LayerNorm over the last dim, float32 or bfloat16 rows in, bfloat16 out (layer_norm_bf16_kernels.h).
struct LayerNormBf16Args {
  const void* x;  // (rows, channels): float32, or bfloat16 bit patterns where x_bf16
  bool x_bf16;
  const float* weight;  // (channels)
  const float* bias;    // (channels)
  uint16_t* y;          // (rows, channels), bfloat16 bit patterns
  int64_t rows, channels;
  float eps;
};

// Spatial-Mamba's state fusion: see vmamba_zoo/ops/state_fusion/__init__.py.
template <typename T>
struct StateFusionArgs {
  const T* h;                             // (batch, channels, H, W)
  const T* weight;                        // (len(dilations), channels, 3, 3)
  const std::vector<int64_t>* dilations;  // each >= 1
  T* out;                                 // (batch, channels, H, W)
  int64_t batch, channels, H, W;
};

template <typename T>
struct Kernels {
  int lanes;  // T elements per SIMD vector: the path's native register width (simd.h)
  void (*scan_fwd)(const ScanArgs<T>&, T* y, T* last_state);
  void (*scan_bwd)(const ScanArgs<T>&, const T* dy, const T* dlast, const ScanGrads<T>&);
  void (*scan_states_fwd)(const ScanArgs<T>&, T* states);
  void (*scan_states_bwd)(const ScanArgs<T>&, const T* dh, const ScanGrads<T>&);
  void (*cross_selective_scan_fwd)(const CrossScanArgs<T>&);
  void (*cross_selective_scan_bwd)(const CrossScanArgs<T>&, const CrossScanGrads<T>&);
  void (*state_fusion_fwd)(const StateFusionArgs<T>&);
  // dout and dh (batch, channels, H, W); dweight (batch, len(dilations), channels, 9), per batch
  void (*state_fusion_bwd)(const StateFusionArgs<T>&, const T* dout, T* dh, T* dweight);
};

struct KernelTable {
  Kernels<float> f32;
  Kernels<double> f64;
  void (*cross_selective_scan_fwd_bf16)(const CrossScanBf16Args&);
  void (*layer_norm_bf16)(const LayerNormBf16Args&);

  template <typename T>
  const Kernels<T>& get() const {
    if constexpr (sizeof(T) == 4)
      return f32;
    else
      return f64;
  }
};

namespace generic {
extern const KernelTable table;
}
#if VMAMBA_ZOO_X86_PATHS
namespace avx2 {
extern const KernelTable table;
}
namespace avx512 {
extern const KernelTable table;
}
#endif

// The table of the active path (dispatch.cpp).
const KernelTable& kernels();

}  // namespace vmamba_zoo::cpu
