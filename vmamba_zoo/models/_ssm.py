"""The selective-scan branch shared by every SS2D-style block of the zoo.

All five families store the same five tensors directly on their SS2D module (checkpoint keys
``x_proj_weight``, ``dt_projs_weight``, ``dt_projs_bias``, ``A_logs``, ``Ds``) for K scan
directions of ``d_inner`` channels, and run the same computation on the K sequences that a
cross-scan produced: per direction, a low-rank Δ / B / C projection of the sequence, then one
grouped selective scan (group k = direction k). This module holds that parameter set and that
computation once; the families differ only in how they scan / merge and what surrounds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..ops import selective_scan


def dt_rank_for(d_model: int) -> int:
    """The Δ projection rank every family uses: ceil(d_model / 16)."""
    return math.ceil(d_model / 16)


def _dt_bias(d_inner: int, dt_min: float, dt_max: float, dt_floor: float) -> Tensor:
    """Inverse softplus of a log-uniform step size in [dt_min, dt_max] (Mamba's Δ init)."""
    dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=dt_floor)
    return dt + torch.log(-torch.expm1(-dt))


class SelectiveScanParams(nn.Module):
    """Base of an SS2D-style module: owns the scan parameters of K directions.

    Subclasses call ``super().__init__(...)`` and then add their projections/convs; the
    parameters land directly on the subclass, so state-dict keys match the originals
    (``<block>.op.x_proj_weight`` ...).
    """

    def __init__(
        self,
        num_directions: int,
        d_inner: int,
        dt_rank: int,
        d_state: int,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
    ) -> None:
        super().__init__()
        K, D, R, N = num_directions, d_inner, dt_rank, d_state
        self.num_directions, self.d_inner, self.dt_rank, self.d_state = K, D, R, N
        # K independent nn.Linear(D, R + 2N, bias=False) default inits, stacked
        bound = 1 / math.sqrt(D)
        self.x_proj_weight = nn.Parameter(torch.empty(K, R + 2 * N, D).uniform_(-bound, bound))
        self.dt_projs_weight = nn.Parameter(torch.empty(K, D, R).uniform_(-(R**-0.5), R**-0.5))
        self.dt_projs_bias = nn.Parameter(
            torch.stack([_dt_bias(D, dt_min, dt_max, dt_init_floor) for _ in range(K)])
        )
        # A = -exp(A_logs) = -(1..N) for every channel, the S4D-real init
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(K * D, 1))
        self.Ds = nn.Parameter(torch.ones(K * D))
        self.A_logs._no_weight_decay = True
        self.Ds._no_weight_decay = True

    def scan_sequences(self, xs: Tensor) -> Tensor:
        """(batch, K, d_inner, L) sequences -> (batch, K, d_inner, L) scan outputs in float32.

        Direction k uses its own Δ/B/C projection, A, D and Δ bias (one scan group per direction).
        """
        _, K, D, _ = xs.shape
        if K != self.num_directions or D != self.d_inner:
            raise ValueError(
                f"expected sequences of shape (batch, {self.num_directions}, {self.d_inner}, L), "
                f"got {tuple(xs.shape)}"
            )
        return _scan_directions(
            xs, self.x_proj_weight, self.dt_projs_weight, self.dt_projs_bias, self.A_logs, self.Ds
        )


def _per_sample(weight: Tensor, batch: int, dtype: torch.dtype) -> Tensor:
    """(K, out, in) per-direction weights repeated for every sample: (batch * K, out, in)."""
    K, rows, cols = weight.shape
    return weight.to(dtype).unsqueeze(0).expand(batch, K, rows, cols).reshape(batch * K, rows, cols)


def _scan_directions(
    xs: Tensor, x_proj_weight: Tensor, dt_projs_weight: Tensor, dt_projs_bias: Tensor, A_logs: Tensor, Ds: Tensor
) -> Tensor:
    """The computation of :meth:`SelectiveScanParams.scan_sequences` on explicit parameters."""
    batch, K, D, L = xs.shape
    R, N = dt_projs_weight.shape[2], A_logs.shape[1]
    # Per-direction projections as one bmm over (batch * K): unlike einsum (which copies xs
    # twice into a K-major layout, measured 2-3x slower on CPU) it reads xs in place, and
    # fvcore counts bmm exactly.
    x_dbl = torch.bmm(_per_sample(x_proj_weight, batch, xs.dtype), xs.reshape(batch * K, D, L))
    dts = torch.bmm(_per_sample(dt_projs_weight, batch, xs.dtype), x_dbl[:, :R])
    B, C = x_dbl[:, R:].view(batch, K, 2 * N, L).split([N, N], dim=2)
    ys = selective_scan(
        xs.reshape(batch, K * D, L),
        dts.view(batch, K * D, L),
        -torch.exp(A_logs.float()),
        B,
        C,
        Ds.float(),
        dt_projs_bias.float().reshape(-1),
        delta_softplus=True,
    )
    return ys.view(batch, K, D, L)


def scan_stacked(modules: Sequence[SelectiveScanParams], xs: Tensor) -> Tensor:
    """``scan_sequences`` of several modules as ONE grouped scan (GroupMamba's per-group SS2Ds).

    ``xs`` is (batch, sum of the modules' K, d_inner, L): module m owns the directions that
    follow module m-1's. The modules' parameters are concatenated in that order, so every
    direction computes exactly what its own module's ``scan_sequences`` would.
    """
    first = modules[0]
    shape = (first.d_inner, first.dt_rank, first.d_state)
    if any((m.d_inner, m.dt_rank, m.d_state) != shape for m in modules):
        raise ValueError("scan_stacked needs modules with equal d_inner, dt_rank and d_state")
    K = sum(m.num_directions for m in modules)
    if xs.dim() != 4 or xs.shape[1] != K or xs.shape[2] != first.d_inner:
        raise ValueError(f"expected sequences of shape (batch, {K}, {first.d_inner}, L), got {tuple(xs.shape)}")
    return _scan_directions(
        xs,
        torch.cat([m.x_proj_weight for m in modules]),
        torch.cat([m.dt_projs_weight for m in modules]),
        torch.cat([m.dt_projs_bias for m in modules]),
        torch.cat([m.A_logs for m in modules]),
        torch.cat([m.Ds for m in modules]),
    )
