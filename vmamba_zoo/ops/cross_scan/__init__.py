"""Cross-scan / cross-merge: the 2D map <-> K sequences reshuffles of the visual-Mamba families.

``cross_scan(x, mode)`` maps (batch, C, H, W) to (batch, K, C', L) (C' = C, or C/K for grouped
modes); ``cross_merge(ys, H, W, mode)`` maps them back to (batch, C, H*W) and is the exact
adjoint of the scan, so each is the other's backward. Modes and index orders: :mod:`.modes`.
Both are custom ops (``vmamba_zoo::cross_scan``, ``vmamba_zoo::cross_merge``): one node each
for fvcore and ``torch.jit.trace``, whichever backend runs them. Pure data movement: the output
keeps the input dtype.
"""

from __future__ import annotations

import operator

import torch
from torch import Tensor

from .. import backends
from .modes import MODES, check_mode, geometry

_PACKAGE = __name__


def _kernels(backend: str):
    return backends.load(_PACKAGE, backend)


@torch.library.custom_op("vmamba_zoo::cross_scan", mutates_args=())
def _cross_scan_op(x: Tensor, mode: str, backend: str) -> Tensor:
    _check_scan_input(x, mode)
    _check_backend(backend, x)
    if x.shape[0] == 0:  # an empty batch: an empty output, whatever the backend
        geo = geometry(mode, x.shape[2], x.shape[3])
        return x.new_empty(0, geo.K, x.shape[1] // geo.K if geo.grouped else x.shape[1], geo.length)
    return _kernels(backend).scan(x.contiguous(), mode)


@_cross_scan_op.register_fake
def _(x, mode, backend):
    batch, channels, H, W = x.shape
    geo = geometry(mode, H, W)
    return x.new_empty(batch, geo.K, channels // geo.K if geo.grouped else channels, geo.length)


@torch.library.custom_op("vmamba_zoo::cross_merge", mutates_args=())
def _cross_merge_op(ys: Tensor, H: int, W: int, mode: str, backend: str) -> Tensor:
    geo = _check_merge_input(ys, H, W, mode)
    _check_backend(backend, ys)
    if ys.shape[0] == 0:
        return ys.new_empty(0, geo.K * ys.shape[2] if geo.grouped else ys.shape[2], H * W)
    return _kernels(backend).merge(ys.contiguous(), H, W, mode)


@_cross_merge_op.register_fake
def _(ys, H, W, mode, backend):
    batch, K, channels, _ = ys.shape
    grouped = geometry(mode, H, W).grouped
    return ys.new_empty(batch, K * channels if grouped else channels, H * W)


def _scan_setup_context(ctx, inputs, output):
    x, mode, backend = inputs
    ctx.hw, ctx.mode, ctx.backend = x.shape[2:], mode, backend


def _scan_backward(ctx, dxs):
    H, W = ctx.hw
    dx = _cross_merge_op(dxs.contiguous(), H, W, ctx.mode, ctx.backend)
    return dx.view(dx.shape[0], dx.shape[1], H, W), None, None


def _merge_setup_context(ctx, inputs, output):
    ys, H, W, mode, backend = inputs
    ctx.hw, ctx.mode, ctx.backend = (H, W), mode, backend


def _merge_backward(ctx, dy):
    H, W = ctx.hw
    dy = dy.contiguous().view(dy.shape[0], dy.shape[1], H, W)
    return _cross_scan_op(dy, ctx.mode, ctx.backend), None, None, None, None


_cross_scan_op.register_autograd(_scan_backward, setup_context=_scan_setup_context)
_cross_merge_op.register_autograd(_merge_backward, setup_context=_merge_setup_context)


def _check_floating(name: str, t: Tensor) -> None:
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")


def _check_size(name: str, value) -> int:
    """A positive integer map size: ints, integer scalars (numpy, 0-d tensors) and symbolic ints
    pass; floats (even integral ones), bools and anything else are errors."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(value, (int, torch.SymInt)):
        try:
            value = operator.index(value)
        except TypeError:
            raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if value <= 0:
        raise ValueError(f"H and W must be positive, got {name}={value}")
    return value


def _check_scan_input(x: Tensor, mode: str) -> None:
    check_mode(mode)
    _check_floating("x", x)
    if x.dim() != 4:
        raise ValueError(f"x must be 4-D (batch, C, H, W), got shape {tuple(x.shape)}")
    _, channels, H, W = x.shape
    if min(channels, H, W) == 0:
        raise ValueError(f"x must have non-empty channel and spatial dims, got shape {tuple(x.shape)}")
    geo = geometry(mode, H, W)
    if geo.grouped and channels % geo.K:
        raise ValueError(f"mode {mode!r} needs channels divisible by {geo.K}, got {channels}")


def _check_merge_input(ys: Tensor, H: int, W: int, mode: str):
    check_mode(mode)
    _check_floating("ys", ys)
    if ys.dim() != 4:
        raise ValueError(f"ys must be 4-D (batch, K, C, L), got shape {tuple(ys.shape)}")
    H, W = _check_size("H", H), _check_size("W", W)
    geo = geometry(mode, H, W)
    if ys.shape[1] != geo.K or ys.shape[3] != geo.length:
        raise ValueError(
            f"mode {mode!r} at H={H}, W={W} needs ys of shape (batch, {geo.K}, C, {geo.length}), "
            f"got {tuple(ys.shape)}"
        )
    if ys.shape[2] == 0:
        raise ValueError(f"ys must have a non-empty channel dim, got shape {tuple(ys.shape)}")
    return geo


def _check_backend(backend: str, t: Tensor) -> None:
    reason = backends.unavailable_reason(backend, t.device)
    if reason is not None:
        raise ValueError(f"backend {backend!r} cannot run this call: {reason}")


def cross_scan(x: Tensor, mode: str = "cross2d", backend: str = "auto") -> Tensor:
    """(batch, C, H, W) -> (batch, K, C', L) in the order of ``mode`` (see :mod:`.modes`)."""
    _check_scan_input(x, mode)
    backend = backends.resolve(backend, x.device)
    return _cross_scan_op(x.contiguous(), mode, backend)


def cross_merge(ys: Tensor, H: int, W: int, mode: str = "cross2d", backend: str = "auto") -> Tensor:
    """(batch, K, C', L) -> (batch, C, H*W): the adjoint of :func:`cross_scan` for ``mode``."""
    _check_merge_input(ys, H, W, mode)
    H, W = _check_size("H", H), _check_size("W", W)
    backend = backends.resolve(backend, ys.device)
    return _cross_merge_op(ys.contiguous(), H, W, mode, backend)


__all__ = ["MODES", "cross_merge", "cross_scan"]
