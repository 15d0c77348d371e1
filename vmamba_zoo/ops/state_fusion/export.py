"""Spatial-Mamba's state fusion in standard tensor ops, the form the exporters trace: the sum of
dilated depthwise convolutions of replicate-padded maps (see :mod:`.`), which ONNX expresses as
edge-mode Pad and grouped Conv."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor


def fwd(h: Tensor, weight: Tensor, dilations: Sequence[int]) -> Tensor:
    """(batch, C, H, W) -> the fused map, same shape and dtype."""
    out = None
    for w, d in zip(weight, dilations):
        term = F.conv2d(F.pad(h, (d,) * 4, mode="replicate"), w.unsqueeze(1).to(h.dtype), dilation=d, groups=h.shape[1])
        out = term if out is None else out + term
    return out
