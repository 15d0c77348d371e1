"""The ``"cuda"`` backend of the selective scan: adapters over ``vmamba_zoo._C_cuda``
(csrc/cuda/selective_scan.cu). The kernels compute the scan and its adjoint in the input dtype
(float32 or float64, every input converted by the op); the batch sums of per-row gradients are
done here. dB and dC are accumulated with atomic adds, or, under
``torch.use_deterministic_algorithms(True)``, per channel and summed over each group here."""

from __future__ import annotations

import torch
from torch import Tensor

from vmamba_zoo import _C_cuda


def fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
        delta_bias: Tensor | None, softplus: bool) -> tuple[Tensor, Tensor]:
    return _C_cuda.selective_scan_fwd(u, delta, A, B, C, D, delta_bias, bool(softplus), False)


def _group_sum(per_channel: Tensor, groups: int) -> Tensor:
    batch, channels, N, L = per_channel.shape
    return per_channel.view(batch, groups, channels // groups, N, L).sum(2)


def _grads(u, delta, A, B, C, D, delta_bias, softplus, grad, dlast):
    deterministic = torch.are_deterministic_algorithms_enabled()
    du, ddelta, dA_rows, dB, dC, dD_rows, dbias_rows = _C_cuda.selective_scan_bwd(
        u, delta, A, B, C, D, delta_bias, bool(softplus), grad, dlast, deterministic
    )
    if deterministic:
        dB = _group_sum(dB, B.shape[1])
        dC = _group_sum(dC, B.shape[1]) if C is not None else dC
    dD = dD_rows.sum(0) if D is not None else None
    ddelta_bias = dbias_rows.sum(0) if delta_bias is not None else None
    return du, ddelta, dA_rows.sum(0), dB, dC, dD, ddelta_bias


def bwd(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast):
    return _grads(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast)


def states_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, delta_bias: Tensor | None,
               softplus: bool) -> Tensor:
    states, _ = _C_cuda.selective_scan_fwd(u, delta, A, B, None, None, delta_bias, bool(softplus), True)
    return states


def states_bwd(u, delta, A, B, delta_bias, softplus, dh):
    du, ddelta, dA, dB, _, _, ddelta_bias = _grads(u, delta, A, B, None, None, delta_bias, softplus, dh, None)
    return du, ddelta, dA, dB, ddelta_bias
