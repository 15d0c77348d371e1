"""The ``"torch"`` backend of cross-scan / cross-merge: a gather and its adjoint scatter-add
over the index maps of :mod:`.modes`, one code path for every mode."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .modes import geometry, routes


def scan(x: Tensor, mode: str) -> Tensor:
    batch, channels, H, W = x.shape
    geo = geometry(mode, H, W)
    hp, wp = geo.padded_hw
    if (hp, wp) != (H, W):
        x = F.pad(x, (0, wp - W, 0, hp - H))
    flat = x.reshape(batch, channels, hp * wp)
    if geo.grouped:
        flat = flat.view(batch, geo.K, channels // geo.K, hp * wp)
    else:
        flat = flat.unsqueeze(1).expand(batch, geo.K, channels, hp * wp)
    index = routes(mode, H, W, x.device)[None, :, None, :].expand(*flat.shape[:3], geo.length)
    return flat.gather(3, index)


def merge(ys: Tensor, H: int, W: int, mode: str) -> Tensor:
    batch, K, channels, _ = ys.shape
    geo = geometry(mode, H, W)
    hp, wp = geo.padded_hw
    index = routes(mode, H, W, ys.device)[None, :, None, :].expand_as(ys)
    per_route = ys.new_zeros(batch, K, channels, hp * wp).scatter_add_(3, index, ys)
    if geo.grouped:
        out = per_route.reshape(batch, K * channels, hp * wp)
    else:
        out = per_route.sum(1)
    if (hp, wp) != (H, W):
        out = out.view(batch, -1, hp, wp)[:, :, :H, :W].reshape(batch, -1, H * W)
    return out
