"""Linear layers with a CPU inference fast path, shared by the families.

oneDNN's linear primitive (``torch.ops.mkldnn._linear_pointwise``, the op torch.compile's CPU
backend emits for linear layers) is faster for CPU inference than the MKL ``addmm`` behind
``F.linear`` and can apply GELU to its output in the same pass (see the README's notes on the
CPU path). :class:`Linear` and :class:`Mlp` keep ``nn.Linear`` / timm ``Mlp`` parameters and
state-dict keys and take that path only where it computes the same function: CPU, float32, no
autocast and no gradient needed, outside JIT tracing and torch.compile. Under CPU bfloat16
autocast (same conditions otherwise, on a CPU whose oneDNN has native bfloat16) they run the same
primitive in bfloat16, as autocast's ``F.linear`` would, but with a bfloat16 copy of the weight
made once and kept (the float32 parameter stays the source of truth: the copy is remade when the
parameter changes, in place or replaced) instead of a cast at every forward pass, and with the
MLP's GELU in the same pass. Everywhere else they are exactly ``nn.Linear`` and timm's ``Mlp``.
Both can add a residual to their output (``residual=``), which float32 oneDNN does in the same
pass (a sum post-op) instead of a separate add over the block's output, and
:meth:`Linear.forward_rows` computes a slice of the layer's outputs as a dense tensor (a gated
block's two halves, the gate's SiLU fused). :func:`conv2d_act` does the same for a convolution
followed by GELU, SiLU or ReLU, :func:`conv2d_residual` for ``x + conv(x)``, :func:`linear_act`
for a linear layer given by its weights (a BatchNorm folded into them). TorchScript compiles
the plain path (the oneDNN call is left to Python); symbolic tracing (``torch.fx``, timm's
feature extraction) keeps :class:`Linear`, :class:`Mlp` and the blocks that call these
functions as leaf modules, so a traced graph computes exactly what the eager model does.
"""

from __future__ import annotations

from typing import Optional

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
_ONEDNN_LINEAR_BINARY = getattr(_ONEDNN_LINEAR, "binary", None) if _ONEDNN_LINEAR is not None else None
_ONEDNN_CONV_BINARY = getattr(_ONEDNN_CONV, "binary", None) if _ONEDNN_CONV is not None else None


_ONEDNN_BF16 = _ONEDNN_LINEAR is not None and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _outside_compile_and_tracing(x: Tensor) -> bool:
    # First what decides under torch.compile / JIT tracing, so that nothing below (which may
    # break a dynamo graph) runs there: the JIT tracer (fvcore's FLOP counts) cannot record the
    # op's Scalar?[] argument, and inductor lowers it only for frozen weights (it fuses
    # F.linear itself). A torch.fx Proxy (symbolic tracing) is no Tensor: the plain path.
    return not (torch.compiler.is_compiling() or torch.jit.is_tracing()) and isinstance(x, Tensor)


def _cpu_inference(x: Tensor, weight: Tensor) -> bool:
    return (
        torch.backends.mkldnn.enabled
        and x.device.type == "cpu"
        and weight.dtype == torch.float32
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
    )


@torch.jit.unused
def _onednn_applies(x: Tensor, weight: Tensor) -> bool:
    """Float32 CPU inference without autocast (see the module docstring)."""
    return (
        _outside_compile_and_tracing(x)
        and x.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and _cpu_inference(x, weight)
    )


@torch.jit.unused
def _onednn_bf16_applies(x: Tensor, weight: Tensor) -> bool:
    """CPU inference under bfloat16 autocast, float32 parameters, oneDNN with native bfloat16."""
    return (
        _ONEDNN_BF16
        and _outside_compile_and_tracing(x)
        and x.dtype in (torch.float32, torch.bfloat16)
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and _cpu_inference(x, weight)
    )


