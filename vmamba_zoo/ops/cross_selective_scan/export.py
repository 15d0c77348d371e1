"""The cross selective scan in standard tensor ops, the form the exporters trace: the op's chain
(cross-scan, per-route projections, selective scan, cross-merge; see :mod:`.`) built from the
export forms of :mod:`..cross_scan.export` and :mod:`..selective_scan.export`."""

from __future__ import annotations

import torch
from torch import Tensor

from ..cross_scan import export as cross_scan_export
from ..selective_scan import export as selective_scan_export


def fwd(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A: Tensor,
    D: Tensor,
    mode: str,
    delta_softplus: bool,
    scan: selective_scan_export.Scan = selective_scan_export.linear_scan,
) -> Tensor:
    """(batch, H, W, C) -> (batch, H, W, C) in float32 (float64 for float64 inputs); ``scan``
    solves the recurrence (see :mod:`..selective_scan.export`)."""
    batch, H, W, _ = x.shape
    K, _, Dk = x_proj_weight.shape
    R, N = dt_projs_weight.shape[2], A.shape[1]
    xs = cross_scan_export.scan(x.permute(0, 3, 1, 2), mode)  # (batch, K, Dk, L)
    L = xs.shape[-1]
    # per-route projections as one bmm over the K routes with the batch folded into the columns:
    # the weights are not copied per sample (a broadcast matmul would expand them)
    columns = xs.permute(1, 2, 0, 3).reshape(K, Dk, batch * L)
    x_dbl = torch.bmm(x_proj_weight.to(xs.dtype), columns)  # (K, R + 2N, batch * L)
    delta = torch.bmm(dt_projs_weight.to(xs.dtype), x_dbl[:, :R])  # (K, Dk, batch * L)
    B, C = x_dbl[:, R:].reshape(K, 2 * N, batch, L).permute(2, 0, 1, 3).split([N, N], dim=2)
    ys, _ = selective_scan_export.fwd(
        xs.reshape(batch, K * Dk, L), delta.reshape(K * Dk, batch, L).transpose(0, 1), A, B, C,
        D.reshape(-1), dt_projs_bias.reshape(-1), delta_softplus, scan,
    )
    y = cross_scan_export.merge(ys.view(batch, K, Dk, L), H, W, mode)  # (batch, C, H * W)
    return y.transpose(1, 2).reshape(batch, H, W, -1)
