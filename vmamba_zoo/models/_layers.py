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
:func:`conv2d_gelu` does the same for a convolution followed by GELU, :func:`conv2d_silu` for
one followed by SiLU under bfloat16 autocast. TorchScript compiles the plain path (the oneDNN
call is left to Python); symbolic tracing (``torch.fx``, timm's feature extraction) keeps
:class:`Linear` and :class:`Mlp` as leaf modules, so a traced graph computes exactly what the
eager model does.
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


@torch.jit.unused
def _onednn_linear(linear: nn.Linear, x: Tensor, activation: str) -> Tensor | None:
    """oneDNN's linear (then ``activation``) where it applies (see the module docstring), else None."""
    algorithm = "none" if activation != "none" else ""
    if _ONEDNN_LINEAR is None:
        return None
    if _onednn_applies(x, linear.weight):
        return _ONEDNN_LINEAR(x, linear.weight, linear.bias, activation, [], algorithm)
    if _onednn_bf16_applies(x, linear.weight):
        bias = None if linear.bias is None else bfloat16_copy(linear, "bias")
        return _ONEDNN_LINEAR(x.to(torch.bfloat16), bfloat16_copy(linear, "weight"), bias, activation, [], algorithm)
    return None


@register_notrace_module
class Linear(nn.Linear):
    """``nn.Linear`` that runs oneDNN's linear for CPU inference, float32 or bfloat16 autocast
    (see the module docstring)."""

    def forward(self, x: Tensor) -> Tensor:
        if not torch.jit.is_scripting():
            y = _onednn_linear(self, x, "none")
            if y is not None:
                return y
        return F.linear(x, self.weight, self.bias)


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

    def forward(self, x: Tensor) -> Tensor:
        y = None if torch.jit.is_scripting() else _onednn_linear(self.fc1, x, "gelu")
        x = self.act(self.fc1(x)) if y is None else y
        return self.fc2(x)


@torch.jit.unused
def _onednn_conv(conv: nn.Conv2d, x: Tensor, activation: str, algorithm: str, float32: bool = True) -> Tensor | None:
    """oneDNN's convolution then ``activation`` where it applies (as :func:`_onednn_linear`; in
    float32 only if ``float32``), else None."""
    padding = conv.padding if isinstance(conv.padding, tuple) and isinstance(conv.padding[0], int) else None
    if _ONEDNN_CONV is None or conv.padding_mode != "zeros" or padding is None:
        return None
    args = (list(padding), list(conv.stride), list(conv.dilation), conv.groups, activation, [], algorithm)
    if float32 and _onednn_applies(x, conv.weight):
        return _ONEDNN_CONV(x, conv.weight, conv.bias, *args)
    if _onednn_bf16_applies(x, conv.weight):
        bias = None if conv.bias is None else bfloat16_copy(conv, "bias")
        return _ONEDNN_CONV(x.to(torch.bfloat16), bfloat16_copy(conv, "weight"), bias, *args)
    return None


def conv2d_gelu(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """GELU(conv(x)) for an NCHW ``x``; one oneDNN pass for CPU inference (float32, or bfloat16
    autocast), which saves a read and a write of the convolution's output (GroupMamba's FFN:
    depthwise 3x3 then GELU)."""
    if not torch.jit.is_scripting():
        y = _onednn_conv(conv, x, "gelu", "none")
        if y is not None:
            return y
    return F.gelu(conv(x))


def conv2d_silu(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """SiLU(conv(x)) for an NCHW ``x`` (the SS2D blocks' depthwise 3x3 then SiLU), one oneDNN
    pass under CPU bfloat16 autocast (inference). Not in float32: there the blocks' torch.fx
    traces (which record the convolution and F.silu) compute exactly what the eager model does.
    TorchScript callers call the plain ops (a module argument cannot be called there)."""
    if not torch.jit.is_scripting():
        y = _onednn_conv(conv, x, "swish", "", float32=False)
        if y is not None:
            return y
    return F.silu(conv(x))


__all__ = ["LayerNorm", "Linear", "Mlp", "bfloat16_copy", "conv2d_gelu", "conv2d_silu"]