@torch.jit.unused
def bfloat16_copy(module: nn.Module, name: str) -> Tensor:
    """``module.<name>`` (a float32 tensor) in bfloat16, converted at the first call and kept
    until the tensor changes: in place (its version counter: ``load_state_dict``, optimizers,
    in-place ops under ``torch.no_grad``) or replaced (its address; the kept entry holds the old
    storage so that the address is not reused meanwhile). Writes through ``.data`` bypass the
    version counter, as they do for autograd, and are not seen. Inference tensors have no
    version counter: they are converted at every call."""
    source = getattr(module, name)
    if source.is_inference():
        return source.to(torch.bfloat16)
    key = (source.data_ptr(), source._version, tuple(source.shape), tuple(source.stride()))
    cache = module.__dict__.setdefault("_bfloat16_copies", {})
    entry = cache.get(name)
    if entry is None or entry[0] != key:
        entry = (key, source.untyped_storage(), source.detach().to(torch.bfloat16))
        cache[name] = entry
    return entry[2]


_ACTIVATIONS = ("none", "relu", "gelu", "silu")


def _onednn_attr(activation: str) -> tuple[str, str]:
    """oneDNN's post-op name and algorithm argument of an activation."""
    if activation == "gelu":
        return "gelu", "none"  # exact (erf) GELU
    return ("swish" if activation == "silu" else activation), ""


def _activation(y: Tensor, activation: str) -> Tensor:
    if activation == "gelu":
        return F.gelu(y)
    if activation == "silu":
        return F.silu(y)
    if activation == "relu":
        return F.relu(y)
    return y


@torch.jit.unused
def _onednn_linear(
    linear: nn.Linear, x: Tensor, activation: str, start: int = 0, stop: Optional[int] = None
) -> Tensor | None:
    """oneDNN's linear (then ``activation``) where it applies (see the module docstring), else
    None; outputs ``start:stop`` only."""
    if _ONEDNN_LINEAR is None:
        return None
    attr, algorithm = _onednn_attr(activation)
    if _onednn_applies(x, linear.weight):
        weight, bias = linear.weight, linear.bias
    elif _onednn_bf16_applies(x, linear.weight):
        x = x.to(torch.bfloat16)
        weight = bfloat16_copy(linear, "weight")
        bias = None if linear.bias is None else bfloat16_copy(linear, "bias")
    else:
        return None
    if start != 0 or stop is not None:
        weight = weight[start:stop]
        bias = None if bias is None else bias[start:stop]
    return _ONEDNN_LINEAR(x, weight, bias, attr, [], algorithm)


@torch.jit.unused
def _onednn_linear_add(linear: nn.Linear, x: Tensor, residual: Tensor) -> Tensor | None:
    """``residual + linear(x)`` by float32 oneDNN's linear with a sum post-op where it applies,
    else None."""
    if _ONEDNN_LINEAR_BINARY is None or not _onednn_applies(x, linear.weight):
        return None
    if (
        residual.shape != x.shape[:-1] + (linear.out_features,)
        or residual.dtype != x.dtype
        or residual.device != x.device
        or not residual.is_contiguous()
        or (torch.is_grad_enabled() and residual.requires_grad)
    ):
        return None
    return _ONEDNN_LINEAR_BINARY(x, residual, linear.weight, linear.bias, "add")


def _add_residual(y: Tensor, residual: Optional[Tensor]) -> Tensor:
    return y if residual is None else residual + y


@register_notrace_module
class Linear(nn.Linear):
    """``nn.Linear`` that runs oneDNN's linear for CPU inference, float32 or bfloat16 autocast
    (see the module docstring)."""

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """``linear(x)``, or ``residual + linear(x)``."""
        if not torch.jit.is_scripting():
            if residual is not None:
                y = _onednn_linear_add(self, x, residual)
                if y is not None:
                    return y
            y = _onednn_linear(self, x, "none")
            if y is not None:
                return _add_residual(y, residual)
        return _add_residual(F.linear(x, self.weight, self.bias), residual)

    def forward_rows(self, x: Tensor, start: int, stop: int, silu: bool = False) -> Tensor:
        """Outputs ``start:stop`` of the layer (``silu``: then SiLU) as a dense tensor: the same
        numbers as slicing :meth:`forward`'s output, without the strided view."""
        if not torch.jit.is_scripting():
            y = _onednn_linear(self, x, "silu" if silu else "none", start, stop)
            if y is not None:
                return y
        y = F.linear(x, self.weight[start:stop], None if self.bias is None else self.bias[start:stop])
        return F.silu(y) if silu else y


