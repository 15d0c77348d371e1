"""VMamba: Visual State Space Model, as timm models.

Paper: "VMamba: Visual State Space Model", Yue Liu et al., NeurIPS 2024 (arXiv:2401.10166).
Original code and weights: https://github.com/MzeroMiko/VMamba (MIT licence).

Two generations are registered, both loading the released ``.pth`` files unchanged:

* Vanilla VMamba (v0, ``vmamba_{tiny,small,base}_v0``): patchify stem, gated SS2D with
  d_state 16, no MLP, Swin patch merging.
* VMamba v2 (``vmamba_{tiny_s1l8,small_s1l20,base_s1l20,tiny_s2l5,small_s2l15,base_s2l15}``):
  conv stem, ungated SS2D with d_state 1, MLP after every SS2D, strided-conv downsampling.
  ``vmamba_tiny`` (= s1l8), ``vmamba_small`` and ``vmamba_base`` (= s2l15) are the paper's finals.

Layout: every block works channel-last, on (batch, H, W, C) tensors, so norms and projections
are plain ``nn.LayerNorm`` / ``nn.Linear`` (our ``LayerNorm`` / ``Linear`` / ``Mlp``
subclasses, with oneDNN and bfloat16 fast paths for CPU inference) rather than VMamba's
channel-first 1x1 convs with permuting LayerNorm2d, which cost a copy per norm on CPU; only
the depthwise / strided convs see an NCHW view of the same memory. ``forward_features`` returns NHWC (``output_fmt``), ``features_only``
and ``forward_intermediates`` return NCHW.

Reusable blocks (stable names and constructor signatures; other families import them):

* :class:`SS2D` - the 2D selective-scan mixer (v0 gated or v2 ungated), keys as the originals
  (``in_proj``, ``conv2d``, ``x_proj_weight``, ``dt_projs_weight``, ``dt_projs_bias``, ``A_logs``,
  ``Ds``, ``out_norm``, ``out_proj``).
* :class:`VSSBlock` - pre-norm residual block: ``norm`` + ``op`` (SS2D) [+ ``norm2`` + ``mlp``].
* :class:`PatchifyStem` (v0 stem: ``conv``, ``norm``), :class:`ConvStem` (v2 stem: ``conv1``,
  ``norm1``, ``conv2``, ``norm2``).
* :class:`PatchMerging2D` (v0 downsample: ``norm``, ``reduction``), :class:`ConvDownsample`
  (v2 downsample: ``conv``, ``norm``).
* :class:`VSSStage` - optional downsample + ``blocks`` Sequential with gradient checkpointing.
* The classifier is timm's ``ClassifierHead`` (``head.fc``) after the model's final ``norm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from functools import partial

import torch
import torch.fx
import torch.nn.functional as F
from timm.layers import ClassifierHead, DropPath, calculate_drop_path_rates, register_notrace_module
from timm.models import generate_default_cfgs, register_model
from torch import Tensor, nn

from ._base import Stage, StagedModelMixin, build_model, factory_kwargs, init_linear_and_layernorm, stage_dims, zoo_cfg
from ._layers import LayerNorm, Linear, Mlp, conv2d_act
from ._ssm import SelectiveScanParams, dt_rank_for

__all__ = [
    "SS2D",
    "ConvDownsample",
    "ConvStem",
    "PatchMerging2D",
    "PatchifyStem",
    "VMamba",
    "VSSBlock",
    "VSSStage",
    "VARIANT_ARGS",
    "checkpoint_filter_fn",
]

_NUM_DIRECTIONS = 4  # cross2d: row-major, column-major and both reversed


def _as_nchw(x: Tensor) -> Tensor:
    """NCHW view of an NHWC tensor (no copy: convs accept channels-last memory)."""
    return x.permute(0, 3, 1, 2)


def _as_nhwc(x: Tensor) -> Tensor:
    return x.permute(0, 2, 3, 1)


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused CPU passes
class SS2D(SelectiveScanParams):
    """2D selective scan over four cross-scan routes (VMamba's token mixer), channel-last.

    ``gated=True`` is Vanilla VMamba's SS2D (in_proj to 2 x d_inner, SiLU(z) gate after the
    out-norm); ``gated=False`` is v2's ``v05_noz`` (in_proj to d_inner, no gate). The rest is
    shared: depthwise conv + SiLU, cross-scan, per-direction selective scan, cross-merge,
    LayerNorm over d_inner, out_proj.

    Args:
        d_model: Block width C.
        d_state: SSM state size N.
        ssm_ratio: d_inner = int(ssm_ratio * C).
        dt_rank: Rank of the Δ projection; None = ceil(C / 16).
        d_conv: Depthwise conv kernel size.
        conv_bias: Whether the depthwise conv has a bias (v0: yes, v2: no).
        gated: Vanilla VMamba's SiLU(z) gate (doubles in_proj).
        norm_eps: out_norm epsilon.
        scan_mode: Cross-scan mode of the four routes (EfficientVMamba uses ``"atrous2"``).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        ssm_ratio: float = 2.0,
        dt_rank: int | None = None,
        d_conv: int = 3,
        conv_bias: bool = True,
        gated: bool = True,
        norm_eps: float = 1e-5,
        scan_mode: str = "cross2d",
    ) -> None:
        d_inner = int(ssm_ratio * d_model)
        super().__init__(_NUM_DIRECTIONS, d_inner, dt_rank or dt_rank_for(d_model), d_state)
        self.gated = gated
        self.scan_mode = scan_mode
        self.in_proj = Linear(d_model, d_inner * (2 if gated else 1), bias=False)
        self.conv2d = nn.Conv2d(
            d_inner, d_inner, d_conv, padding=(d_conv - 1) // 2, groups=d_inner, bias=conv_bias
        )
        self.act = nn.SiLU()
        self.out_norm = LayerNorm(d_inner, eps=norm_eps)
        self.out_proj = Linear(d_inner, d_model, bias=False)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """(batch, H, W, C) -> (batch, H, W, C); ``residual`` (same shape) is added to the output."""
        z: Optional[Tensor] = None  # the gate (v0)
        if self.gated:
            # the two halves of in_proj as two dense maps (the conv reads a strided half only
            # through a copy), SiLU(z) in the same pass as its projection
            d_inner = self.d_inner
            z = self.in_proj.forward_rows(x, d_inner, 2 * d_inner, silu=True)
            x = self.in_proj.forward_rows(x, 0, d_inner)
        else:
            x = self.in_proj(x)
        if torch.jit.is_scripting():
            x = _as_nhwc(self.act(self.conv2d(_as_nchw(x))))
        else:
            x = _as_nhwc(conv2d_act(self.conv2d, _as_nchw(x), "silu"))
        y = self.out_norm(self.scan_map(x, self.scan_mode))
        if z is not None:
            y = y * z
        return self.out_proj(y.to(x.dtype), residual)


