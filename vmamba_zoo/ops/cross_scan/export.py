"""Cross-scan / cross-merge in shape-generic tensor ops, the form the exporters trace.

The same orders as :mod:`.modes` (and the same numbers as the reference: pure data movement),
written with flatten / transpose / flip / strided slices instead of gathers over an index map,
so that the traced graph has no (K, L) constant and no size baked in: it works for a symbolic
H and W (a dynamic-size export) and maps onto plain Reshape / Transpose / Slice nodes in ONNX.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .modes import check_mode

_SINGLE_ROUTES = ("row", "col", "row_flip", "col_flip")


def _route(grid: Tensor, k: int) -> Tensor:
    """Route k of ``cross2d`` over the last two axes of ``grid``: row-major, column-major, and
    both reversed (k = 0..3)."""
    seq = (grid if k % 2 == 0 else grid.transpose(-1, -2)).flatten(-2)
    return seq.flip(-1) if k >= 2 else seq


def _unroute(seq: Tensor, k: int, H, W) -> Tensor:
    """The adjoint of :func:`_route`: sequence k back to a row-major (..., H * W) map."""
    if k >= 2:
        seq = seq.flip(-1)
    if k % 2 == 1:
        seq = seq.unflatten(-1, (W, H)).transpose(-1, -2).flatten(-2)
    return seq


def _atrous_grids(x: Tensor) -> list[Tensor]:
    """The four step-2 sub-grids of ``x`` zero-padded to even size, in ``atrous2``'s route order
    ((0, 0), (1, 0), (0, 1), (1, 1) offsets; the odd-row grids read column-major)."""
    H, W = x.shape[-2:]
    x = F.pad(x, (0, W % 2, 0, H % 2))
    return [x[..., 0::2, 0::2], x[..., 1::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 1::2]]


def scan(x: Tensor, mode: str) -> Tensor:
    """(batch, C, H, W) -> (batch, K, C', L), as :func:`vmamba_zoo.ops.cross_scan`."""
    check_mode(mode)
    batch, channels = x.shape[:2]
    if mode == "cross2d":
        return torch.stack([_route(x, k) for k in range(4)], dim=1)
    if mode == "cross2d_grouped":
        groups = x.unflatten(1, (4, channels // 4))
        return torch.stack([_route(groups[:, k], k) for k in range(4)], dim=1)
    if mode == "atrous2":
        grids = _atrous_grids(x)
        return torch.stack([_route(grid, 0 if k % 2 == 0 else 1) for k, grid in enumerate(grids)], dim=1)
    return _route(x, _SINGLE_ROUTES.index(mode)).unsqueeze(1)


def merge(ys: Tensor, H, W, mode: str) -> Tensor:
    """(batch, K, C', L) -> (batch, C, H * W), as :func:`vmamba_zoo.ops.cross_merge`."""
    check_mode(mode)
    if mode == "cross2d":
        return sum(_unroute(ys[:, k], k, H, W) for k in range(4))
    if mode == "cross2d_grouped":
        return torch.cat([_unroute(ys[:, k], k, H, W) for k in range(4)], dim=1)
    if mode == "atrous2":
        h2, w2 = (H + 1) // 2, (W + 1) // 2
        g00, g10, g01, g11 = (
            _unroute(ys[:, k], 0 if k % 2 == 0 else 1, h2, w2).unflatten(-1, (h2, w2)) for k in range(4)
        )
        # interleave the sub-grids back: (..., h2, 2, w2, 2) -> (..., 2 h2, 2 w2), crop the padding
        even_rows, odd_rows = torch.stack([g00, g01], dim=-1), torch.stack([g10, g11], dim=-1)
        full = torch.stack([even_rows, odd_rows], dim=-3).flatten(-4, -3).flatten(-2)
        return full[..., :H, :W].flatten(-2)
    return _unroute(ys[:, 0], _SINGLE_ROUTES.index(mode), H, W)
