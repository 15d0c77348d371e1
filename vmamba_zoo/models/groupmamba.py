"""GroupMamba: parameter-efficient visual state space models with grouped scans, as timm models.

Paper: "GroupMamba: Efficient Group-Based Visual State Space Model", Abdelrahman Shaker et al.,
CVPR 2025 (arXiv:2407.13772). Original code and weights: https://github.com/Amshaker/GroupMamba
(MIT licence). Registered: ``groupmamba_tiny``, ``groupmamba_small``, ``groupmamba_base``.

Architecture (the released one, upstream ``classification/models/groupmamba.py``): a BatchNorm/ReLU conv stem, four stages
of blocks ``x + GroupMambaLayer(x)``, ``x + FFN(LN(x))`` (the FFN has a depthwise 3x3 conv), and a
classifier that pools the stage-4 tokens, refines the pooled token with one more (token-wise)
block and feeds it to two linear heads. The token mixer (the "Modulated Group Mamba" layer):

* LayerNorm, then the channels are split into four contiguous groups; group k runs its own
  single-direction SS2D (``mamba_g{k}``: d_state 1, expand 1, K = 1) along route k of VMamba's
  cross-scan (row-major, column-major, and both reversed). The four SS2Ds run here as ONE
  grouped computation (``cross2d_grouped`` scan, per-group projections as batched matmuls, one
  grouped selective scan), numerically the same as four separate ones.
* The result is multiplied by ``skip_scale`` and by the normalised input (a gate, as released),
  then by a channel affinity (an SE block on the normalised input), normed again with the same
  LayerNorm and projected.

Distillation: the released models have two heads (``head.fc`` and ``head.fc_dist``, trained with
a DeiT-style hard-distillation loss). As in the original (and timm's distilled DeiT), the model
returns the average of both heads; ``set_distilled_training(True)`` makes train mode return the
tuple ``(head, dist_head)`` the original returns in train mode, for a distillation loss.

FLOPs: ``count_flops(model)`` (fvcore on the eval-mode model with the selective-scan handle, as
VMamba counts) gives 4.706 / 7.281 / 14.186 GFLOPs for T / S / B, the count of the authors' own
code; the paper prints 4.5 / 7.0 / 14 without saying how it counted.

Layout: channel-last (batch, H, W, C) tensors everywhere; ``forward_features`` returns NHWC,
``forward_intermediates`` / ``features_only`` NCHW. Stage taps are the block outputs after the
stage's LayerNorm (``norm1..3`` of the original, applied before the next downsample); stage 4 is
tapped before any norm (``norm=True`` applies the classifier's ``head.norm``, the original
``norm4``). Original checkpoint keys (``patch_embed1``, ``block1.0``, ``norm4``, ``post_network.0``,
``dist_head``, ...) are mapped by :func:`checkpoint_filter_fn`.
"""

# annotations are evaluated here (no `from __future__ import annotations`): TorchScript reads
# the real types of the torch.jit.ignore methods' signatures
import math
import re
from collections.abc import Sequence
from functools import partial
from typing import Any, Optional

import torch
import torch.nn.functional as F
from timm.layers import DropPath, calculate_drop_path_rates, get_device_dtype, register_notrace_module
from timm.models import generate_default_cfgs, register_model
from torch import Tensor, nn

from ..checkpoint import rename_prefixes
from ._base import Stage, StagedModelMixin, build_model, factory_kwargs, init_linear_and_layernorm, zoo_cfg
from ._layers import (
    Linear, Mlp, batch_norm_foldable, conv2d_act, fold_batch_norm, fused_conv2d, fused_inference_applies,
)
from ._ssm import SelectiveScanParams, dt_rank_for, scan_stacked

__all__ = ["GroupMamba", "GroupMambaLayer", "checkpoint_filter_fn"]

