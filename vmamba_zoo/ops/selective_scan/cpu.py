"""The ``"cpu"`` backend of the selective scan: the C++ kernels of ``vmamba_zoo._C`` (OpenMP over
batch x channel blocks, channels of a group in SIMD lanes, adjoint-scan backward that recomputes
states chunk by chunk). Same functions and return conventions as :mod:`.reference`; inputs arrive
contiguous, in float32 or float64, already checked by the op."""

from __future__ import annotations

from torch import Tensor

from ... import _C


def fwd(u, delta, A, B, C, D, delta_bias, softplus) -> tuple[Tensor, Tensor]:
    y, last_state = _C.selective_scan_fwd(u, delta, A, B, C, D, delta_bias, bool(softplus))
    return y, last_state


def bwd(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast):
    return tuple(_C.selective_scan_bwd(u, delta, A, B, C, D, delta_bias, bool(softplus), dy, dlast))


def states_fwd(u, delta, A, B, delta_bias, softplus) -> Tensor:
    return _C.selective_scan_states_fwd(u, delta, A, B, delta_bias, bool(softplus))


def states_bwd(u, delta, A, B, delta_bias, softplus, dh):
    return tuple(_C.selective_scan_states_bwd(u, delta, A, B, delta_bias, bool(softplus), dh))
