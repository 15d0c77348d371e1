"""Spatial-Mamba: visual state space models with structure-aware state fusion, as timm models.

Paper: "Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State Fusion",
Chaodong Xiao, Minghan Li et al., ICLR 2025 (arXiv:2410.15091). Original code and weights:
https://github.com/EdwardChasel/Spatial-Mamba (Apache-2.0). Registered: ``spatialmamba_tiny``,
``spatialmamba_small``, ``spatialmamba_base``.

Architecture (upstream ``classification/models/spatialmamba.py``): MLLA's BatchNorm/ReLU conv stem and inverted-bottleneck
downsampling, four stages of blocks ``x + cpe1(x)``, ``x + SSM(LN(x))``, ``x + cpe2(x)``,
``x + MLP(LN(x))`` (cpe = residual depthwise 3x3 conv), LayerNorm, average pool, linear head.
The token mixer (:class:`StructureAwareSSM`) runs ONE row-major selective scan with d_state 1 but
keeps every hidden state (``selective_scan_states``), fuses the states spatially with three
dilated (1, 3, 5) depthwise 3x3 convolutions on replicate-padded maps (:class:`StateFusion`), and
only then applies the observation equation y = C·ĥ + D·u.

Train vs eval fusion: in train mode the fusion is the three dilated convolutions weighted by
``alpha`` (what the paper's FLOP count sees: 27 MACs per state); in eval mode the original merges
the three kernels into one 11x11 depthwise kernel (cached at the first eval forward and never
refreshed, even after new weights are loaded). Ours runs the ``state_fusion`` op on the current
parameters in both modes: the same sum, on the CPU one fused 27-tap kernel with a fused backward
for training. fvcore counts it as the three 3x3 convolutions in a train-mode count and as the
merged 11x11 kernel in an eval-mode count (:mod:`vmamba_zoo.flops`).

FLOPs: the paper counts the model in train mode (``count_flops(model, train_mode=True)``:
BatchNorm 5 per element, fusion 27 MACs per state) - the numbers in ``default_cfgs`` notes and the
model cards follow that convention; ``count_flops(model)`` (eval mode: merged 11x11 fusion, BN
2 per element) gives a larger number for the same model.

Layout: channel-last (batch, H, W, C) tensors; ``forward_features`` returns NHWC,
``forward_intermediates`` / ``features_only`` NCHW. Stage taps are the block outputs before the
next stage's downsample, as in the original detection backbone, which additionally applies a
fresh ``outnorm{i}`` LayerNorm (eps 1e-5) to each tap (those norms belong to the MMEngine
wrapper, not to the classifier). Original checkpoint keys (``patch_embed``, ``layers.{i}``,
``head``) are mapped by :func:`checkpoint_filter_fn`.
"""

# annotations are evaluated here (no `from __future__ import annotations`): TorchScript reads
# the real types of the torch.jit.ignore methods' signatures
import re
from collections.abc import Sequence
from functools import partial
from typing import Any, Optional

import torch
import torch.fx
import torch.nn.functional as F
from timm.layers import ClassifierHead, DropPath, calculate_drop_path_rates, register_notrace_module
from timm.models import generate_default_cfgs, register_model
from torch import Tensor, nn

from ..checkpoint import rename_prefixes
from ..ops import selective_scan_states, state_fusion
from ._base import Stage, StagedModelMixin, build_model, factory_kwargs, init_linear_and_layernorm, stage_dims, zoo_cfg
from ._layers import (
    Linear, Mlp, batch_norm_foldable, conv2d_act, conv2d_residual, fold_batch_norm, fused_conv2d,
    fused_inference_applies, linear_act,
)
from ._ssm import SelectiveScanParams, dt_rank_for

__all__ = ["SpatialMamba", "StructureAwareSSM", "StateFusion", "checkpoint_filter_fn"]

_FUSION_DILATIONS = (1, 3, 5)



@torch.jit.ignore
def scan_states_op(xs: Tensor, dts: Tensor, A: Tensor, Bs: Tensor, delta_bias: Tensor) -> Tensor:
    """:func:`~vmamba_zoo.ops.selective_scan_states` with Δ softplus as one call: symbolic tracing
    (torch.fx) records it instead of tracing the op's boundary checks, and TorchScript (of a model
    or of its traced graph) calls it in Python."""
    return selective_scan_states(xs, dts, A, Bs, delta_bias=delta_bias, delta_softplus=True)


