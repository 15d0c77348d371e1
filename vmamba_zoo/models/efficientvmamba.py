"""EfficientVMamba: atrous selective scan with a convolutional branch, then MobileNet blocks.

Paper: `EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba`
(Pei, Huang, Xu; AAAI 2025) - https://arxiv.org/abs/2403.09977
Original code: https://github.com/TerryPei/EfficientVMamba (Apache-2.0)

Stages 0 and 1 stack EVSS blocks: a selective-scan branch over the four step-2 sub-grids of the
map (the ``atrous2`` cross-scan mode) next to a depthwise-conv branch, both gated by one shared
channel-attention module. Stages 2 and 3 are MobileNetV2 inverted residuals with squeeze-excite.
Blocks run channel-last (B, H, W, C) like the original; the convolutional parts see NCHW views of
the same memory.

The released checkpoints load unchanged (``checkpoint_filter_fn`` maps the original module names
``patch_embed``/``layers``/``classifier`` onto ``stem``/``stages``/``norm`` + ``head``, as VMamba).
``efficientvmamba_small`` is the released 11M model (C0 = 64), not the upstream yaml (C0 = 96).

``features_only`` / ``forward_intermediates`` give the raw stage outputs (before the next
downsample); the original detection backbone normalises each with a fresh ``LayerNorm(C_i)``
(``outnorm{i}``, not in the classification checkpoints), which the MMEngine wrapper adds.
"""

from __future__ import annotations

import re
from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import ClassifierHead, DropPath, calculate_drop_path_rates
from timm.models import generate_default_cfgs, register_model
from timm.models._efficientnet_blocks import InvertedResidual, SqueezeExcite
from torch import Tensor, nn

from ._base import Stage, StagedModelMixin, build_model, factory_kwargs, init_linear_and_layernorm, zoo_cfg
from .vmamba import SS2D, PatchifyStem, PatchMerging2D

__all__ = ["EfficientVMamba", "EfficientVSSBlock", "checkpoint_filter_fn"]


class ChannelGate(nn.Module):
    """EfficientVMamba's ``BiAttn``: a sigmoid channel gate computed from the spatial mean of the
    layer-normed input and applied to the raw input. Channel-last."""

    def __init__(self, dim: int, reduction_ratio: float = 0.125) -> None:
        super().__init__()
        reduced = int(dim * reduction_ratio)
        self.norm = nn.LayerNorm(dim)
        self.global_reduce = nn.Linear(dim, reduced)
        self.channel_select = nn.Linear(reduced, dim)

    def forward(self, x: Tensor) -> Tensor:
        context = self.norm(x).mean((1, 2), keepdim=True)
        gate = torch.sigmoid(self.channel_select(F.gelu(self.global_reduce(context))))
        return x * gate


