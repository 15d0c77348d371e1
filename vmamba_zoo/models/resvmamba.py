"""Res-VMamba: Vanilla VMamba-S with a global residual path across stages, for food classification.

Papers: `Res-VMamba: Fine-Grained Food Category Visual Classification Using Selective State Space
Models with Deep Residual Learning` (Chen et al., arXiv:2402.15761) and PLOS ONE 20(5) e0322695.
Original code: https://github.com/ChiShengChen/ResVMamba; weights:
https://huggingface.co/ms57rd/Res-VMamba (CNFOOD-241, 241 classes).

The network is :func:`~vmamba_zoo.models.vmamba.vmamba_small_v0` (same blocks, same checkpoint
keys) plus, for stages 0-2, a skip from the stage's input: 2x2 max-pool, then a 1x1 projection
C -> 2C, added to the stage's downsampled output (= the next stage's input).

The original draws those three 1x1 projections afresh at random on every forward call (untrained,
not in the checkpoint). Here they are drawn once from a fixed seed and kept as non-persistent
buffers (``residual_projections.{k}.weight/.bias``: not in ``state_dict``, not parameters, but
counted in FLOPs); :meth:`ResVMamba.set_residual_projections` pins them, and
``per_call_random_projections=True`` redraws them on every call from torch's global CPU generator
exactly as the original does (so ``torch.manual_seed(s); model(x)`` matches the original's
``torch.manual_seed(s); model(x)`` in eval mode), placed on the input's device rather than the
original's hard-coded ``cuda:0``.

``features_only`` / ``forward_intermediates`` tap each stage's output (before the next downsample)
with the skips applied, using the fixed projections; the original repository's detection backbone
has no skip path at all, so this is our design, not a port.
"""

# annotations are evaluated here (no `from __future__ import annotations`): TorchScript reads
# the real types of the torch.jit.ignore methods' signatures
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from timm.models import generate_default_cfgs, register_model
from torch import Tensor, nn

from ._base import build_model, factory_kwargs, zoo_cfg
from .vmamba import VARIANT_ARGS, VMamba

__all__ = ["ResVMamba", "ResidualProjection", "checkpoint_filter_fn"]

_logger = logging.getLogger(__name__)

DEFAULT_PROJECTION_SEED = 0


