"""Structure-aware state fusion (Spatial-Mamba): the hidden-state maps ``h`` (batch, C, H, W)
mixed spatially by dilated depthwise 3x3 convolutions of replicate-padded maps, summed::

    out = sum_t conv2d(replicate_pad(h, d_t), weight[t], dilation=d_t, groups=C)

(``weight[t]`` (C, 3, 3) already carries the model's ``alpha_t``.) The ``"cpu"`` backend computes
the 27 taps directly (one fused kernel, ``vmamba_zoo::state_fusion``) where oneDNN would run the
equivalent 11x11 depthwise kernel, 121 taps, on a padded copy; its backward
(``vmamba_zoo::state_fusion_backward``) is a C++ kernel too: each tap's transpose and weight
gradient over the padded plane, then the replicate padding's adjoint. The other backends run the
convolutions, each differentiated by autograd, the oracle of the fused op. Both give the same
numbers up to float rounding. FLOPs: the fused node counts as that merged
(2 max(d) + 1)^2 depthwise convolution, the convention of the original's eval path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import backends


@torch.library.custom_op("vmamba_zoo::state_fusion", mutates_args=())
def _fused_op(h: Tensor, weight: Tensor, dilations: list[int]) -> Tensor:
    from ... import _C

    _check_inputs(h, weight, dilations)
    if h.dtype not in (torch.float32, torch.float64) or weight.dtype != h.dtype:
        raise ValueError(f"the fused op takes float32 or float64 tensors of one dtype, got {h.dtype} and {weight.dtype}")
    if h.device.type != "cpu":
        raise ValueError(f"the fused op runs on CPU tensors, got tensors on {h.device}")
    if h.shape[0] == 0:  # an empty batch: an empty output
        return torch.empty_like(h)
    return _C.state_fusion_fwd(h.contiguous(), weight.contiguous(), dilations)


@_fused_op.register_fake
def _(h, weight, dilations):
    return torch.empty_like(h)


@torch.library.custom_op("vmamba_zoo::state_fusion_backward", mutates_args=())
def _fused_backward_op(h: Tensor, weight: Tensor, dilations: list[int], dout: Tensor) -> tuple[Tensor, Tensor]:
    from ... import _C

    _check_inputs(h, weight, dilations)
    if dout.shape != h.shape or dout.dtype != h.dtype:
        raise ValueError(f"dout must be like h {tuple(h.shape)} {h.dtype}, got {tuple(dout.shape)} {dout.dtype}")
    if h.shape[0] == 0:
        return torch.zeros_like(h), torch.zeros_like(weight)
    dh, dweight = _C.state_fusion_bwd(h.contiguous(), weight.contiguous(), dilations, dout.contiguous())
    return dh, dweight


@_fused_backward_op.register_fake
def _(h, weight, dilations, dout):
    return torch.empty_like(h), torch.empty_like(weight)


def _fused_setup_context(ctx, inputs, output):
    h, weight, dilations = inputs
    ctx.save_for_backward(h, weight)
    ctx.dilations = dilations


def _fused_backward(ctx, dout):
    h, weight = ctx.saved_tensors
    dh, dweight = _fused_backward_op(h, weight, ctx.dilations, dout.contiguous())
    return dh, dweight, None


_fused_op.register_autograd(_fused_backward, setup_context=_fused_setup_context)


def _chain(h: Tensor, weight: Tensor, dilations: Sequence[int]) -> Tensor:
    out = None
    for w, d in zip(weight, dilations):
        term = F.conv2d(F.pad(h, (d,) * 4, mode="replicate"), w.unsqueeze(1).to(h.dtype), dilation=d, groups=h.shape[1])
        out = term if out is None else out + term
    return out


def _check_inputs(h: Tensor, weight: Tensor, dilations: Sequence[int]) -> None:
    for name, t in (("h", h), ("weight", weight)):
        if not isinstance(t, Tensor) or not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point torch.Tensor")
    if h.dim() != 4 or min(h.shape[1:]) == 0:
        raise ValueError(f"h must be a (batch, C, H, W) map with C, H, W >= 1, got shape {tuple(h.shape)}")
    if not dilations or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dilations):
        raise ValueError(f"dilations must be positive ints, got {dilations}")
    expected = (len(dilations), h.shape[1], 3, 3)
    if tuple(weight.shape) != expected:
        raise ValueError(f"weight must be (len(dilations), C, 3, 3) = {expected}, got {tuple(weight.shape)}")
    if weight.device != h.device:
        raise ValueError(f"h and weight must be on one device, got {h.device} and {weight.device}")


def state_fusion(h: Tensor, weight: Tensor, dilations: Sequence[int] = (1, 3, 5), backend: str = "auto") -> Tensor:
    """Spatial-Mamba's state fusion of ``h`` (batch, C, H, W); see the module docstring.

    ``weight``: (len(dilations), C, 3, 3), one depthwise kernel per dilation. Returns a map of
    ``h``'s shape, in ``h``'s dtype (float32 or float64 on the fused path).
    """
    dilations = list(dilations)
    _check_inputs(h, weight, dilations)
    backend = backends.resolve(backend, h.device)
    if h.shape[0] == 0:  # an empty batch: an empty output, on every path
        return torch.empty_like(h)
    if backend != "cpu" or h.dtype not in (torch.float32, torch.float64):
        return _chain(h, weight, dilations)
    return _fused_op(h.contiguous(), weight.to(h.dtype).contiguous(), dilations)


__all__ = ["state_fusion"]