@torch.jit.ignore
def state_fusion_op(h: Tensor, weight: Tensor, backend: str) -> Tensor:
    """:func:`~vmamba_zoo.ops.state_fusion` with the model's dilations, one call as :func:`scan_states_op`."""
    return state_fusion(h, weight, _FUSION_DILATIONS, backend=backend)


torch.fx.wrap("scan_states_op")
torch.fx.wrap("state_fusion_op")


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused CPU passes
class ConvNormAct(nn.Module):
    """Conv2d, optional BatchNorm, optional ReLU (MLLA's ``ConvLayer``; keys ``conv``, ``norm``).

    For CPU float32 inference an eval-mode BatchNorm is folded into the convolution's weights and
    the ReLU fused: one oneDNN pass."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        bias: bool = True,
        norm: bool = True,
        act: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, padding, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(out_chs) if norm else nn.Identity()
        self.act = nn.ReLU() if act else nn.Identity()
        self.activation = "relu" if act else "none"

    def forward(self, x: Tensor) -> Tensor:
        if not torch.jit.is_scripting():
            folded = self._folded(x)
            if folded is not None:
                conv = self.conv
                return fused_conv2d(x, folded[0], folded[1], self.activation, conv.stride, conv.padding,
                                    conv.dilation, conv.groups)
        return self.act(self.norm(self.conv(x)))

    def forward_pointwise_nhwc(self, x: Tensor) -> Tensor:
        """The same layer, for a 1x1 conv, on (batch, H, W, C): one GEMM over the pixels, which
        reads the channel-last memory in place (on CPU faster than oneDNN's 1x1 convolution of the
        NCHW view)."""
        if self.conv.kernel_size != (1, 1) or self.conv.stride != (1, 1) or self.conv.groups != 1:
            raise RuntimeError("forward_pointwise_nhwc needs a 1x1, stride-1, dense conv")
        if not torch.jit.is_scripting():
            folded = self._folded(x)
            if folded is not None:
                return linear_act(x, folded[0].flatten(1), folded[1], self.activation)
        x = F.linear(x, self.conv.weight.flatten(1), self.conv.bias)
        return self.act(self.norm(x.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)

    @torch.jit.unused
    def _folded(self, x: Tensor) -> Optional[tuple[Tensor, Optional[Tensor]]]:
        """The convolution's weight and bias with the eval-mode BatchNorm folded in, where the
        fused CPU float32 inference passes run; else None."""
        weight, bias, norm = self.conv.weight, self.conv.bias, self.norm
        if not fused_inference_applies(x, weight):
            return None
        if isinstance(norm, nn.Identity):
            return weight, bias
        if not batch_norm_foldable(norm):
            return None
        return fold_batch_norm(weight, bias, norm)


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused CPU passes
class Stem(nn.Module):
    """3x3/2 conv, a residual pair of 3x3 convs, 3x3/2 conv to 4E and 1x1 conv to E (all with
    BatchNorm). NCHW image -> NHWC at stride 4."""

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__()
        hidden = dim // 2
        self.conv1 = ConvNormAct(in_chans, hidden, 3, stride=2, padding=1, bias=False)
        self.conv2 = nn.Sequential(
            ConvNormAct(hidden, hidden, 3, padding=1, bias=False),
            ConvNormAct(hidden, hidden, 3, padding=1, bias=False, act=False),
        )
        self.conv3 = nn.Sequential(
            ConvNormAct(hidden, 4 * dim, 3, stride=2, padding=1, bias=False),
            ConvNormAct(4 * dim, dim, 1, bias=False, act=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x.contiguous(memory_format=torch.channels_last))  # NHWC memory from here on
        x = self.conv2(x) + x
        x = self.conv3[0](x)
        return self.conv3[1].forward_pointwise_nhwc(x.permute(0, 2, 3, 1))


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused CPU passes
class Downsample(nn.Module):
    """Inverted bottleneck C -> 8C (1x1, ReLU) -> depthwise 3x3/2 (ReLU) -> 2C (1x1, BatchNorm);
    NHWC -> NHWC."""

    def __init__(self, dim: int, out_dim: int, ratio: int = 4) -> None:
        super().__init__()
        hidden = out_dim * ratio
        self.conv = nn.Sequential(
            ConvNormAct(dim, hidden, 1, norm=False),
            ConvNormAct(hidden, hidden, 3, stride=2, padding=1, groups=hidden, norm=False),
            ConvNormAct(hidden, out_dim, 1, act=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        # expand, depthwise, project (indexed: TorchScript unpacks no Sequential)
        x = self.conv[1](self.conv[0].forward_pointwise_nhwc(x).permute(0, 3, 1, 2))
        return self.conv[2].forward_pointwise_nhwc(x.permute(0, 2, 3, 1))


class StateFusion(nn.Module):
    """Structure-aware state fusion: ĥ = Σ_i α_i · dwconv3x3_dilation(d_i)(replicate_pad(h)).

    Both modes run the :func:`~vmamba_zoo.ops.state_fusion` op (on the CPU one fused kernel, forward
    and backward); a FLOP count sees the original's train-mode convolutions or its merged eval
    kernel, after the mode it counts in.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.kernel_3 = nn.Parameter(torch.ones(dim, 1, 3, 3))
        self.kernel_3_1 = nn.Parameter(torch.ones(dim, 1, 3, 3))
        self.kernel_3_2 = nn.Parameter(torch.ones(dim, 1, 3, 3))
        self.alpha = nn.Parameter(torch.ones(len(_FUSION_DILATIONS)))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for parameter in (self.alpha, *self._kernels()):
            parameter.fill_(1.0)

    def _kernels(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.kernel_3, self.kernel_3_1, self.kernel_3_2

    def forward(self, h: Tensor) -> Tensor:
        """(batch, dim, H, W) states -> fused states, same shape."""
        alpha = self.alpha
        weight = torch.stack([alpha[0] * self.kernel_3.squeeze(1), alpha[1] * self.kernel_3_1.squeeze(1),
                              alpha[2] * self.kernel_3_2.squeeze(1)])
        return state_fusion_op(h, weight, "auto")


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused CPU passes
class StructureAwareSSM(SelectiveScanParams):
    """Spatial-Mamba's token mixer on (batch, H, W, C): gated single-direction SSM whose hidden
    states are fused spatially before the output projection C (keys as the original).

    Args:
        dim: Block width C.
        d_state: SSM state size (the released models, and the fusion, need 1).
        expand: d_inner = expand * C.
        dt_rank: Δ projection rank; None = ceil(C / 16).
    """

    def __init__(self, dim: int, d_state: int = 1, expand: int = 2, dt_rank: int | None = None) -> None:
        if d_state != 1:
            raise ValueError(f"structure-aware state fusion needs d_state=1, got {d_state}")
        D = expand * dim
        # one row-major direction, stored without the direction axis as the original does
        super().__init__(1, D, dt_rank or dt_rank_for(dim), d_state, direction_axis=False)
        self.in_proj = Linear(dim, 2 * D, bias=False)
        self.conv2d = nn.Conv2d(D, D, 3, padding=1, groups=D)
        self.state_fusion = StateFusion(D)
        self.out_norm = nn.LayerNorm(D)
        self.out_proj = Linear(D, dim, bias=False)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """(batch, H, W, C) -> (batch, H, W, C); ``residual`` (same shape) is added to the output."""
        batch, H, W, _ = x.shape
        D, R, L = self.d_inner, self.dt_rank, H * W
        # the two halves of in_proj as dense maps (the conv reads a strided half only through a
        # copy), SiLU(z) in the same pass as its projection
        z = self.in_proj.forward_rows(x, D, 2 * D, silu=True)
        x = self.in_proj.forward_rows(x, 0, D)
        if torch.jit.is_scripting():
            xs = F.silu(self.conv2d(x.permute(0, 3, 1, 2))).reshape(batch, D, L)
        else:
            xs = conv2d_act(self.conv2d, x.permute(0, 3, 1, 2), "silu").reshape(batch, D, L)
        # bmm with the weight broadcast over the batch reads xs in place (a 2-D @ 3-D matmul
        # would transpose-copy it) and fvcore counts it exactly as the original's matmul
        x_dbl = torch.bmm(self.x_proj_weight.to(xs.dtype).expand(batch, -1, -1), xs)  # (batch, R + 2, L)
        dts, Bs, Cs = torch.split(x_dbl, [R, 1, 1], dim=1)
        dts = torch.bmm(self.dt_projs_weight.to(xs.dtype).expand(batch, -1, -1), dts)  # (batch, D, L)
        h = scan_states_op(
            xs, dts, -torch.exp(self.A_logs.float()), Bs.unsqueeze(1), self.dt_projs_bias.float()
        )  # (batch, D, 1, L) float32
        h = self.state_fusion(h.view(batch, D, H, W)).view(batch, D, L)
        y = h * Cs + xs * self.Ds.view(-1, 1)
        y = self.out_norm(y.transpose(1, 2)).view(batch, H, W, D)
        return self.out_proj((y * z).to(x.dtype), residual)


@register_notrace_module  # torch.fx keeps it whole: traced graphs take the same fused CPU passes
class SpatialMambaBlock(nn.Module):
    """cpe1, pre-norm SSM, cpe2, pre-norm MLP - all residual - on (batch, H, W, C)."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop_path: float = 0.0, d_state: int = 1) -> None:
        super().__init__()
        self.cpe1 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.ln_1 = nn.LayerNorm(dim)
        self.self_attention = StructureAwareSSM(dim, d_state=d_state)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.cpe2 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        if torch.jit.is_scripting() or (self.training and not isinstance(self.drop_path, nn.Identity)):
            x = x + self.cpe1(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            x = x + self.drop_path(self.self_attention(self.ln_1(x)))
            x = x + self.cpe2(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            return x + self.drop_path(self.mlp(self.ln_2(x)))
        # no stochastic depth: each residual add joins the oneDNN pass before it (the position
        # encodings' convolutions, out_proj, fc2)
        x = conv2d_residual(self.cpe1, x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        x = self.self_attention(self.ln_1(x), residual=x)
        x = conv2d_residual(self.cpe2, x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.mlp(self.ln_2(x), residual=x)


class SpatialMambaStage(Stage):
    """Optional downsample from ``in_dim``, then ``depth`` blocks."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        downsample: bool,
        drop_path: Sequence[float] = (),
        **block_kwargs: Any,
    ) -> None:
        down = Downsample(in_dim, dim) if downsample else nn.Identity()
        rates = list(drop_path) or [0.0] * depth
        super().__init__(down, [SpatialMambaBlock(dim, drop_path=rates[i], **block_kwargs) for i in range(depth)])


