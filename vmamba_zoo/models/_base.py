"""The parts of timm's model contract that every zoo family implements the same way.

Each family model is a stem, ``self.stages`` (modules with a ``grad_checkpointing`` flag), a final
norm and ``self.head`` (a timm-style head with ``.fc`` and ``.reset``); this mixin supplies the
methods timm, its optimizer factory and its training scripts call on such a model, and the input
check every ``forward_*`` runs at the model boundary.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

TOTAL_STRIDE = 32  # every family downsamples 4x in the stem and 2x in each of three stages


class StagedModelMixin:
    # regex of the final norm's parameters, the last group of group_matcher
    final_norm_pattern = r"^norm"

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)" if coarse else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (self.final_norm_pattern, (99999,)),
            ],
        )

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head.reset(num_classes, global_pool)

    def _check_input(self, x: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name} expects a 4-D (batch, {self.in_chans}, H, W) image tensor, got {shape}")
        _, channels, H, W = x.shape
        if channels != self.in_chans:
            raise ValueError(f"{name} was built for in_chans={self.in_chans}, got {channels} channels")
        if H == 0 or W == 0 or H % TOTAL_STRIDE or W % TOTAL_STRIDE:
            raise ValueError(f"{name} needs H and W divisible by {TOTAL_STRIDE} (and > 0), got {H}x{W}")