_NUM_GROUPS = 4  # channel groups, one cross2d route each
_BLOCK_EPS = 1e-6  # the builders' norm_layer (block / stage / head norms)
_INNER_EPS = 1e-5  # nn.LayerNorm default: stem, downsample, mixer and SS2D out norms


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused path
class Stem(nn.Module):
    """7x7/2 conv and two 3x3 convs (each BatchNorm + ReLU), a 3x3/2 conv, LayerNorm.
    NCHW image -> NHWC tokens at stride 4. For CPU float32 inference each eval-mode BatchNorm is
    folded into its convolution and the ReLU fused (one oneDNN pass per convolution)."""

    def __init__(self, in_chans: int, hidden_dim: int, dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, kernel in enumerate((7, 3, 3)):
            layers += [
                nn.Conv2d(in_chans if i == 0 else hidden_dim, hidden_dim, kernel, stride=2 if i == 0 else 1,
                          padding=kernel // 2, bias=False),
                nn.BatchNorm2d(hidden_dim),
                nn.ReLU(inplace=True),
            ]
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Conv2d(hidden_dim, dim, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(dim, eps=_INNER_EPS)

    def forward(self, x: Tensor) -> Tensor:
        x = x.contiguous(memory_format=torch.channels_last)  # the convolutions run faster on NHWC memory
        x = self.conv(x) if torch.jit.is_scripting() else self._folded_convs(x)
        return self.norm(self.proj(x).permute(0, 2, 3, 1))

    @torch.jit.unused
    def _folded_convs(self, x: Tensor) -> Tensor:
        """``self.conv(x)``, by the folded convolutions where the fused passes run."""
        layers = list(self.conv)
        triples = [layers[i:i + 3] for i in range(0, len(layers), 3)]
        if not fused_inference_applies(x, layers[0].weight):
            return self.conv(x)
        if not all(batch_norm_foldable(norm) for _, norm, _ in triples):
            return self.conv(x)
        for conv, norm, _ in triples:
            weight, bias = fold_batch_norm(conv.weight, conv.bias, norm)
            x = fused_conv2d(x, weight, bias, "relu", conv.stride, conv.padding, conv.dilation, conv.groups)
        return x


class Downsample(nn.Module):
    """3x3 stride-2 conv and LayerNorm, NHWC -> NHWC."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_dim, dim, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(dim, eps=_INNER_EPS)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class GroupSS2D(SelectiveScanParams):
    """The parameters of one channel group's SS2D (``mamba_g{k}``): one scan direction, d_state 1,
    expand 1, gated, depthwise 3x3 conv with bias. :class:`GroupMambaLayer` runs the four groups
    together, so this module has no forward of its own."""

    def __init__(self, dim: int) -> None:
        super().__init__(num_directions=1, d_inner=dim, dt_rank=dt_rank_for(dim), d_state=1)
        self.in_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.conv2d = nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=True)
        self.out_norm = nn.LayerNorm(dim, eps=_INNER_EPS)
        self.out_proj = nn.Linear(dim, dim, bias=False)


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused path
class GroupMambaLayer(nn.Module):
    """The Modulated Group Mamba token mixer on (batch, H, W, C); see the module docstring.

    Args:
        dim: Channels C (divisible by 4).
        reduction: Channel-affinity bottleneck: C // reduction hidden units.
    """

    def __init__(self, dim: int, reduction: int = 16) -> None:
        super().__init__()
        if dim % _NUM_GROUPS:
            raise ValueError(f"GroupMambaLayer needs channels divisible by {_NUM_GROUPS}, got {dim}")
        self.fc1 = nn.Linear(dim, dim // reduction)
        self.fc2 = nn.Linear(dim // reduction, dim)
        self.norm = nn.LayerNorm(dim, eps=_INNER_EPS)
        group_dim = dim // _NUM_GROUPS
        self.mamba_g1 = GroupSS2D(group_dim)
        self.mamba_g2 = GroupSS2D(group_dim)
        self.mamba_g3 = GroupSS2D(group_dim)
        self.mamba_g4 = GroupSS2D(group_dim)
        self.proj = Linear(dim, dim)
        self.skip_scale = nn.Parameter(torch.ones(1))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        self.skip_scale.fill_(1.0)

    def _groups(self) -> tuple[GroupSS2D, ...]:
        return (self.mamba_g1, self.mamba_g2, self.mamba_g3, self.mamba_g4)

    @torch.jit.ignore  # TorchScript calls it in Python (module tuples, the scan op's boundary)
    def _grouped_ssm(self, x: Tensor) -> Tensor:
        """The four per-group SS2Ds on the channel groups of normalised x (batch, H, W, C)."""
        batch, H, W, C = x.shape
        G, d, tokens = _NUM_GROUPS, C // _NUM_GROUPS, batch * H * W
        # not self._groups(): a TorchScript model runs this in Python without its Python methods
        groups = (self.mamba_g1, self.mamba_g2, self.mamba_g3, self.mamba_g4)
        # in_proj of every group: one batched matmul over (G, tokens, d) views of x
        w_in = torch.stack([g.in_proj.weight for g in groups]).transpose(1, 2)  # (G, d, 2d)
        xz = torch.bmm(x.reshape(tokens, G, d).transpose(0, 1), w_in)  # (G, tokens, 2d)
        xs, z = xz.split(d, dim=2)
        # channel-last (batch, H, W, G * d) map; the depthwise conv reads it as an NCHW view
        xs = xs.reshape(G, batch, H, W, d).permute(1, 2, 3, 0, 4).reshape(batch, H, W, G * d)
        conv_weight = torch.cat([g.conv2d.weight for g in groups])
        conv_bias = torch.cat([g.conv2d.bias for g in groups])
        xs = fused_conv2d(xs.permute(0, 3, 1, 2), conv_weight, conv_bias, "silu", padding=(1, 1), groups=G * d)
        y = scan_stacked(groups, xs.permute(0, 2, 3, 1), "cross2d_grouped")  # float32
        y = y.reshape(tokens, G * d)
        # each group's out_norm (LayerNorm over its d channels) is a group norm of G groups
        y = F.group_norm(
            y, G,
            torch.cat([g.out_norm.weight for g in groups]),
            torch.cat([g.out_norm.bias for g in groups]),
            eps=groups[0].out_norm.eps,
        ).to(x.dtype)
        y = y.view(tokens, G, d).transpose(0, 1) * F.silu(z)  # (G, tokens, d)
        w_out = torch.stack([g.out_proj.weight for g in groups]).transpose(1, 2)  # (G, d, d)
        y = torch.bmm(y, w_out)
        return y.view(G, batch, H, W, d).permute(1, 2, 3, 0, 4).reshape(batch, H, W, C)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """(batch, H, W, C) -> (batch, H, W, C); ``residual`` (same shape) is added to the output."""
        x = self.norm(x)
        affinity = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((1, 2))))))  # (batch, C)
        # the gate by the normalised input, skip_scale and the channel affinity, in one pass
        y = self._grouped_ssm(x) * x * (self.skip_scale * affinity)[:, None, None, :]
        return self.proj(self.norm(y), residual)


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused path
class DepthwiseConv(nn.Module):
    """Depthwise 3x3 conv (with bias) on NHWC tensors, followed by GELU (the FFN's activation,
    fused into the convolution for CPU inference by :func:`conv2d_act`). Keys ``dwconv.*``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 3, 1, 2)
        if torch.jit.is_scripting():
            return F.gelu(self.dwconv(x)).permute(0, 2, 3, 1)
        return conv2d_act(self.dwconv, x, "gelu").permute(0, 2, 3, 1)


class ConvFfn(nn.Module):
    """PVTv2's FFN: Linear, depthwise 3x3 conv, GELU, Linear (NHWC)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = Linear(dim, hidden_dim)
        self.dwconv = DepthwiseConv(hidden_dim)
        self.fc2 = Linear(hidden_dim, dim)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """(batch, H, W, C) -> (batch, H, W, C); ``residual`` (same shape) is added to the output."""
        return self.fc2(self.dwconv(self.fc1(x)), residual)


class GroupMambaBlock(nn.Module):
    """x + GroupMambaLayer(x), then x + FFN(LN(x)); the mixer normalises its input itself."""

    def __init__(self, dim: int, mlp_ratio: float, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm2 = nn.LayerNorm(dim, eps=_BLOCK_EPS)
        self.attn = GroupMambaLayer(dim)
        self.mlp = ConvFfn(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.training and not isinstance(self.drop_path, nn.Identity):
            x = x + self.drop_path(self.attn(x))
            return x + self.drop_path(self.mlp(self.norm2(x)))
        # no stochastic depth: the residual adds join proj's and fc2's oneDNN passes
        x = self.attn(x, residual=x)
        return self.mlp(self.norm2(x), residual=x)


class GroupMambaStage(Stage):
    """Optional downsample, ``depth`` blocks, optional LayerNorm (stages 1-3 of the original)."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        mlp_ratio: float,
        downsample: bool,
        norm: bool,
        drop_path: Sequence[float] = (),
    ) -> None:
        down = Downsample(in_dim, dim) if downsample else nn.Identity()
        rates = list(drop_path) or [0.0] * depth
        super().__init__(down, [GroupMambaBlock(dim, mlp_ratio, rates[i]) for i in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=_BLOCK_EPS) if norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.forward_blocks(self.downsample(x)))  # TorchScript has no super()


class ClassBlock(nn.Module):
    """The classifier's block on the pooled token (batch, 1, 1, C): post-norm mixer branch,
    pre-norm plain MLP (the original ``post_network.0``)."""

    def __init__(self, dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=_BLOCK_EPS)
        self.norm2 = nn.LayerNorm(dim, eps=_BLOCK_EPS)
        self.attn = GroupMambaLayer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.norm1(self.attn(x))
        return x + self.mlp(self.norm2(x))


class GroupMambaHead(nn.Module):
    """Mean-pool the tokens, :class:`ClassBlock`, LayerNorm, then the class and distillation heads.

    Returns the mean of both heads, or ``(head, dist_head)`` in train mode with
    ``distilled_training``. ``pool_type=''`` disables the whole head (returns its input).
    """

    def __init__(self, dim: int, num_classes: int, mlp_ratio: float, pool_type: str = "avg",
                 drop_rate: float = 0.0) -> None:
        super().__init__()
        self.dim = dim
        self.pool_type = _check_pool(pool_type)
        self.post = ClassBlock(dim, mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=_BLOCK_EPS)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        self.fc_dist = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        self.distilled_training = False

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if pool_type is not None:
            self.pool_type = _check_pool(pool_type)
        dd = get_device_dtype(self, device=device, dtype=dtype)
        self.fc = nn.Linear(self.dim, num_classes, **dd) if num_classes > 0 else nn.Identity()
        self.fc_dist = nn.Linear(self.dim, num_classes, **dd) if num_classes > 0 else nn.Identity()
        self.fc.train(self.training)
        self.fc_dist.train(self.training)

    # annotated as Tensor for TorchScript, which never takes the distilled-training pair (as timm's DeiT)
    def forward(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        if not self.pool_type:
            return x
        token = x.flatten(1, 2).mean(1)[:, None, None, :]  # (batch, 1, 1, C)
        x = self.drop(self.norm(self.post(token).flatten(1)))
        if pre_logits:
            return x
        logits, logits_dist = self.fc(x), self.fc_dist(x)
        if self.distilled_training and self.training and not torch.jit.is_scripting():
            return logits, logits_dist
        return (logits + logits_dist) / 2


def _check_pool(pool_type: str) -> str:
    if pool_type not in ("avg", ""):
        raise ValueError(f"GroupMamba supports global_pool 'avg' or '' (no head), got {pool_type!r}")
    return pool_type


class GroupMamba(StagedModelMixin, nn.Module):
    """GroupMamba backbone + distilled classifier (see the module docstring).

    Args:
        in_chans: Input image channels.
        num_classes: Classes of both heads (0 = no heads; the head then returns pre-logits).
        global_pool: ``'avg'`` (mean token, class block, norm, heads) or ``''`` (no head at all).
        stem_hidden_dim: Width of the stem's three BatchNorm convs.
        embed_dims: Stage widths (each divisible by 4).
        depths: Blocks per stage.
        mlp_ratios: FFN width ratio per stage (the last one also sizes the class block's MLP).
        drop_rate: Dropout before the heads (the original has none).
        drop_path_rate: Stochastic depth, linearly increasing over the stage blocks.
    """

    final_norm_pattern = r"^stages\.(\d+)\.norm"
    # stages 1-3 end in their own LayerNorm (the original norm1..3); the stage-4 norm (the
    # original norm4) sits in the head, which applies it after pooling and the class block
    final_norm_path = "head.norm"
    features_normed = False
    stage_outputs_normed = True

    @factory_kwargs
    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        stem_hidden_dim: int = 32,
        embed_dims: Sequence[int] = (64, 128, 348, 448),
        depths: Sequence[int] = (3, 4, 9, 3),
        mlp_ratios: Sequence[float] = (8, 8, 4, 4),
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not len(embed_dims) == len(depths) == len(mlp_ratios):
            raise ValueError("embed_dims, depths and mlp_ratios must have the same length")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.output_fmt = "NHWC"
        self.num_features = self.head_hidden_size = embed_dims[-1]

        self.stem = Stem(in_chans, stem_hidden_dim, embed_dims[0])
        rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        stages, self.feature_info = [], []
        last = len(depths) - 1
        for i, depth in enumerate(depths):
            stages.append(GroupMambaStage(
                embed_dims[max(i - 1, 0)], embed_dims[i], depth, mlp_ratios[i],
                downsample=i > 0, norm=i < last, drop_path=rates[i],
            ))
            self.feature_info.append(dict(num_chs=embed_dims[i], reduction=4 * 2**i, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.head = GroupMambaHead(embed_dims[-1], num_classes, mlp_ratios[-1], global_pool, drop_rate)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GroupMamba's init: the common one plus He-normal convs; the scan parameters keep theirs.
        init_linear_and_layernorm(module)
        if isinstance(module, nn.Conv2d):
            fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
            nn.init.normal_(module.weight, 0, math.sqrt(2.0 / fan_out))
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    @torch.jit.ignore
    def set_distilled_training(self, enable: bool = True) -> None:
        """Train mode returns ``(head, dist_head)`` logits (as the original) instead of their mean."""
        self.head.distilled_training = enable

    def _remove_head(self) -> None:
        # no parameter may stay unused (DDP): the class block goes with the heads
        self.head.post = nn.Identity()
        self.reset_classifier(0, "")


# ---------------------------------------------------------------------------------------------
# Checkpoints

_ORIGINAL_KEYS = (
    (re.compile(r"^patch_embed1\."), lambda m: "stem."),
    (re.compile(r"^patch_embed([234])\."), lambda m: f"stages.{int(m[1]) - 1}.downsample."),
    (re.compile(r"^block([1234])\."), lambda m: f"stages.{int(m[1]) - 1}.blocks."),
    (re.compile(r"^norm([123])\."), lambda m: f"stages.{int(m[1]) - 1}.norm."),
    (re.compile(r"^norm4\."), lambda m: "head.norm."),
    (re.compile(r"^post_network\.0\."), lambda m: "head.post."),
    (re.compile(r"^head\."), lambda m: "head.fc."),
    (re.compile(r"^dist_head\."), lambda m: "head.fc_dist."),
)


def checkpoint_filter_fn(state_dict: dict[str, Tensor], model: GroupMamba) -> dict[str, Tensor]:
    """Map an original GroupMamba state dict (``classification/models/groupmamba.py`` names) to
    ours. Our own state dicts pass through unchanged; unknown keys are kept (strict loading names
    them)."""
    state_dict = state_dict.get("model", state_dict)
    if any(k.startswith("stages.") for k in state_dict):
        return dict(state_dict)
    return rename_prefixes(state_dict, _ORIGINAL_KEYS)


GroupMamba.checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

_cfg = partial(
    zoo_cfg,
    first_conv="stem.conv.0",
    classifier=("head.fc", "head.fc_dist"),
    license="non-commercial",  # the weights' licence (timm's field): see notes
    origin_url="https://github.com/Amshaker/GroupMamba",
    paper_ids="arXiv:2407.13772",
    paper_name="GroupMamba: Efficient Group-Based Visual State Space Model",
    notes=(
        "EMA weights trained with hard distillation from RegNetY-16GF; output = mean of both heads",
        "Weights licence: non-commercial, as the Hugging Face weight cards state in their text (their "
        "metadata says mit); the code is MIT",
    ),
)


_HF = "https://huggingface.co/Abdelrahman-shaker/"

default_cfgs = generate_default_cfgs({
    "groupmamba_tiny.in1k": _cfg(url=_HF + "GroupMamba-Tiny/resolve/main/groupmamba_tiny_ema.pth"),
    "groupmamba_small.in1k": _cfg(url=_HF + "GroupMamba-Small/resolve/main/groupmamba_small_ema.pth"),
    "groupmamba_base.in1k": _cfg(url=_HF + "GroupMamba-Base/resolve/main/groupmamba_base_ema.pth"),
})

# The upstream groupmamba_{tiny,small,base} builders. drop_path_rate is left to the caller (timm
# convention); the releases were trained with 0.05.
_VARIANTS = {
    "groupmamba_tiny": dict(stem_hidden_dim=32, embed_dims=(64, 128, 348, 448), depths=(3, 4, 9, 3)),
    "groupmamba_small": dict(stem_hidden_dim=64, embed_dims=(64, 128, 348, 512), depths=(3, 4, 16, 3)),
    "groupmamba_base": dict(stem_hidden_dim=64, embed_dims=(96, 192, 424, 512), depths=(3, 6, 21, 3)),
}


def _create_groupmamba(variant: str, pretrained: bool = False, **kwargs: Any) -> GroupMamba:
    return build_model(GroupMamba, variant, pretrained, **{**_VARIANTS[variant], **kwargs})


@register_model
def groupmamba_tiny(pretrained: bool = False, **kwargs: Any) -> GroupMamba:
    """GroupMamba-T (23.4M params, 83.3% top-1)."""
    return _create_groupmamba("groupmamba_tiny", pretrained, **kwargs)


@register_model
def groupmamba_small(pretrained: bool = False, **kwargs: Any) -> GroupMamba:
    """GroupMamba-S (34.8M params, 83.9% top-1)."""
    return _create_groupmamba("groupmamba_small", pretrained, **kwargs)


@register_model
def groupmamba_base(pretrained: bool = False, **kwargs: Any) -> GroupMamba:
    """GroupMamba-B (57.2M params, 84.5% top-1)."""
    return _create_groupmamba("groupmamba_base", pretrained, **kwargs)
