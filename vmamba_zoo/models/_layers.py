"""Linear layers with a CPU inference fast path, shared by the families.

oneDNN's linear primitive (``torch.ops.mkldnn._linear_pointwise``, the op torch.compile's CPU
backend emits for linear layers) is faster for CPU inference than the MKL ``addmm`` behind
``F.linear`` and can apply GELU to its output in the same pass (see the README's notes on the
CPU path). :class:`Linear` and :class:`Mlp` keep ``nn.Linear`` / timm ``Mlp`` parameters and
state-dict keys and take that path only where it computes the same function: CPU, float32, no
autocast and no gradient needed, outside JIT tracing and torch.compile. Everywhere else they are exactly
``nn.Linear`` and timm's ``Mlp``. :func:`conv2d_gelu` does the same for a convolution followed
by GELU. TorchScript compiles the plain path (the oneDNN call is left to Python); symbolic tracing
(``torch.fx``, timm's feature extraction) keeps :class:`Linear` and :class:`Mlp` as leaf modules,
so a traced graph computes exactly what the eager model does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import register_notrace_module
from torch import Tensor, nn


def _find_onednn_op(name: str):
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return getattr(torch.ops.mkldnn, name)
    except (AttributeError, RuntimeError):
        return None


_ONEDNN_LINEAR = _find_onednn_op("_linear_pointwise")
_ONEDNN_CONV = _find_onednn_op("_convolution_pointwise")


@torch.jit.unused
def _onednn_applies(x: Tensor, weight: Tensor) -> bool:
    # First what decides under torch.compile / JIT tracing, so that nothing below (which may
    # break a dynamo graph) runs there: the JIT tracer (fvcore's FLOP counts) cannot record the
    # op's Scalar?[] argument, and inductor lowers it only for frozen weights (it fuses
    # F.linear itself). A torch.fx Proxy (symbolic tracing) is no Tensor: the plain path.
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or not isinstance(x, Tensor):
        return False
    return (
        torch.backends.mkldnn.enabled
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
    )


@torch.jit.unused
def _onednn_linear(x: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor | None:
    """oneDNN's linear (then ``activation``) where it applies (see :func:`_onednn_applies`), else None."""
    if _ONEDNN_LINEAR is None or not _onednn_applies(x, weight):
        return None
    return _ONEDNN_LINEAR(x, weight, bias, activation, [], "none" if activation != "none" else "")


@register_notrace_module
class Linear(nn.Linear):
    """``nn.Linear`` that runs oneDNN's linear for CPU float32 inference (see the module docstring)."""

    def forward(self, x: Tensor) -> Tensor:
        if not torch.jit.is_scripting():
            y = _onednn_linear(x, self.weight, self.bias, "none")
            if y is not None:
                return y
        return F.linear(x, self.weight, self.bias)


@register_notrace_module
class Mlp(nn.Module):
    """timm's ``Mlp`` with its defaults (``fc1``, exact GELU, ``fc2``; the same keys) whose CPU
    float32 inference computes fc1 and GELU in one oneDNN pass."""

    def __init__(self, in_features: int, hidden_features: int) -> None:
        super().__init__()
        self.fc1 = Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = Linear(hidden_features, in_features)

    def forward(self, x: Tensor) -> Tensor:
        y = None if torch.jit.is_scripting() else _onednn_linear(x, self.fc1.weight, self.fc1.bias, "gelu")
        x = self.act(self.fc1(x)) if y is None else y
        return self.fc2(x)


def conv2d_gelu(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """GELU(conv(x)) for an NCHW ``x``; one oneDNN pass for CPU float32 inference, which saves
    a read and a write of the convolution's output (GroupMamba's FFN: depthwise 3x3 then GELU)."""
    if _ONEDNN_CONV is not None and conv.padding_mode == "zeros" and _onednn_applies(x, conv.weight):
        padding = conv.padding if isinstance(conv.padding, tuple) and isinstance(conv.padding[0], int) else None
        if padding is not None:
            return _ONEDNN_CONV(
                x, conv.weight, conv.bias, list(padding), list(conv.stride), list(conv.dilation), conv.groups,
                "gelu", [], "none",
            )
    return F.gelu(conv(x))


__all__ = ["Linear", "Mlp", "conv2d_gelu"]
