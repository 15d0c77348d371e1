// Cross-scan / cross-merge on CUDA: two gathers over the index maps built in Python
// (vmamba_zoo/ops/cross_scan/index_maps.py), so one pair of kernels serves every mode.
// One thread per output element; the merge sums the K routes in the accumulate type
// (float for half / bfloat16 / float, double for double) and stores in the input dtype.

#include <ATen/ATen.h>
#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "ops.h"

namespace vmamba_zoo {
namespace {

constexpr int kThreads = 256;

// out (batch, K, C, L); x (batch, X_C, HW) with X_C = K * C when grouped, else C.
template <typename T>
__global__ void scan_gather_kernel(const T* __restrict__ x, const int32_t* __restrict__ src, T* __restrict__ out,
                                   int64_t total, int64_t K, int64_t C, int64_t L, int64_t HW, bool grouped) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t l = i % L;
    const int64_t c = (i / L) % C;
    const int64_t k = (i / (L * C)) % K;
    const int64_t b = i / (L * C * K);
    const int32_t pixel = src[k * L + l];
    const int64_t x_channels = grouped ? K * C : C;
    const int64_t x_channel = grouped ? k * C + c : c;
    out[i] = pixel >= 0 ? x[(b * x_channels + x_channel) * HW + pixel] : T(0);
  }
}

// ys (batch, K, C, L); out (batch, C, HW), or (batch, K * C, HW) when grouped.
template <typename T>
__global__ void merge_gather_kernel(const T* __restrict__ ys, const int32_t* __restrict__ src, T* __restrict__ out,
                                    int64_t total, int64_t K, int64_t C, int64_t L, int64_t HW, bool grouped) {
  using acc_t = at::acc_type<T, true>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = i % HW;
    if (grouped) {
      const int64_t channel = (i / HW) % (K * C);
      const int64_t b = i / (HW * K * C);
      const int64_t k = channel / C;
      const int64_t c = channel % C;
      const int32_t pos = src[k * HW + p];
      out[i] = pos >= 0 ? ys[((b * K + k) * C + c) * L + pos] : T(0);
    } else {
      const int64_t c = (i / HW) % C;
      const int64_t b = i / (HW * C);
      acc_t sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const int32_t pos = src[k * HW + p];
        if (pos >= 0) sum += static_cast<acc_t>(ys[((b * K + k) * C + c) * L + pos]);
      }
      out[i] = static_cast<T>(sum);
    }
  }
}

unsigned int grid_for(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

void check_map(const at::Tensor& map, const at::Tensor& data, const char* name) {
  TORCH_CHECK(map.is_cuda() && map.device() == data.device(), name, " must be on ", data.device());
  TORCH_CHECK(map.scalar_type() == at::kInt && map.dim() == 2 && map.is_contiguous(), name,
              " must be a contiguous 2-D int32 tensor");
}

}  // namespace

at::Tensor cross_scan_gather(const at::Tensor& x, const at::Tensor& scan_src, bool grouped) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 4 && x.is_contiguous(), "x must be a contiguous 4-D CUDA tensor");
  check_map(scan_src, x, "scan_src");
  const int64_t batch = x.size(0), channels = x.size(1), HW = x.size(2) * x.size(3);
  const int64_t K = scan_src.size(0), L = scan_src.size(1);
  TORCH_CHECK(!grouped || channels % K == 0, "grouped cross-scan needs channels divisible by ", K);
  const int64_t C = grouped ? channels / K : channels;
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty({batch, K, C, L}, x.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "cross_scan_gather", [&] {
    scan_gather_kernel<scalar_t><<<grid_for(total), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), scan_src.data_ptr<int32_t>(), out.data_ptr<scalar_t>(), total, K, C, L, HW, grouped);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor cross_merge_gather(const at::Tensor& ys, const at::Tensor& merge_src, bool grouped) {
  TORCH_CHECK(ys.is_cuda() && ys.dim() == 4 && ys.is_contiguous(), "ys must be a contiguous 4-D CUDA tensor");
  check_map(merge_src, ys, "merge_src");
  const int64_t batch = ys.size(0), K = ys.size(1), C = ys.size(2), L = ys.size(3);
  TORCH_CHECK(merge_src.size(0) == K, "merge_src must have one row per sequence (", K, "), got ",
              merge_src.size(0));
  const int64_t HW = merge_src.size(1);
  const c10::cuda::CUDAGuard guard(ys.device());
  at::Tensor out = at::empty({batch, grouped ? K * C : C, HW}, ys.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ys.scalar_type(), "cross_merge_gather", [&] {
    merge_gather_kernel<scalar_t><<<grid_for(total), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        ys.data_ptr<scalar_t>(), merge_src.data_ptr<int32_t>(), out.data_ptr<scalar_t>(), total, K, C, L, HW,
        grouped);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace vmamba_zoo
