"""The scan orders ("modes") of ``cross_scan`` / ``cross_merge``, as index maps.

A mode turns a (batch, C, H, W) map into K sequences. Every mode here is described by one
integer map ``route`` of shape (K, L): sequence k at position l reads pixel ``route[k, l]`` of
the row-major flattened (and, for ``atrous2``, zero-padded to even size) map. Grouped modes
give channel group k (C/K contiguous channels) only its own sequence k.

| mode | K | L | order |
|---|---|---|---|
| ``cross2d`` | 4 | H*W | VMamba: row-major, column-major, both reversed |
| ``cross2d_grouped`` | 4 | H*W | GroupMamba: channel group k scanned along route k of ``cross2d`` |
| ``atrous2`` | 4 | ceil(H/2)*ceil(W/2) | EfficientVMamba's step-2 skip sampling of the four sub-grids |
| ``row``, ``col``, ``row_flip``, ``col_flip`` | 1 | H*W | one ``cross2d`` route alone |

``cross_merge`` of each mode is the exact adjoint of its ``cross_scan``: every sequence element
is added back to the pixel it came from (padding is cropped away).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

_SINGLE_ROUTES = {"row": 0, "col": 1, "row_flip": 2, "col_flip": 3}
MODES = ("cross2d", "cross2d_grouped", "atrous2", *_SINGLE_ROUTES)


@dataclass(frozen=True)
class ScanGeometry:
    K: int
    length: int  # L of every sequence
    padded_hw: tuple[int, int]  # the (H, W) the routes index into (row-major)
    grouped: bool  # channel group k only gets sequence k


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown cross-scan mode {mode!r}; choose one of {MODES}")


def geometry(mode: str, H: int, W: int) -> ScanGeometry:
    check_mode(mode)
    if mode == "atrous2":
        hp, wp = H + H % 2, W + W % 2
        return ScanGeometry(4, (hp // 2) * (wp // 2), (hp, wp), False)
    if mode in _SINGLE_ROUTES:
        return ScanGeometry(1, H * W, (H, W), False)
    return ScanGeometry(4, H * W, (H, W), mode == "cross2d_grouped")


def _cross2d_routes(H: int, W: int) -> torch.Tensor:
    row_major = torch.arange(H * W)
    col_major = row_major.view(H, W).t().reshape(-1)
    return torch.stack([row_major, col_major, row_major.flip(0), col_major.flip(0)])


def _atrous2_routes(H: int, W: int) -> torch.Tensor:
    hp, wp = H + H % 2, W + W % 2
    grid = torch.arange(hp * wp).view(hp, wp)
    return torch.stack(
        [
            grid[0::2, 0::2].reshape(-1),  # (2i, 2j), row-major over (i, j)
            grid[1::2, 0::2].t().reshape(-1),  # (2i+1, 2j), column-major
            grid[0::2, 1::2].reshape(-1),  # (2i, 2j+1), row-major
            grid[1::2, 1::2].t().reshape(-1),  # (2i+1, 2j+1), column-major
        ]
    )


@functools.lru_cache(maxsize=256)
def _routes_cpu(mode: str, H: int, W: int) -> torch.Tensor:
    if mode == "atrous2":
        return _atrous2_routes(H, W)
    routes = _cross2d_routes(H, W)
    if mode in _SINGLE_ROUTES:
        return routes[_SINGLE_ROUTES[mode]].unsqueeze(0).contiguous()
    return routes


@functools.lru_cache(maxsize=256)
def routes(mode: str, H: int, W: int, device: torch.device) -> torch.Tensor:
    """(K, L) int64 map: sequence k, position l reads flattened (padded) pixel routes[k, l]."""
    return _routes_cpu(mode, H, W).to(device)
