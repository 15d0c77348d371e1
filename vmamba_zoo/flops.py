"""FLOP counting the way the visual-Mamba papers do: fvcore, one multiply-add = one FLOP, with
handles for our scan ops (``9·B·L·D·N + B·D·L`` for the selective scan, Albert Gu's estimate
used by VMamba; ``7·B·L·D·N`` for the all-states scan, as Spatial-Mamba counts it) and the
cross-scan / cross-merge data movement counted as zero."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


def _shape(value) -> list[int] | None:
    sizes = value.type().sizes() if hasattr(value.type(), "sizes") else None
    return list(sizes) if sizes is not None else None


def selective_scan_flop_jit(inputs, outputs) -> int:
    """fvcore handle of ``vmamba_zoo::selective_scan``: 9·B·L·D·N, plus B·D·L for the D skip."""
    batch, channels, length = _shape(inputs[0])
    state = _shape(inputs[2])[1]
    flops = 9 * batch * length * channels * state
    if _shape(inputs[5]) is not None:  # D given
        flops += batch * channels * length
    return flops


def selective_scan_states_flop_jit(inputs, outputs) -> int:
    """fvcore handle of ``vmamba_zoo::selective_scan_states``: 7·B·L·D·N (no C, no D term)."""
    batch, channels, length = _shape(inputs[0])
    state = _shape(inputs[2])[1]
    return 7 * batch * length * channels * state


def cross_selective_scan_flop_jit(inputs, outputs) -> int:
    """fvcore handle of ``vmamba_zoo::cross_selective_scan``: what its chain counts, i.e. the
    x_proj and dt_proj matmuls (as bmm) plus the selective scan; the reshuffles count zero."""
    from .ops.cross_scan.modes import geometry

    batch, H, W, _ = _shape(inputs[0])
    K, rows, dir_channels = _shape(inputs[1])
    rank = _shape(inputs[2])[2]
    state = _shape(inputs[4])[1]
    length = geometry(inputs[6].toIValue(), H, W).length
    channels = K * dir_channels
    projections = batch * length * channels * (rows + rank)
    return projections + 9 * batch * length * channels * state + batch * channels * length


def _state_fusion_dilations(inputs) -> list[int]:
    dilations = inputs[2].toIValue()
    if dilations is None:  # traced as a prim::ListConstruct of constants
        dilations = [value.toIValue() for value in inputs[2].node().inputs()]
    return dilations


def state_fusion_flop_jit(inputs, outputs) -> int:
    """fvcore handle of ``vmamba_zoo::state_fusion`` in an eval-mode count: the merged
    (2·max(d) + 1)² depthwise convolution it equals (the original's eval path),
    B·C·H·W·(2·max(d) + 1)²."""
    batch, channels, H, W = _shape(inputs[0])
    size = 2 * max(_state_fusion_dilations(inputs)) + 1
    return batch * channels * H * W * size * size


def state_fusion_train_flop_jit(inputs, outputs) -> int:
    """fvcore handle of ``vmamba_zoo::state_fusion`` in a train-mode count: the dilated 3x3
    depthwise convolutions it sums (the original's train path), B·C·H·W·9 per dilation."""
    batch, channels, H, W = _shape(inputs[0])
    return batch * channels * H * W * 9 * len(_state_fusion_dilations(inputs))


# Element-wise ops the papers' counters leave at zero; listing them silences fvcore's warnings.
_ZERO_COST_OPS = (
    "aten::silu", "aten::neg", "aten::exp", "aten::flip", "aten::gelu", "aten::sigmoid",
    "aten::softplus", "aten::add", "aten::add_", "aten::mul", "aten::mul_", "aten::sub",
    "aten::div", "aten::relu", "aten::relu_", "aten::hardswish", "aten::hardswish_",
    "aten::hardsigmoid", "aten::softmax", "aten::mean", "aten::pad", "aten::dropout",
    "aten::pow", "aten::sum", "aten::rsub", "aten::clone", "aten::repeat", "aten::rand",
    "aten::bernoulli_", "aten::div_", "aten::floor_", "aten::fill_", "aten::zeros",
    "aten::constant_pad_nd", "aten::replication_pad2d", "aten::scatter_add_", "aten::gather",
)

OP_HANDLES = {
    "vmamba_zoo::selective_scan": selective_scan_flop_jit,
    "vmamba_zoo::selective_scan_states": selective_scan_states_flop_jit,
    "vmamba_zoo::cross_scan": None,
    "vmamba_zoo::cross_merge": None,
    "vmamba_zoo::cross_selective_scan": cross_selective_scan_flop_jit,
    "vmamba_zoo::state_fusion": state_fusion_flop_jit,
    **{op: None for op in _ZERO_COST_OPS},
}


def count_flops(
    model: nn.Module,
    input_size: Sequence[int] = (3, 224, 224),
    batch_size: int = 1,
    train_mode: bool | None = None,
) -> int:
    """FLOPs (fvcore multiply-adds) of one forward of ``model`` on ``(batch_size, *input_size)``.

    The model is deep-copied and run in eval mode, or in train mode where its paper counted that
    way: ``train_mode=None`` (the default) follows the model's ``flops_train_mode`` attribute
    (Spatial-Mamba sets it: train mode counts its state fusion as three dilated 3x3 convolutions
    and batch norm at 5 FLOPs per element, which is how its published numbers were produced; the
    model runs the same fused ``state_fusion`` op in both modes, only its count differs).
    """
    if train_mode is None:
        train_mode = bool(getattr(model, "flops_train_mode", False))
    from fvcore.nn import FlopCountAnalysis

    if len(input_size) != 3:
        raise ValueError(f"input_size must be (channels, height, width), got {tuple(input_size)}")
    model = copy.deepcopy(model).train(train_mode)
    try:
        param = next(model.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    inputs = torch.randn(batch_size, *input_size, device=device, dtype=dtype)
    handles = dict(OP_HANDLES)
    if train_mode:
        handles["vmamba_zoo::state_fusion"] = state_fusion_train_flop_jit
    analysis = FlopCountAnalysis(model, (inputs,)).set_op_handle(**handles)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    with torch.no_grad():
        return int(analysis.total())
