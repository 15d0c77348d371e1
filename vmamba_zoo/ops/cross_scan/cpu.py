"""The ``"cpu"`` backend of cross-scan / cross-merge: the C++ kernels of ``vmamba_zoo._C``
(OpenMP over batch x channel planes, tiled transposes for the column-major routes). Any floating
dtype is kept; cross2d's merge of bf16/fp16 sums the routes in float32 and rounds once."""

from __future__ import annotations

from torch import Tensor

from ... import _C


def scan(x: Tensor, mode: str) -> Tensor:
    return _C.cross_scan(x, mode)


def merge(ys: Tensor, H: int, W: int, mode: str) -> Tensor:
    return _C.cross_merge(ys, int(H), int(W), mode)