class SpatialMamba(StagedModelMixin, nn.Module):
    """Spatial-Mamba backbone + classifier (see the module docstring).

    Args:
        in_chans: Input image channels.
        num_classes: Classifier outputs (0 = no classifier).
        global_pool: ``'avg'`` or ``''`` (no pooling).
        depths: Blocks per stage.
        dims: Stage widths, or the first width (doubled per stage).
        d_state: SSM state size (1; the fusion needs it).
        mlp_ratio: MLP hidden width / C.
        drop_rate: Dropout before the classifier.
        drop_path_rate: Stochastic depth, linearly increasing over all blocks.
    """

    # The paper's FLOPs count the train-mode model (fusion as three 3x3 convs, BatchNorm 5 per
    # element); count_flops follows this attribute by default.
    flops_train_mode = True

    @factory_kwargs
    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        depths: Sequence[int] = (2, 4, 8, 4),
        dims: int | Sequence[int] = 64,
        d_state: int = 1,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        dims = stage_dims(dims, depths)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.output_fmt = "NHWC"
        self.num_features = self.head_hidden_size = dims[-1]

        self.stem = Stem(in_chans, dims[0])
        rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        stages, self.feature_info = [], []
        for i, depth in enumerate(depths):
            stages.append(SpatialMambaStage(
                dims[max(i - 1, 0)], dims[i], depth, downsample=i > 0, drop_path=rates[i],
                mlp_ratio=mlp_ratio, d_state=d_state,
            ))
            self.feature_info.append(dict(num_chs=dims[i], reduction=4 * 2**i, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = ClassifierHead(dims[-1], num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC")
        self.apply(init_linear_and_layernorm)  # Spatial-Mamba's init


# ---------------------------------------------------------------------------------------------
# Checkpoints

_ORIGINAL_KEYS = (
    (re.compile(r"^patch_embed\."), lambda m: "stem."),
    (re.compile(r"^layers\.(\d+)\.blocks\."), lambda m: f"stages.{m[1]}.blocks."),
    # the original downsample ends stage i; ours starts stage i + 1
    (re.compile(r"^layers\.(\d+)\.downsample\."), lambda m: f"stages.{int(m[1]) + 1}.downsample."),
    (re.compile(r"^head\."), lambda m: "head.fc."),
)


def checkpoint_filter_fn(state_dict: dict[str, Tensor], model: SpatialMamba) -> dict[str, Tensor]:
    """Map an original Spatial-Mamba state dict (``classification/models/spatialmamba.py``
    names) to ours. Our own state dicts pass through unchanged; unknown keys are kept (strict
    loading names them)."""
    state_dict = state_dict.get("model", state_dict)
    if any(k.startswith("stages.") for k in state_dict):
        return dict(state_dict)
    return rename_prefixes(state_dict, _ORIGINAL_KEYS)


SpatialMamba.checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

_cfg = partial(
    zoo_cfg,
    first_conv="stem.conv1.conv",
    license="apache-2.0",
    origin_url="https://github.com/EdwardChasel/Spatial-Mamba",
    paper_ids="arXiv:2410.15091",
    paper_name="Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State Fusion",
)


def _drive(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


_DRIVE_NOTE = (
    "Released on Google Drive (no direct download): fetch the file and load it with "
    "timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=PATH))"
)
_FLOPS_NOTE = "Published GFLOPs are counted in train mode: vmamba_zoo.count_flops(model, train_mode=True)"

default_cfgs = generate_default_cfgs({
    "spatialmamba_tiny.in1k": _cfg(url=_drive("19kXoqGSTuKKs4AHbdUSrdKZTwTWenLIW"), notes=(_DRIVE_NOTE, _FLOPS_NOTE)),
    "spatialmamba_small.in1k": _cfg(url=_drive("1Wb3sYoWLpgmWrmHMYKwdgDwGPZaqM28O"), notes=(_DRIVE_NOTE, _FLOPS_NOTE)),
    "spatialmamba_base.in1k": _cfg(url=_drive("1k8dHp2QRCOqBSgAi36YkhZp_O8LqOPjM"), notes=(_DRIVE_NOTE, _FLOPS_NOTE)),
})

# The upstream classification/configs/spatialmamba/*.yaml. drop_path_rate is left to the caller
# (timm convention); the releases were trained with 0.2 / 0.3 / 0.5.
_VARIANTS = {
    "spatialmamba_tiny": dict(depths=(2, 4, 8, 4), dims=64),
    "spatialmamba_small": dict(depths=(2, 4, 21, 5), dims=64),
    "spatialmamba_base": dict(depths=(2, 4, 21, 5), dims=96),
}


def _create_spatialmamba(variant: str, pretrained: bool = False, **kwargs: Any) -> SpatialMamba:
    return build_model(SpatialMamba, variant, pretrained, **{**_VARIANTS[variant], **kwargs})


@register_model
def spatialmamba_tiny(pretrained: bool = False, **kwargs: Any) -> SpatialMamba:
    """Spatial-Mamba-T (26.7M params, 4.47 GFLOPs in train mode, 83.5% top-1)."""
    return _create_spatialmamba("spatialmamba_tiny", pretrained, **kwargs)


@register_model
def spatialmamba_small(pretrained: bool = False, **kwargs: Any) -> SpatialMamba:
    """Spatial-Mamba-S (43.1M params, 7.12 GFLOPs in train mode, 84.6% top-1)."""
    return _create_spatialmamba("spatialmamba_small", pretrained, **kwargs)


@register_model
def spatialmamba_base(pretrained: bool = False, **kwargs: Any) -> SpatialMamba:
    """Spatial-Mamba-B (95.7M params, 15.8 GFLOPs in train mode, 85.3% top-1)."""
    return _create_spatialmamba("spatialmamba_base", pretrained, **kwargs)
