"""The parts of timm's model contract that every zoo family implements the same way.

Each family model is a stem, ``self.stages`` (modules with a ``grad_checkpointing`` flag, NHWC
in and out), a final ``self.norm`` and ``self.head`` (a timm-style head with ``.fc`` and
``.reset``); this mixin supplies the methods timm, its optimizer factory, its feature extraction
and its training scripts call on such a model, and the input check every ``forward_*`` runs at
the model boundary. Families whose norms sit elsewhere (GroupMamba) override the feature methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from timm.layers import ClassifierHead, trunc_normal_
from timm.models._features import feature_take_indices
from torch import Tensor, nn

TOTAL_STRIDE = 32  # every family downsamples 4x in the stem and 2x in each of three stages



def init_linear_and_layernorm(module: nn.Module) -> None:
    """The families' common init (``model.apply``): Linear trunc-normal(0.02) with zero bias,
    LayerNorm ones / zeros. Everything else (convs, the raw scan Parameters) keeps its own."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)

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

    def _stage_outputs(self, x: Tensor, stages: nn.Sequential) -> Iterator[Tensor]:
        """Yield each stage's output in turn; models with cross-stage paths (Res-VMamba) override it."""
        for stage in stages:
            x = stage(x)
            yield x

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """Stage outputs (before the next stage's downsample), as timm's contract defines.

        Args:
            x: Image batch (batch, in_chans, H, W), H and W divisible by 32.
            indices: Last n stages if int, all if None, these stages if a sequence.
            norm: Apply the final norm to the last stage's output.
            stop_early: Stop after the last requested stage.
            output_fmt: ``'NCHW'`` or ``'NHWC'`` for the intermediates.
            intermediates_only: Return only the intermediates.
        """
        if output_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NHWC', got {output_fmt!r}")
        self._check_input(x)
        num_stages = len(self.stages)
        take_indices, max_index = feature_take_indices(num_stages, indices)
        stages = self.stages if torch.jit.is_scripting() or not stop_early else self.stages[: max_index + 1]

        intermediates = []
        last, out = -1, None
        for last, out in enumerate(self._stage_outputs(self.stem(x), stages)):
            if last in take_indices:
                feat = self.norm(out) if norm and last == num_stages - 1 else out
                intermediates.append(feat.permute(0, 3, 1, 2).contiguous() if output_fmt == "NCHW" else feat)
        if intermediates_only:
            return intermediates
        if last == num_stages - 1:
            out = self.norm(out)
        return out, intermediates

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop the stages (and norm / head) not needed for ``indices``; returns the kept indices."""
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        prune_end = max_index < len(self.stages) - 1
        self.stages = self.stages[: max_index + 1]
        if prune_norm or prune_end:
            self.norm = nn.Identity()
        if prune_end:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or prune_end:
            self.head = ClassifierHead(self.num_features, 0, pool_type="", input_fmt="NHWC")
            self.num_classes = 0
        return take_indices
