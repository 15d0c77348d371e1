"""The ``"cuda"`` backend of the selective scan: adapters over ``vmamba_zoo._C_cuda``
(csrc/cuda/selective_scan.cu). The kernels compute the scan and its adjoint in the input dtype
(float32 or float64); the D skip term and the batch sums of per-row gradients are done here."""

from __future__ import annotations

from torch import Tensor

from vmamba_zoo import _C_cuda


def fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
        delta_bias: Tensor | None, softplus: bool) -> tuple[Tensor, Tensor]:
    y, last_state = _C_cuda.selective_scan_fwd(u, delta, A, B, C, delta_bias, bool(softplus), False)
    if D is not None:
        y.addcmul_(D[:, None], u)
    return y, last_state


def bwd(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast):
    du, ddelta, dA_rows, dB, dC, dbias_rows = _C_cuda.selective_scan_bwd(
        u, delta, A, B, C, delta_bias, bool(softplus), dy, dlast
    )
    dD = None
    if D is not None:
        du.addcmul_(D[:, None], dy)
        dD = (dy * u).sum((0, 2))
    ddelta_bias = dbias_rows.sum(0) if delta_bias is not None else None
    return du, ddelta, dA_rows.sum(0), dB, dC, dD, ddelta_bias


def states_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, delta_bias: Tensor | None,
               softplus: bool) -> Tensor:
    states, _ = _C_cuda.selective_scan_fwd(u, delta, A, B, None, delta_bias, bool(softplus), True)
    return states


def states_bwd(u, delta, A, B, delta_bias, softplus, dh):
    du, ddelta, dA_rows, dB, _, dbias_rows = _C_cuda.selective_scan_bwd(
        u, delta, A, B, None, delta_bias, bool(softplus), dh, None
    )
    ddelta_bias = dbias_rows.sum(0) if delta_bias is not None else None
    return du, ddelta, dA_rows.sum(0), dB, ddelta_bias