class VSSBlock(nn.Module):
    """Pre-norm residual block on (batch, H, W, C): x + SS2D(LN(x)) [then x + MLP(LN(x))].

    Args:
        dim: Block width C.
        drop_path: Stochastic depth rate (the same DropPath serves both branches).
        mlp_ratio: MLP hidden width / C; 0 = no MLP (Vanilla VMamba).
        ssm_kwargs: Passed to :class:`SS2D` (d_state, ssm_ratio, dt_rank, d_conv, conv_bias, gated).
    """

    def __init__(
        self,
        dim: int,
        drop_path: float = 0.0,
        mlp_ratio: float = 0.0,
        norm_eps: float = 1e-5,
        **ssm_kwargs: Any,
    ) -> None:
        super().__init__()
        self.norm = LayerNorm(dim, eps=norm_eps)
        self.op = SS2D(dim, norm_eps=norm_eps, **ssm_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if mlp_ratio > 0:
            self.norm2 = LayerNorm(dim, eps=norm_eps)
            self.mlp = Mlp(dim, int(dim * mlp_ratio))
        else:
            self.norm2 = self.mlp = None

    def forward(self, x: Tensor) -> Tensor:
        if self.training and not isinstance(self.drop_path, nn.Identity):
            x = x + self.drop_path(self.op(self.norm(x)))
            if self.mlp is not None:
                x = x + self.drop_path(self.mlp(self.norm2(x)))
            return x
        # no stochastic depth: the residual adds join the output projections (one oneDNN pass)
        x = self.op(self.norm(x), residual=x)
        if self.mlp is not None:
            x = self.mlp(self.norm2(x), residual=x)
        return x


class PatchifyStem(nn.Module):
    """Vanilla VMamba stem: 4x4 stride-4 conv then LayerNorm. NCHW image -> NHWC."""

    def __init__(self, in_chans: int, dim: int, patch_size: int = 4, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim, eps=norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(_as_nhwc(self.conv(x)))


class ConvStem(nn.Module):
    """VMamba v2 stem: two 3x3 stride-2 convs (C/2 then C), each followed by a LayerNorm, with
    GELU in between. NCHW image -> NHWC."""

    def __init__(self, in_chans: int, dim: int, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, dim // 2, 3, stride=2, padding=1)
        self.norm1 = nn.LayerNorm(dim // 2, eps=norm_eps)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        # a channels-last image makes conv1's output NHWC memory: norm1 then needs no copy
        x = self.conv1(x.contiguous(memory_format=torch.channels_last))
        x = self.act(_as_nchw(self.norm1(_as_nhwc(x))))
        return self.norm2(_as_nhwc(self.conv2(x)))


def pad_to_even(x: Tensor) -> Tensor:
    """(batch, H, W, C) zero-padded at the bottom / right to even H and W (``x`` itself if they are)."""
    H, W = x.shape[1:3]
    if H % 2 or W % 2:
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    return x


# symbolic tracing (torch.fx) records the size-dependent padding as one call
torch.fx.wrap("pad_to_even")


class PatchMerging2D(nn.Module):
    """Swin patch merging on NHWC: concat each 2x2 neighbourhood ((0,0), (1,0), (0,1), (1,1) as
    (row, col) offsets), LayerNorm(4C), Linear(4C -> out_dim, no bias). Odd sizes are zero-padded
    at the bottom / right."""

    def __init__(self, dim: int, out_dim: int | None = None, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=norm_eps)
        self.reduction = Linear(4 * dim, out_dim or 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = pad_to_even(x)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class ConvDownsample(nn.Module):
    """VMamba v2 downsample on NHWC: 3x3 stride-2 conv, then LayerNorm."""

    def __init__(self, dim: int, out_dim: int, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, out_dim, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(out_dim, eps=norm_eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(_as_nhwc(self.conv(_as_nchw(x))))


_DOWNSAMPLERS = {"merge": PatchMerging2D, "conv": ConvDownsample}


class VSSStage(Stage):
    """One resolution stage on NHWC: optional downsample (``'merge'`` / ``'conv'``) from
    ``in_dim`` to ``dim``, then ``depth`` :class:`VSSBlock` s."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        downsample: str | None = None,
        drop_path: Sequence[float] | float = 0.0,
        norm_eps: float = 1e-5,
        **block_kwargs: Any,
    ) -> None:
        if downsample is None:
            down = nn.Identity()
        else:
            down = _DOWNSAMPLERS[downsample](in_dim, dim, norm_eps=norm_eps)
        rates = [drop_path] * depth if isinstance(drop_path, (int, float)) else list(drop_path)
        blocks = [VSSBlock(dim, drop_path=rates[i], norm_eps=norm_eps, **block_kwargs) for i in range(depth)]
        super().__init__(down, blocks)


class VMamba(StagedModelMixin, nn.Module):
    """VMamba backbone + classifier (both generations; see the module docstring).

    Args:
        in_chans: Input image channels.
        num_classes: Classifier outputs (0 = no classifier).
        global_pool: ``'avg'`` or ``''`` (no pooling).
        depths: Blocks per stage.
        dims: Stage widths, or the first width (doubled per stage).
        d_state: SSM state size.
        ssm_ratio: SS2D inner width / block width.
        dt_rank: Δ projection rank (None: ceil(C / 16) per stage).
        ssm_conv_bias: Depthwise-conv bias in SS2D.
        gated: Vanilla VMamba's SiLU(z)-gated SS2D.
        mlp_ratio: MLP width ratio (0 = no MLP).
        stem: ``'patchify'`` (v0) or ``'conv'`` (v2).
        downsample: ``'merge'`` (v0 patch merging) or ``'conv'`` (v2 3x3 stride-2 conv).
        drop_rate: Dropout before the classifier.
        drop_path_rate: Stochastic depth, linearly increasing over all blocks.
        norm_eps: LayerNorm epsilon.
    """

    @factory_kwargs
    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        depths: Sequence[int] = (2, 2, 9, 2),
        dims: int | Sequence[int] = 96,
        d_state: int = 16,
        ssm_ratio: float = 2.0,
        dt_rank: int | None = None,
        ssm_conv_bias: bool = True,
        gated: bool = True,
        mlp_ratio: float = 0.0,
        stem: str = "patchify",
        downsample: str = "merge",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if stem not in ("patchify", "conv"):
            raise ValueError(f"stem must be 'patchify' or 'conv', got {stem!r}")
        if downsample not in _DOWNSAMPLERS:
            raise ValueError(f"downsample must be one of {sorted(_DOWNSAMPLERS)}, got {downsample!r}")
        dims = stage_dims(dims, depths)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.output_fmt = "NHWC"
        self.num_features = self.head_hidden_size = dims[-1]

        stem_cls = PatchifyStem if stem == "patchify" else ConvStem
        self.stem = stem_cls(in_chans, dims[0], norm_eps=norm_eps)

        # linear over all blocks, split by stage
        rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        block_kwargs = dict(
            d_state=d_state, ssm_ratio=ssm_ratio, dt_rank=dt_rank, conv_bias=ssm_conv_bias, gated=gated,
            mlp_ratio=mlp_ratio,
        )
        stages, self.feature_info = [], []
        reduction = 4
        for i, depth in enumerate(depths):
            stages.append(VSSStage(
                dims[max(i - 1, 0)], dims[i], depth,
                downsample=downsample if i > 0 else None,
                drop_path=rates[i],
                norm_eps=norm_eps,
                **block_kwargs,
            ))
            reduction *= 2 if i > 0 else 1
            self.feature_info.append(dict(num_chs=dims[i], reduction=reduction, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=norm_eps)
        self.head = ClassifierHead(
            dims[-1], num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC"
        )
        self.apply(init_linear_and_layernorm)  # VMamba's init


# ---------------------------------------------------------------------------------------------
# Checkpoints

_STEM_KEYS = {
    "patchify": {"patch_embed.0.": "stem.conv.", "patch_embed.2.": "stem.norm."},
    "conv": {
        "patch_embed.0.": "stem.conv1.", "patch_embed.2.": "stem.norm1.",
        "patch_embed.5.": "stem.conv2.", "patch_embed.7.": "stem.norm2.",
    },
}
# Names of VMamba's earliest code, which its own loader still renames.
_LEGACY_KEYS = (
    (".ln_1.", ".norm."), (".self_attention.", ".op."),
    ("patch_embed.proj.", "patch_embed.0."), ("patch_embed.norm.", "patch_embed.2."),
)


def _original_to_timm_key(key: str, stem: str) -> str | None:
    for old, new in _LEGACY_KEYS:
        key = key.replace(old, new)
    if key.startswith(("norm.", "head.")):  # legacy top-level classifier names
        key = "classifier." + key
    for old, new in _STEM_KEYS[stem].items():
        if key.startswith(old):
            return new + key[len(old):]
    if key.startswith("layers."):
        _, stage, rest = key.split(".", 2)
        if rest.startswith("blocks."):
            return f"stages.{stage}.{rest}"
        if rest.startswith("downsample."):
            # The original downsample ends stage i; ours starts stage i + 1. v2's Sequential
            # indices 1 / 3 are our conv / norm; v0's PatchMerging2D names are already ours.
            part = rest[len("downsample."):]
            index, _, tail = part.partition(".")
            part = {"1": "conv.", "3": "norm."}[index] + tail if index in ("1", "3") else part
            return f"stages.{int(stage) + 1}.downsample.{part}"
    if key.startswith("classifier.norm."):
        return "norm." + key[len("classifier.norm."):]
    if key.startswith("classifier.head."):
        return "head.fc." + key[len("classifier.head."):]
    return key  # unknown: kept, so that strict loading names it


def checkpoint_filter_fn(state_dict: dict[str, Tensor], model: VMamba) -> dict[str, Tensor]:
    """Map an original VMamba state dict (``classification/models/vmamba.py`` names) to ours.

    Our own (already converted) state dicts pass through unchanged.
    """
    state_dict = state_dict.get("model", state_dict)
    if any(k.startswith("stages.") for k in state_dict):
        return dict(state_dict)
    stem = "patchify" if isinstance(model.stem, PatchifyStem) else "conv"
    expected = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        if key == "pos_embed":  # never used by a release (posembed=False)
            continue
        key = _original_to_timm_key(key, stem)
        if value.dim() == 4 and value.shape[2:] == (1, 1) and key in expected and expected[key].dim() == 2:
            value = value.flatten(1)  # a Linear2d weight saved as a 1x1 conv (VMamba accepts both)
        out[key] = value
    return out


VMamba.checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

_cfg = partial(
    zoo_cfg,
    first_conv="stem.conv1",
    license="mit",
    origin_url="https://github.com/MzeroMiko/VMamba",
    paper_ids="arXiv:2401.10166",
    paper_name="VMamba: Visual State Space Model",
)


_RELEASES = "https://github.com/MzeroMiko/VMamba/releases/download/"

default_cfgs = generate_default_cfgs({
    "vmamba_tiny_v0.in1k": _cfg(
        url=_RELEASES + "%23v0cls/vssmtiny_dp01_ckpt_epoch_292.pth", first_conv="stem.conv"),
    "vmamba_small_v0.in1k": _cfg(
        url=_RELEASES + "%23v0cls/vssmsmall_dp03_ckpt_epoch_238.pth", first_conv="stem.conv"),
    "vmamba_base_v0.in1k": _cfg(
        url=_RELEASES + "%23v0cls/vssmbase_dp06_ckpt_epoch_241.pth", first_conv="stem.conv"),
    "vmamba_tiny_s2l5.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm_tiny_0230_ckpt_epoch_262.pth"),
    "vmamba_small_s2l15.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm_small_0229_ckpt_epoch_222.pth"),
    "vmamba_base_s2l15.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm_base_0229_ckpt_epoch_237.pth"),
    "vmamba_tiny_s1l8.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth"),
    "vmamba_small_s1l20.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm1_small_0229s_ckpt_epoch_240.pth"),
    "vmamba_base_s1l20.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm1_base_0229s_ckpt_epoch_225.pth"),
    "vmamba_tiny.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth"),
    "vmamba_small.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm_small_0229_ckpt_epoch_222.pth"),
    "vmamba_base.in1k": _cfg(url=_RELEASES + "%23v2cls/vssm_base_0229_ckpt_epoch_237.pth"),
})


# Architecture of each generation and variant (the upstream classification/configs/vssm/*.yaml).
# drop_path_rate is left to the caller (timm convention); the papers trained with 0.2 / 0.3 /
# 0.6 (v0-B, s2l15-B) / 0.5 (s1l20-B).
_V0_ARGS = dict(d_state=16, ssm_ratio=2.0, ssm_conv_bias=True, gated=True, mlp_ratio=0.0,
                stem="patchify", downsample="merge")
_V2_ARGS = dict(d_state=1, ssm_conv_bias=False, gated=False, mlp_ratio=4.0, stem="conv", downsample="conv")
# public: Res-VMamba is vmamba_small_v0's architecture plus its skips
VARIANT_ARGS = {
    "vmamba_tiny_v0": dict(_V0_ARGS, depths=(2, 2, 9, 2), dims=96),
    "vmamba_small_v0": dict(_V0_ARGS, depths=(2, 2, 27, 2), dims=96),
    "vmamba_base_v0": dict(_V0_ARGS, depths=(2, 2, 27, 2), dims=128),
    "vmamba_tiny_s2l5": dict(_V2_ARGS, depths=(2, 2, 5, 2), dims=96, ssm_ratio=2.0),
    "vmamba_small_s2l15": dict(_V2_ARGS, depths=(2, 2, 15, 2), dims=96, ssm_ratio=2.0),
    "vmamba_base_s2l15": dict(_V2_ARGS, depths=(2, 2, 15, 2), dims=128, ssm_ratio=2.0),
    "vmamba_tiny_s1l8": dict(_V2_ARGS, depths=(2, 2, 8, 2), dims=96, ssm_ratio=1.0),
    "vmamba_small_s1l20": dict(_V2_ARGS, depths=(2, 2, 20, 2), dims=96, ssm_ratio=1.0),
    "vmamba_base_s1l20": dict(_V2_ARGS, depths=(2, 2, 20, 2), dims=128, ssm_ratio=1.0),
}


def _create_vmamba(variant: str, pretrained: bool = False, arch: str | None = None, **kwargs: Any) -> VMamba:
    """Build ``variant`` with the architecture of ``arch`` (default: the variant itself)."""
    return build_model(VMamba, variant, pretrained, **{**VARIANT_ARGS[arch or variant], **kwargs})


@register_model
def vmamba_tiny_v0(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """Vanilla VMamba-T (22.9M params, 5.63 GFLOPs)."""
    return _create_vmamba("vmamba_tiny_v0", pretrained, **kwargs)


@register_model
def vmamba_small_v0(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """Vanilla VMamba-S (44.4M params, 11.23 GFLOPs)."""
    return _create_vmamba("vmamba_small_v0", pretrained, **kwargs)


@register_model
def vmamba_base_v0(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """Vanilla VMamba-B (76.3M params, 18.02 GFLOPs)."""
    return _create_vmamba("vmamba_base_v0", pretrained, **kwargs)


@register_model
def vmamba_tiny_s2l5(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-T [s2l5] (30.7M params, 4.86 GFLOPs)."""
    return _create_vmamba("vmamba_tiny_s2l5", pretrained, **kwargs)


@register_model
def vmamba_small_s2l15(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-S [s2l15] (50.1M params, 8.72 GFLOPs), the paper's VMamba-S."""
    return _create_vmamba("vmamba_small_s2l15", pretrained, **kwargs)


@register_model
def vmamba_base_s2l15(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-B [s2l15] (88.6M params, 15.36 GFLOPs), the paper's VMamba-B."""
    return _create_vmamba("vmamba_base_s2l15", pretrained, **kwargs)


@register_model
def vmamba_tiny_s1l8(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-T [s1l8] (30.2M params, 4.91 GFLOPs), the paper's VMamba-T."""
    return _create_vmamba("vmamba_tiny_s1l8", pretrained, **kwargs)


@register_model
def vmamba_small_s1l20(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-S [s1l20] (49.0M params, 8.61 GFLOPs)."""
    return _create_vmamba("vmamba_small_s1l20", pretrained, **kwargs)


@register_model
def vmamba_base_s1l20(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-B [s1l20] (86.6M params, 15.22 GFLOPs)."""
    return _create_vmamba("vmamba_base_s1l20", pretrained, **kwargs)


@register_model
def vmamba_tiny(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-T of the paper (= ``vmamba_tiny_s1l8``)."""
    return _create_vmamba("vmamba_tiny", pretrained, arch="vmamba_tiny_s1l8", **kwargs)


@register_model
def vmamba_small(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-S of the paper (= ``vmamba_small_s2l15``)."""
    return _create_vmamba("vmamba_small", pretrained, arch="vmamba_small_s2l15", **kwargs)


@register_model
def vmamba_base(pretrained: bool = False, **kwargs: Any) -> VMamba:
    """VMamba-B of the paper (= ``vmamba_base_s2l15``)."""
    return _create_vmamba("vmamba_base", pretrained, arch="vmamba_base_s2l15", **kwargs)