def linear_act(x: Tensor, weight: Tensor, bias: Optional[Tensor], activation: str = "none") -> Tensor:
    """``activation(linear(x))`` for weights that are no module's (``activation`` one of "none",
    "relu", "gelu", "silu"); one oneDNN pass for CPU float32 inference."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    if not torch.jit.is_scripting() and _ONEDNN_LINEAR is not None and _onednn_applies(x, weight):
        attr, algorithm = _onednn_attr(activation)
        return _ONEDNN_LINEAR(x, weight, bias, attr, [], algorithm)
    return _activation(F.linear(x, weight, bias), activation)


def fused_inference_applies(x: Tensor, weight: Tensor) -> bool:
    """Whether the float32 oneDNN passes of this module run for input ``x`` and ``weight``: a
    caller that reshapes its weights for them (a folded BatchNorm) asks first, so that every other
    path computes exactly as before."""
    return not torch.jit.is_scripting() and _onednn_applies(x, weight)


def _layer_norm_kernel():
    """``vmamba_zoo._C.layer_norm_bf16``, or None without the CPU extension."""
    try:
        from .. import _C
    except ImportError:
        return None
    return getattr(_C, "layer_norm_bf16", None)


_LAYER_NORM_BF16 = _layer_norm_kernel()


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` (same parameters and keys) for norms whose output feeds a linear layer.

    Under CPU bfloat16 autocast (inference, where :class:`Linear` runs in bfloat16) it returns
    bfloat16 from a float32 or a bfloat16 input: one kernel pass in float32 math, rounded once
    (``vmamba_zoo._C.layer_norm_bf16``). The linear layer would round a float32 output to
    bfloat16 anyway; this saves writing it in float32 and the cast. A residual stream normed here
    stays float32 (only the norm's output is bfloat16). Everywhere else it is ``nn.LayerNorm``."""

    def forward(self, x: Tensor) -> Tensor:
        if not torch.jit.is_scripting():
            y = _layer_norm_bf16(self, x)
            if y is not None:
                return y
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


@torch.jit.unused
def _layer_norm_bf16(norm: nn.LayerNorm, x: Tensor) -> Tensor | None:
    if (
        _LAYER_NORM_BF16 is None
        or not _outside_compile_and_tracing(x)  # first: under torch.fx the parameters are proxies too
        or norm.weight is None
        or norm.bias is None
        or len(norm.normalized_shape) != 1
        or norm.bias.dtype != torch.float32
        or not _onednn_bf16_applies(x, norm.weight)
        or (torch.is_grad_enabled() and norm.bias.requires_grad)
    ):
        return None
    return _LAYER_NORM_BF16(x.contiguous(), norm.weight, norm.bias, norm.eps)


@register_notrace_module
class Mlp(nn.Module):
    """timm's ``Mlp`` with its defaults (``fc1``, exact GELU, ``fc2``; the same keys) whose CPU
    inference (float32, or bfloat16 autocast) computes fc1 and GELU in one oneDNN pass."""

    def __init__(self, in_features: int, hidden_features: int) -> None:
        super().__init__()
        self.fc1 = Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = Linear(hidden_features, in_features)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """``mlp(x)``, or ``residual + mlp(x)``."""
        y = None if torch.jit.is_scripting() else _onednn_linear(self.fc1, x, "gelu")
        x = self.act(self.fc1(x)) if y is None else y
        return self.fc2(x, residual)


def _conv_padding(conv: nn.Conv2d) -> list[int] | None:
    """The convolution's explicit zero padding, None where oneDNN's call cannot take it."""
    padding = conv.padding
    if conv.padding_mode != "zeros" or not (isinstance(padding, tuple) and isinstance(padding[0], int)):
        return None
    return list(padding)


