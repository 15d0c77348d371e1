"""Gather index maps of every cross-scan mode, for the compiled backends.

Derived from :func:`.modes.routes` (the single description of each mode's order), so the
``triton`` and ``cuda`` kernels need no per-mode code: scanning gathers pixels by
:func:`scan_sources`, merging gathers sequence positions by :func:`merge_sources` (each route
visits a pixel at most once, so the merge is a gather plus a sum over K, with no atomics).
"""

from __future__ import annotations

import functools

import torch

from .modes import geometry, routes


@functools.lru_cache(maxsize=256)
def _maps_cpu(mode: str, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
    geo = geometry(mode, H, W)
    hp, wp = geo.padded_hw
    route = routes(mode, H, W, torch.device("cpu"))  # (K, L) indices into the padded map
    row, col = route // wp, route % wp
    inside = (row < H) & (col < W)
    scan_src = torch.where(inside, row * W + col, -1)
    merge_src = torch.full((geo.K, H * W), -1, dtype=torch.int64)
    positions = torch.arange(geo.length).expand(geo.K, -1)
    merge_src[inside.nonzero(as_tuple=True)[0], scan_src[inside]] = positions[inside]
    return scan_src.to(torch.int32).contiguous(), merge_src.to(torch.int32).contiguous()


@functools.lru_cache(maxsize=256)
def scan_sources(mode: str, H: int, W: int, device: torch.device) -> torch.Tensor:
    """(K, L) int32: sequence k, position l reads pixel ``h * W + w`` of the map, or -1 (zero padding)."""
    return _maps_cpu(mode, H, W)[0].to(device)


@functools.lru_cache(maxsize=256)
def merge_sources(mode: str, H: int, W: int, device: torch.device) -> torch.Tensor:
    """(K, H*W) int32: pixel p receives position ``merge_sources[k, p]`` of sequence k, or nothing (-1)."""
    return _maps_cpu(mode, H, W)[1].to(device)