def _draw_projection(dim: int, out_dim: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """Weight (out_dim, dim, 1, 1) and bias (out_dim,) drawn as ``nn.Conv2d(dim, out_dim, 1)``
    initialises itself (kaiming-uniform a=sqrt(5), then a U(+-1/sqrt(fan_in)) bias), on CPU, in the
    same order; ``generator=None`` draws from the global CPU generator as the original does."""
    weight = torch.empty(out_dim, dim, 1, 1, device="cpu")
    bias = torch.empty(out_dim, device="cpu")
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(dim)
    nn.init.uniform_(bias, -bound, bound, generator=generator)
    return weight, bias


class ResidualProjection(nn.Module):
    """The skip of one stage on NHWC maps: 2x2 max-pool, then a fixed 1x1 projection dim -> out_dim.

    The projection lives in non-persistent buffers (untrained, as in the original).
    """

    def __init__(self, dim: int, out_dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        weight, bias = _draw_projection(dim, out_dim, generator)
        # drawn on CPU (the original's values), kept on the device the model is created on
        device = torch.get_default_device()
        self.register_buffer("weight", weight.to(device), persistent=False)
        self.register_buffer("bias", bias.to(device), persistent=False)
        self.redraw_per_call = False

    @torch.jit.ignore  # the global CPU generator: Python, also under TorchScript
    def _redraw(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out_dim, dim = self.weight.shape[:2]
        weight, bias = _draw_projection(dim, out_dim, None)
        return weight.to(x.device, x.dtype), bias.to(x.device, x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.weight, self.bias
        if self.redraw_per_call:
            weight, bias = self._redraw(x)
        pooled = F.max_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        return F.linear(pooled, weight.flatten(1), bias)


class ResVMamba(VMamba):
    """Vanilla VMamba with Res-VMamba's stage-skip path (see the module docstring).

    Args:
        per_call_random_projections: redraw the skip projections on every forward from the global
            CPU generator (the original behaviour) instead of using the fixed buffers.
        projection_seed: seed of the fixed projections.
        **kwargs: :class:`~vmamba_zoo.models.vmamba.VMamba` arguments.
    """

    @factory_kwargs
    def __init__(
        self,
        per_call_random_projections: bool = False,
        projection_seed: int = DEFAULT_PROJECTION_SEED,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.projection_seed = projection_seed
        generator = torch.Generator().manual_seed(projection_seed)
        dims = [info["num_chs"] for info in self.feature_info]
        self.residual_projections = nn.ModuleList(
            ResidualProjection(dims[k], dims[k + 1], generator) for k in range(len(dims) - 1)
        )
        for projection in self.residual_projections:
            projection.redraw_per_call = per_call_random_projections

    @torch.jit.ignore
    def init_weights(self) -> None:
        super().init_weights()
        generator = torch.Generator().manual_seed(self.projection_seed)
        for module in self.residual_projections:
            out_dim, dim = module.weight.shape[:2]
            weight, bias = _draw_projection(dim, out_dim, generator)
            module.weight.copy_(weight)
            module.bias.copy_(bias)

    def set_residual_projections(self, projections: Sequence[tuple[Tensor, Tensor]]) -> None:
        """Pin the skip projections: ``[(w0, b0), (w1, b1), (w2, b2)]``, w_k of shape
        (C_{k+1}, C_k, 1, 1) and b_k (C_{k+1},) — (192, 96, 1, 1)/(192,) ... for Res-VMamba-S.
        Also turns per-call redrawing off."""
        if len(projections) != len(self.residual_projections):
            raise ValueError(
                f"expected {len(self.residual_projections)} (weight, bias) pairs, got {len(projections)}"
            )
        for k, ((weight, bias), module) in enumerate(zip(projections, self.residual_projections)):
            if tuple(weight.shape) != tuple(module.weight.shape) or tuple(bias.shape) != tuple(module.bias.shape):
                raise ValueError(
                    f"residual projection {k} must be weight {tuple(module.weight.shape)} and bias "
                    f"{tuple(module.bias.shape)}, got {tuple(weight.shape)} and {tuple(bias.shape)}"
                )
            module.weight = weight.detach().to(module.weight.device, module.weight.dtype).clone()
            module.bias = bias.detach().to(module.bias.device, module.bias.dtype).clone()
            module.redraw_per_call = False

    def forward_stages(self, x: Tensor) -> Tensor:
        # _stage_outputs as one TorchScript-compilable loop (no generator; the skip of stage k
        # picked by position)
        skip: Optional[Tensor] = None
        for k, stage in enumerate(self.stages):
            x = stage.downsample(x)
            if skip is not None:
                x = x + skip
            next_skip: Optional[Tensor] = None
            for j, projection in enumerate(self.residual_projections):
                if j == k:
                    next_skip = projection(x)
            skip = next_skip
            x = stage.forward_blocks(x)
        return x

    def _stage_outputs(self, x: Tensor, stages: nn.Sequential) -> Iterator[Tensor]:
        # the skip of stage k starts at its (downsampled) input and joins stage k+1's input
        skip = None
        for k, stage in enumerate(stages):
            x = stage.downsample(x)
            if skip is not None:
                x = x + skip
            skip = self.residual_projections[k](x) if k < len(self.residual_projections) else None
            x = stage.forward_blocks(x)
            yield x

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        take_indices = super().prune_intermediate_layers(indices, prune_norm, prune_head)
        del self.residual_projections[len(self.stages) - 1:]  # a skip into a pruned stage is unused
        return take_indices


def checkpoint_filter_fn(state_dict: dict[str, Tensor], model: ResVMamba) -> dict[str, Tensor]:
    """The Vanilla-VMamba key mapping, plus the released head's policy: the training code trains
    a 1000-way head even for CNFOOD-241 (the upstream ``data/build.py`` sets ``MODEL.NUM_CLASSES``
    to the class count of its default ``imagenet`` dataset setting), of which a 241-class model
    keeps rows 0-240 (class i = CNFOOD-241 folder ``%03d``)."""
    state_dict = VMamba.checkpoint_filter_fn(state_dict, model)
    head = state_dict.get("head.fc.weight")
    num_classes = model.num_classes
    if head is not None and num_classes == 241 and head.shape[0] == 1000:
        _logger.info("Res-VMamba checkpoint has a 1000-row head; keeping rows 0-240 (the CNFOOD-241 classes)")
        state_dict["head.fc.weight"] = head[:num_classes]
        state_dict["head.fc.bias"] = state_dict["head.fc.bias"][:num_classes]
    return state_dict


ResVMamba.checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

default_cfgs = generate_default_cfgs(
    {
        "resvmamba_small.cnfood241": zoo_cfg(
            url="https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth",
            num_classes=241,
            first_conv="stem.conv",
            license="mit",  # the weights' licence (timm's field): see notes
            origin_url="https://github.com/ChiShengChen/ResVMamba",
            paper_ids="arXiv:2402.15761",
            notes=("Weights licence: mit, as the Hugging Face weights repository is tagged; the code "
                   "repository states no licence",),
            paper_name="Res-VMamba: Fine-Grained Food Category Visual Classification Using Selective "
            "State Space Models with Deep Residual Learning",
        ),
    }
)


@register_model
def resvmamba_small(pretrained: bool = False, **kwargs) -> ResVMamba:
    """Res-VMamba-S on CNFOOD-241: Vanilla VMamba-S + stage skips (43.83M params, 11.27 GFLOPs)."""
    return build_model(ResVMamba, "resvmamba_small", pretrained, **{**VARIANT_ARGS["vmamba_small_v0"], **kwargs})