class EfficientVSSBlock(nn.Module):
    """EVSS block: ``x + DropPath(gate(SS2D(LN x)) + gate(conv(LN x)))``, the same gate module
    (``se``) applied to both branches. Channel-last."""

    def __init__(self, dim: int, drop_path: float = 0.0, d_state: int = 16, ssm_ratio: float = 2.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        # the atrous SS2D: VMamba's gated SS2D over the four step-2 sub-grids of the map
        self.op = SS2D(dim, d_state=d_state, ssm_ratio=ssm_ratio, scan_mode="atrous2")
        self.conv_branch = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim),
            nn.BatchNorm2d(dim),
            nn.GELU(),
            nn.Conv2d(dim, dim, 1),
        )
        self.se = ChannelGate(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        normed = self.norm(x)
        ssm = self.op(normed)
        conv = self.conv_branch(normed.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.drop_path(self.se(ssm) + self.se(conv))


class PooledSqueezeExcite(SqueezeExcite):
    """timm's SqueezeExcite, squeezing with ``adaptive_avg_pool2d`` as the original block does,
    so that fvcore counts the pooling (1 FLOP per element) like the paper's counter."""

    def forward(self, x: Tensor) -> Tensor:
        x_se = self.conv_expand(self.act1(self.conv_reduce(F.adaptive_avg_pool2d(x, 1))))
        return x * self.gate(x_se)


def _inverted_residual(dim: int, drop_path: float, expand_ratio: float, se_ratio: float) -> InvertedResidual:
    """The original's MobileNetV2 block: 1x1 expand, 3x3 depthwise, SE, 1x1 project; BN + ReLU."""
    return InvertedResidual(
        dim,
        dim,
        dw_kernel_size=3,
        exp_ratio=expand_ratio,
        act_layer=nn.ReLU,
        se_layer=partial(PooledSqueezeExcite, rd_ratio=se_ratio),
        drop_path_rate=drop_path,
    )


class EfficientVMambaStage(Stage):
    """Optional downsample (PatchMerging2D) then blocks; channel-last in and out. Convolutional
    stages run their blocks on an NCHW view."""

    def __init__(self, downsample: nn.Module, blocks: list[nn.Module], channels_first: bool) -> None:
        super().__init__(downsample, blocks)
        self.channels_first = channels_first

    def forward(self, x: Tensor) -> Tensor:
        x = self.downsample(x)
        if self.channels_first:
            return self.forward_blocks(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.forward_blocks(x)


class EfficientVMamba(StagedModelMixin, nn.Module):
    """EfficientVMamba classifier: VMamba's stem, patch merging, final ``norm`` and timm
    ``ClassifierHead`` around its own stages.

    Args:
        in_chans: input image channels.
        num_classes: classifier outputs (0: no classifier).
        global_pool: ``'avg'`` or ``''`` (no pooling).
        dims: width of each stage.
        depths: blocks per stage.
        num_ssm_stages: how many leading stages use EVSS blocks; the rest use inverted residuals.
        d_state: state size N of the selective scan.
        ssm_ratio: SS2D inner width / block width.
        ir_expand_ratio: expansion of the inverted residual blocks.
        ir_se_ratio: squeeze ratio of their SE, relative to the expanded width.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
    """

    @factory_kwargs
    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        dims: tuple[int, ...] = (48, 96, 192, 384),
        depths: tuple[int, ...] = (2, 2, 4, 2),
        num_ssm_stages: int = 2,
        d_state: int = 16,
        ssm_ratio: float = 2.0,
        ir_expand_ratio: float = 4.0,
        ir_se_ratio: float = 0.125,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if len(dims) != len(depths):
            raise ValueError(f"dims {tuple(dims)} and depths {tuple(depths)} must have the same length")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.output_fmt = "NHWC"
        self.num_features = self.head_hidden_size = dims[-1]
        self.stem = PatchifyStem(in_chans, dims[0])

        # linear over all blocks, split by stage
        dp_rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        stages, self.feature_info = [], []
        reduction = 4
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            downsample = nn.Identity() if i == 0 else PatchMerging2D(dims[i - 1], dim)
            reduction *= 2 if i > 0 else 1
            if i < num_ssm_stages:
                blocks = [EfficientVSSBlock(dim, rate, d_state=d_state, ssm_ratio=ssm_ratio) for rate in dp_rates[i]]
            else:
                blocks = [_inverted_residual(dim, rate, ir_expand_ratio, ir_se_ratio) for rate in dp_rates[i]]
            stages.append(EfficientVMambaStage(downsample, blocks, channels_first=i >= num_ssm_stages))
            self.feature_info.append(dict(num_chs=dim, reduction=reduction, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = ClassifierHead(dims[-1], num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC")
        self.apply(init_linear_and_layernorm)  # VMamba's init


def checkpoint_filter_fn(state_dict: dict[str, Tensor], model: EfficientVMamba) -> dict[str, Tensor]:
    """Map an original EfficientVMamba state dict onto this model's module names.

    Original layout: ``patch_embed.{0,2}``; ``layers.{0,1}.blocks.{j}`` / ``layers.{0,1}.downsample``;
    convolutional stages ``layers.{i}.{1..d}`` (inverted residuals between two Permutes) with the
    downsample at ``layers.{i}.{d+2}``; ``classifier.{norm,head}``. Every key that does not match
    is passed through unchanged, so that strict loading names it.
    """
    if any(k.startswith("stages.") for k in state_dict):  # already ours
        return dict(state_dict)
    depths = [len(stage.blocks) for stage in model.stages]
    ir_renames = {
        "conv_pw.0.": "conv_pw.", "conv_pw.1.": "bn1.", "conv_dw.0.": "conv_dw.", "conv_dw.1.": "bn2.",
        "conv_pw2.0.": "conv_pwl.", "conv_pw2.1.": "bn3.",
    }  # fmt: skip
    out = {}
    for key, value in state_dict.items():
        while key.startswith("module."):  # the EMA copy of a DDP model is saved as module.module.*
            key = key[len("module."):]
        key = key.replace("patch_embed.0.", "stem.conv.").replace("patch_embed.2.", "stem.norm.")
        key = key.replace("classifier.norm.", "norm.").replace("classifier.head.", "head.fc.")
        if m := re.match(r"layers\.(\d+)\.blocks\.(\d+)\.(.*)", key):
            key = f"stages.{m[1]}.blocks.{m[2]}.{m[3]}"
        elif m := re.match(r"layers\.(\d+)\.downsample\.(.*)", key):
            key = f"stages.{int(m[1]) + 1}.downsample.{m[2]}"
        elif (m := re.match(r"layers\.(\d+)\.(\d+)\.(.*)", key)) and int(m[1]) < len(depths):
            stage, index, rest = int(m[1]), int(m[2]), m[3]
            if 1 <= index <= depths[stage]:
                renamed = next((old for old in ir_renames if rest.startswith(old)), None)
                if renamed:
                    rest = ir_renames[renamed] + rest[len(renamed):]
                key = f"stages.{stage}.blocks.{index - 1}.{rest}"
            elif index == depths[stage] + 2:
                key = f"stages.{stage + 1}.downsample.{rest}"
        out[key] = value
    return out


EfficientVMamba.checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

_cfg = partial(
    zoo_cfg,
    first_conv="stem.conv",
    license="apache-2.0",
    paper_ids="arXiv:2403.09977",
    paper_name="EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba",
    origin_url="https://github.com/TerryPei/EfficientVMamba",
)

_HF = "https://huggingface.co/TerryPei"
default_cfgs = generate_default_cfgs(
    {
        "efficientvmamba_tiny.in1k": _cfg(url=f"{_HF}/EfficientVMamba-Tiny/resolve/main/efficient_vmamba_tiny.ckpt"),
        "efficientvmamba_small.in1k": _cfg(
            url=f"{_HF}/EfficientVMamba-Small/resolve/main/efficient_vmamba_small.ckpt",
            notes=("the released 11M model: C0 = 64; the upstream yaml's EMBED_DIM 96 builds an unreleased 25M net",),
        ),
        "efficientvmamba_base.in1k": _cfg(url=f"{_HF}/EfficientVMamba-Base/resolve/main/efficient_vmamba_base.ckpt"),
    }
)


def _create_efficientvmamba(variant: str, pretrained: bool = False, **kwargs) -> EfficientVMamba:
    return build_model(EfficientVMamba, variant, pretrained, **kwargs)


@register_model
def efficientvmamba_tiny(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-T: 6.49M params, 0.81 GFLOPs, 76.5% ImageNet top-1."""
    model_args = dict(dims=(48, 96, 192, 384), depths=(2, 2, 4, 2))
    return _create_efficientvmamba("efficientvmamba_tiny", pretrained, **dict(model_args, **kwargs))


@register_model
def efficientvmamba_small(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-S: 11.27M params, 1.34 GFLOPs, 78.7% ImageNet top-1."""
    model_args = dict(dims=(64, 128, 256, 512), depths=(2, 2, 4, 2))
    return _create_efficientvmamba("efficientvmamba_small", pretrained, **dict(model_args, **kwargs))


@register_model
def efficientvmamba_base(pretrained: bool = False, **kwargs) -> EfficientVMamba:
    """EfficientVMamba-B: 33.72M params, 4.00 GFLOPs, 81.8% ImageNet top-1."""
    model_args = dict(dims=(96, 192, 384, 768), depths=(2, 2, 9, 2))
    return _create_efficientvmamba("efficientvmamba_base", pretrained, **dict(model_args, **kwargs))
