"""The ``"cuda"`` backend of cross-scan / cross-merge: the two gathers of
``vmamba_zoo._C_cuda`` (csrc/cuda/cross_scan.cu) over the index maps of :mod:`.index_maps`."""

from __future__ import annotations

from torch import Tensor

from vmamba_zoo import _C_cuda

from .index_maps import merge_sources, scan_sources
from .modes import geometry


def scan(x: Tensor, mode: str) -> Tensor:
    H, W = x.shape[2:]
    return _C_cuda.cross_scan_gather(x, scan_sources(mode, H, W, x.device), geometry(mode, H, W).grouped)


def merge(ys: Tensor, H: int, W: int, mode: str) -> Tensor:
    return _C_cuda.cross_merge_gather(ys, merge_sources(mode, H, W, ys.device), geometry(mode, H, W).grouped)