@torch.jit.unused
def _onednn_conv(conv: nn.Conv2d, x: Tensor, activation: str) -> Tensor | None:
    """oneDNN's convolution then ``activation`` where it applies (as :func:`_onednn_linear`),
    else None."""
    padding = _conv_padding(conv)
    if _ONEDNN_CONV is None or padding is None:
        return None
    attr, algorithm = _onednn_attr(activation)
    args = (padding, list(conv.stride), list(conv.dilation), conv.groups, attr, [], algorithm)
    if _onednn_applies(x, conv.weight):
        return _ONEDNN_CONV(x, conv.weight, conv.bias, *args)
    if _onednn_bf16_applies(x, conv.weight):
        bias = None if conv.bias is None else bfloat16_copy(conv, "bias")
        return _ONEDNN_CONV(x.to(torch.bfloat16), bfloat16_copy(conv, "weight"), bias, *args)
    return None


def conv2d_act(conv: nn.Conv2d, x: Tensor, activation: str) -> Tensor:
    """``activation(conv(x))`` for an NCHW ``x``, ``activation`` "gelu" (exact), "silu" or
    "relu"; one oneDNN pass for CPU inference (float32, or bfloat16 autocast), which saves a read
    and a write of the convolution's output (the SS2D blocks' depthwise conv then SiLU,
    GroupMamba's FFN's depthwise conv then GELU). TorchScript callers call the plain ops (a
    module argument cannot be called there)."""
    if activation not in _ACTIVATIONS[1:]:
        raise ValueError(f"activation must be one of {_ACTIVATIONS[1:]}, got {activation!r}")
    if not torch.jit.is_scripting():
        y = _onednn_conv(conv, x, activation)
        if y is not None:
            return y
    return _activation(conv(x), activation)


def fused_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    activation: str = "none",
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> Tensor:
    """``activation(F.conv2d(x, weight, bias, stride, padding, dilation, groups))``,
    ``activation`` one of "none", "relu", "gelu", "silu", for weights that are no module's (a
    BatchNorm folded into them, groups' weights concatenated); one oneDNN pass for CPU float32
    inference."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    if not torch.jit.is_scripting() and _ONEDNN_CONV is not None and _onednn_applies(x, weight):
        attr, algorithm = _onednn_attr(activation)
        return _ONEDNN_CONV(x, weight, bias, list(padding), list(stride), list(dilation), groups, attr, [], algorithm)
    return _activation(F.conv2d(x, weight, bias, stride, padding, dilation, groups), activation)


def batch_norm_foldable(norm: nn.Module) -> bool:
    """Whether ``norm`` is a BatchNorm that :func:`fold_batch_norm` can fold: eval mode, with running
    statistics (in train mode, or without them, it normalises by the batch's own statistics)."""
    return (
        isinstance(norm, nn.BatchNorm2d)
        and not norm.training
        and norm.running_mean is not None
        and norm.running_var is not None
    )


def fold_batch_norm(weight: Tensor, bias: Optional[Tensor], norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """The weight and bias of a convolution (or linear layer: output channels first) followed by
    the eval-mode ``norm``, folded into one."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("fold_batch_norm needs a BatchNorm with running statistics")
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale if bias is None else (bias - norm.running_mean) * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return weight * scale.view((-1,) + (1,) * (weight.dim() - 1)), shift


@torch.jit.unused
def _onednn_conv_add(conv: nn.Conv2d, x: Tensor) -> Tensor | None:
    """``x + conv(x)`` by float32 oneDNN's convolution with an add post-op where it applies, else None."""
    padding = _conv_padding(conv)
    if _ONEDNN_CONV_BINARY is None or padding is None or not _onednn_applies(x, conv.weight):
        return None
    if conv.in_channels != conv.out_channels or any(s != 1 for s in conv.stride):
        return None
    return _ONEDNN_CONV_BINARY(
        x, x, conv.weight, conv.bias, padding, list(conv.stride), list(conv.dilation), conv.groups,
        "add", None, None, [], None,
    )


def conv2d_residual(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``x + conv(x)`` for an NCHW ``x`` and a size-preserving convolution; one oneDNN pass for
    CPU float32 inference (Spatial-Mamba's conditional position encodings)."""
    if not torch.jit.is_scripting():
        y = _onednn_conv_add(conv, x)
        if y is not None:
            return y
    return x + conv(x)


__all__ = [
    "LayerNorm", "Linear", "Mlp", "batch_norm_foldable", "bfloat16_copy", "conv2d_act", "conv2d_residual",
    "fold_batch_norm", "fused_conv2d", "fused_inference_applies", "linear_act",
]
