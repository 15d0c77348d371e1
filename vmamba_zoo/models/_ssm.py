"""The selective-scan branch shared by every SS2D-style block of the zoo.

All five families store the same five tensors directly on their SS2D module (checkpoint keys
``x_proj_weight``, ``dt_projs_weight``, ``dt_projs_bias``, ``A_logs``, ``Ds``) for K scan
directions of ``d_inner`` channels; four of them run the same computation on them: cross-scan,
per direction a low-rank Δ / B / C projection of the sequence, one grouped selective scan (group
k = direction k), cross-merge (the op :func:`~vmamba_zoo.ops.cross_selective_scan`).
Spatial-Mamba keeps one direction without the direction axis and runs its own scan. This module
holds that parameter set once; the families differ in the scan mode and what surrounds it.
"""

# annotations are evaluated here (no `from __future__ import annotations`): TorchScript reads
# the real types of the torch.jit.ignore methods' signatures
import math
from collections.abc import Sequence

import torch
import torch.fx
from torch import Tensor, nn

from ..ops import cross_selective_scan



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
    (``<block>.op.x_proj_weight`` ...). Shapes: ``x_proj_weight`` (K, R + 2N, D),
    ``dt_projs_weight`` (K, D, R), ``dt_projs_bias`` (K, D), ``A_logs`` (K·D, N), ``Ds`` (K·D);
    ``direction_axis=False`` (one direction only) drops the leading K of the first three, as
    Spatial-Mamba stores them; :meth:`scan_map` needs the direction axis.
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
        direction_axis: bool = True,
    ) -> None:
        super().__init__()
        if not direction_axis and num_directions != 1:
            raise ValueError(f"direction_axis=False holds one direction, got num_directions={num_directions}")
        K, D, R, N = num_directions, d_inner, dt_rank, d_state
        self.num_directions, self.d_inner, self.dt_rank, self.d_state = K, D, R, N
        self.dt_init = (dt_min, dt_max, dt_init_floor)
        lead = (K,) if direction_axis else ()
        self.x_proj_weight = nn.Parameter(torch.empty(*lead, R + 2 * N, D))
        self.dt_projs_weight = nn.Parameter(torch.empty(*lead, D, R))
        self.dt_projs_bias = nn.Parameter(torch.empty(*lead, D))
        self.A_logs = nn.Parameter(torch.empty(K * D, N))
        self.Ds = nn.Parameter(torch.empty(K * D))
        self.A_logs._no_weight_decay = True
        self.Ds._no_weight_decay = True
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Mamba's initialisation of the scan parameters (also after ``to_empty``)."""
        K, D, R, N = self.num_directions, self.d_inner, self.dt_rank, self.d_state
        # K independent nn.Linear(D, R + 2N, bias=False) default inits, stacked
        bound = 1 / math.sqrt(D)
        self.x_proj_weight.uniform_(-bound, bound)
        # Mamba's Δ projection: weight U(±R^-0.5), bias the inverse softplus of a log-uniform Δ
        self.dt_projs_weight.uniform_(-(R**-0.5), R**-0.5)
        dt_bias = torch.stack([_dt_bias(D, *self.dt_init) for _ in range(K)])
        self.dt_projs_bias.copy_(dt_bias.view_as(self.dt_projs_bias))
        # A = -exp(A_logs) = -(1..N) for every channel, the S4D-real init
        self.A_logs.copy_(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(K * D, 1))
        self.Ds.fill_(1.0)

    @torch.jit.ignore  # TorchScript calls the op's Python boundary (checks, backend choice)
    def scan_map(self, x: Tensor, mode: str) -> Tensor:
        """(batch, H, W, C) channel-last map -> (batch, H, W, C) in float32: the cross-scan
        routes of ``mode``, route k scanned with this module's direction-k parameters, merged
        back (:func:`~vmamba_zoo.ops.cross_selective_scan`)."""
        return _cross_selective_scan([self], x, mode)


@torch.jit.ignore
def scan_op(
    x: Tensor, x_proj_weight: Tensor, dt_projs_weight: Tensor, dt_projs_bias: Tensor, A: Tensor, D: Tensor, mode: str
) -> Tensor:
    """:func:`~vmamba_zoo.ops.cross_selective_scan` with Δ softplus as one call: symbolic tracing
    (torch.fx) records it instead of tracing the op's boundary checks, and TorchScript (of a model or
    of its traced graph) calls it in Python."""
    return cross_selective_scan(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D, mode, delta_softplus=True)


torch.fx.wrap("scan_op")


def _cross_selective_scan(modules: Sequence[SelectiveScanParams], x: Tensor, mode: str) -> Tensor:
    """cross_selective_scan with the parameters of ``modules`` concatenated direction-wise."""
    def cat(name: str) -> Tensor:
        tensors = [getattr(m, name) for m in modules]
        return tensors[0] if len(tensors) == 1 else torch.cat(tensors)

    return scan_op(
        x,
        cat("x_proj_weight"),
        cat("dt_projs_weight"),
        cat("dt_projs_bias"),
        -torch.exp(cat("A_logs").float()),
        cat("Ds").float(),
        mode,
    )


def scan_stacked(modules: Sequence[SelectiveScanParams], x: Tensor, mode: str) -> Tensor:
    """:meth:`SelectiveScanParams.scan_map` of several modules as ONE grouped op (GroupMamba's
    per-group SS2Ds): module m owns the directions that follow module m-1's, so with a grouped
    ``mode`` every channel group computes exactly what its own module's scan would."""
    first = modules[0]
    shape = (first.d_inner, first.dt_rank, first.d_state)
    if any((m.d_inner, m.dt_rank, m.d_state) != shape for m in modules):
        raise ValueError("scan_stacked needs modules with equal d_inner, dt_rank and d_state")
    return _cross_selective_scan(modules, x, mode)
