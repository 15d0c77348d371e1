// Host entry points of vmamba_zoo._C_cuda (bound in bindings.cpp). Each checks its arguments
// itself (shapes, dtypes, divisibility, layout, device, in that order) before launching anything,
// whatever the Python wrapper checked, so a direct call with bad tensors raises instead of
// reading out of bounds.
#pragma once

#include <optional>
#include <tuple>

#include <ATen/ATen.h>

namespace vmamba_zoo {

// Forward scan. Returns (out, last_state): out is y including the D term (C given) or every hidden
// state (batch, channels, N, L) when store_states; last_state is (batch, channels, N).
std::tuple<at::Tensor, at::Tensor> selective_scan_fwd(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
    const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& D,
    const std::optional<at::Tensor>& delta_bias, bool softplus, bool store_states);

// Adjoint scan. grad is dy (batch, channels, L) when C is given, else dh (batch, channels, N, L).
// Returns (du, ddelta, dA per row (batch, channels, N), dB, dC or empty, dD per row (batch,
// channels) or empty, d(delta_bias) per row or empty); the caller sums the per-row terms. With
// deterministic, dB / dC are per channel (batch, channels, N, L), written without atomics, and the
// caller sums them over each group's channels.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> selective_scan_bwd(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
    const std::optional<at::Tensor>& C, const std::optional<at::Tensor>& D,
    const std::optional<at::Tensor>& delta_bias, bool softplus, const at::Tensor& grad,
    const std::optional<at::Tensor>& dlast, bool deterministic);

// out[b, k, c, l] = x[b, channel(k, c), scan_src[k, l]] (0 where scan_src is -1).
at::Tensor cross_scan_gather(const at::Tensor& x, const at::Tensor& scan_src, bool grouped);

// out[b, c, p] = sum_k ys[b, k, c, merge_src[k, p]] (grouped: out[b, k * C + c, p], no sum).
at::Tensor cross_merge_gather(const at::Tensor& ys, const at::Tensor& merge_src, bool grouped);

}  // namespace vmamba_zoo
