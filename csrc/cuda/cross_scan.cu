// Cross-scan / cross-merge on CUDA: two gathers over the index maps built in Python
// (vmamba_zoo/ops/cross_scan/index_maps.py), so one pair of kernels serves every mode.
// Grid: (position blocks, channels, batch); each thread handles one position of one channel of
// one image for all K routes, so no index is recovered by division at run time. The merge sums
// the K routes in the accumulate type (float for half / bfloat16 / float, double for double) and
// stores in the input dtype. Map entries outside the map's range read as padding (zero), so a
// bad map cannot make a kernel read out of bounds.

#include <ATen/ATen.h>
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "ops.h"

namespace vmamba_zoo {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridYZ = 65535;

// out (batch, K, C, L); x (batch, X_C, HW) with X_C = K * C when grouped, else C.
template <typename T>
__global__ void scan_gather_kernel(const T* __restrict__ x, const int32_t* __restrict__ src, T* __restrict__ out,
                                   int K, int64_t L, int64_t HW, bool grouped) {
  const int64_t l = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (l >= L) return;
  const int64_t c = blockIdx.y, C = gridDim.y, b = blockIdx.z;
  for (int k = 0; k < K; ++k) {
    const int32_t pixel = src[k * L + l];
    const int64_t x_row = grouped ? (b * K + k) * C + c : b * C + c;
    out[((b * K + k) * C + c) * L + l] = pixel >= 0 && pixel < HW ? x[x_row * HW + pixel] : T(0);
  }
}

// ys (batch, K, C, L); out (batch, C, HW), or (batch, K * C, HW) when grouped.
template <typename T>
__global__ void merge_gather_kernel(const T* __restrict__ ys, const int32_t* __restrict__ src, T* __restrict__ out,
                                    int K, int64_t L, int64_t HW, bool grouped) {
  using acc_t = at::acc_type<T, true>;
  const int64_t p = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (p >= HW) return;
  const int64_t c = blockIdx.y, C = gridDim.y, b = blockIdx.z;
  acc_t sum = 0;
  for (int k = 0; k < K; ++k) {
    const int32_t pos = src[k * HW + p];
    const T value = pos >= 0 && pos < L ? ys[((b * K + k) * C + c) * L + pos] : T(0);
    if (grouped) {
      out[((b * K + k) * C + c) * HW + p] = value;
    } else {
      sum += static_cast<acc_t>(value);
    }
  }
  if (!grouped) out[(b * C + c) * HW + p] = static_cast<T>(sum);
}

dim3 grid_for(int64_t positions, int64_t channels, int64_t batch, const char* op) {
  TORCH_CHECK(channels <= kMaxGridYZ && batch <= kMaxGridYZ, op, ": at most ", kMaxGridYZ,
              " channels and images per call, got ", channels, " and ", batch);
  const int64_t blocks = (positions + kThreads - 1) / kThreads;
  TORCH_CHECK(blocks <= 0x7fffffff, op, ": too many positions (", positions, ")");
  return dim3(static_cast<unsigned int>(blocks), static_cast<unsigned int>(channels),
              static_cast<unsigned int>(batch));
}

void check_map(const at::Tensor& map, const char* name, const char* op) {
  TORCH_CHECK(map.scalar_type() == at::kInt, op, ": ", name, " must be int32, got ", map.scalar_type());
  TORCH_CHECK(map.dim() == 2, op, ": ", name, " must be 2-D (K, positions), got shape ", map.sizes());
  TORCH_CHECK(map.size(0) >= 1 && map.size(0) <= 64, op, ": ", name, " must have 1 to 64 routes, got ",
              map.size(0));
  TORCH_CHECK(map.is_contiguous(), op, ": ", name, " must be contiguous");
}

void check_data(const at::Tensor& t, const char* name, const char* op) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", name, " must be floating point, got ",
              t.scalar_type());
  TORCH_CHECK(t.dim() == 4, op, ": ", name, " must be 4-D, got shape ", t.sizes());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

void check_devices(const at::Tensor& data, const at::Tensor& map, const char* name, const char* op) {
  TORCH_CHECK(data.is_cuda(), op, ": expects CUDA tensors, got one on ", data.device());
  TORCH_CHECK(map.device() == data.device(), op, ": ", name, " must be on ", data.device(), ", got ", map.device());
}

}  // namespace

at::Tensor cross_scan_gather(const at::Tensor& x, const at::Tensor& scan_src, bool grouped) {
  const char* op = "cross_scan_gather";
  check_data(x, "x (batch, C, H, W)", op);
  check_map(scan_src, "scan_src", op);
  const int64_t batch = x.size(0), channels = x.size(1), HW = x.size(2) * x.size(3);
  const int64_t K = scan_src.size(0), L = scan_src.size(1);
  TORCH_CHECK(!grouped || channels % K == 0, op, ": grouped cross-scan needs channels (", channels,
              ") divisible by the routes (", K, ")");
  TORCH_CHECK(HW <= 0x7fffffff && L <= 0x7fffffff, op, ": maps larger than 2^31 pixels are not supported");
  check_devices(x, scan_src, "scan_src", op);
  const int64_t C = grouped ? channels / K : channels;
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty({batch, K, C, L}, x.options());
  if (out.numel() == 0) return out;
  const dim3 grid = grid_for(L, C, batch, op);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "cross_scan_gather", [&] {
    scan_gather_kernel<scalar_t><<<grid, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), scan_src.data_ptr<int32_t>(), out.data_ptr<scalar_t>(), static_cast<int>(K), L, HW,
        grouped);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor cross_merge_gather(const at::Tensor& ys, const at::Tensor& merge_src, bool grouped) {
  const char* op = "cross_merge_gather";
  check_data(ys, "ys (batch, K, C, L)", op);
  check_map(merge_src, "merge_src", op);
  const int64_t batch = ys.size(0), K = ys.size(1), C = ys.size(2), L = ys.size(3);
  TORCH_CHECK(merge_src.size(0) == K, op, ": merge_src must have one row per route of ys (", K, "), got ",
              merge_src.size(0));
  const int64_t HW = merge_src.size(1);
  TORCH_CHECK(HW <= 0x7fffffff && L <= 0x7fffffff, op, ": maps larger than 2^31 pixels are not supported");
  check_devices(ys, merge_src, "merge_src", op);
  const c10::cuda::CUDAGuard guard(ys.device());
  at::Tensor out = at::empty({batch, grouped ? K * C : C, HW}, ys.options());
  if (out.numel() == 0) return out;
  const dim3 grid = grid_for(HW, C, batch, op);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ys.scalar_type(), "cross_merge_gather", [&] {
    merge_gather_kernel<scalar_t><<<grid, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        ys.data_ptr<scalar_t>(), merge_src.data_ptr<int32_t>(), out.data_ptr<scalar_t>(), static_cast<int>(K), L,
        HW, grouped);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace vmamba_zoo
