"""Cross-scan / cross-merge: the 2D map <-> K sequences reshuffles of the visual-Mamba families.

``cross_scan(x, mode)`` maps (batch, C, H, W) to (batch, K, C', L) (C' = C, or C/K for grouped
modes); ``cross_merge(ys, H, W, mode)`` maps them back to (batch, C, H*W) and is the exact
adjoint of the scan, so each is the other's backward. Modes and index orders: :mod:`.modes`.
Both are custom ops (``vmamba_zoo::cross_scan``, ``vmamba_zoo::cross_merge``): one node each
for fvcore and ``torch.jit.trace``, whichever backend runs them. Pure data movement: the output
keeps the input dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import backends
from .modes import MODES, check_mode, geometry

_PACKAGE = __name__


def _kernels(backend: str):
    return backends.load(_PACKAGE, backend)


@torch.library.custom_op("vmamba_zoo::cross_scan", mutates_args=())
def _cross_scan_op(x: Tensor, mode: str, backend: str) -> Tensor:
    return _kernels(backend).scan(x, mode)


@_cross_scan_op.register_fake
def _(x, mode, backend):
    batch, channels, H, W = x.shape
    geo = geometry(mode, H, W)
    return x.new_empty(batch, geo.K, channels // geo.K if geo.grouped else channels, geo.length)


@torch.library.custom_op("vmamba_zoo::cross_merge", mutates_args=())
def _cross_merge_op(ys: Tensor, H: int, W: int, mode: str, backend: str) -> Tensor:
    return _kernels(backend).merge(ys, H, W, mode)


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


def cross_scan(x: Tensor, mode: str = "cross2d", backend: str = "auto") -> Tensor:
    """(batch, C, H, W) -> (batch, K, C', L) in the order of ``mode`` (see :mod:`.modes`)."""
    check_mode(mode)
    _check_floating("x", x)
    if x.dim() != 4:
        raise ValueError(f"x must be 4-D (batch, C, H, W), got shape {tuple(x.shape)}")
    batch, channels, H, W = x.shape
    if min(batch, channels, H, W) == 0:
        raise ValueError(f"x must have non-empty dims, got shape {tuple(x.shape)}")
    geo = geometry(mode, H, W)
    if geo.grouped and channels % geo.K:
        raise ValueError(f"mode {mode!r} needs channels divisible by {geo.K}, got {channels}")
    backend = backends.resolve(backend, x.device)
    return _cross_scan_op(x.contiguous(), mode, backend)


def cross_merge(ys: Tensor, H: int, W: int, mode: str = "cross2d", backend: str = "auto") -> Tensor:
    """(batch, K, C', L) -> (batch, C, H*W): the adjoint of :func:`cross_scan` for ``mode``."""
    check_mode(mode)
    _check_floating("ys", ys)
    if ys.dim() != 4:
        raise ValueError(f"ys must be 4-D (batch, K, C, L), got shape {tuple(ys.shape)}")
    H, W = int(H), int(W)
    if H <= 0 or W <= 0:
        raise ValueError(f"H and W must be positive, got H={H}, W={W}")
    geo = geometry(mode, H, W)
    if ys.shape[1] != geo.K or ys.shape[3] != geo.length:
        raise ValueError(
            f"mode {mode!r} at H={H}, W={W} needs ys of shape (batch, {geo.K}, C, {geo.length}), "
            f"got {tuple(ys.shape)}"
        )
    if ys.shape[0] == 0 or ys.shape[2] == 0:
        raise ValueError(f"ys must have non-empty dims, got shape {tuple(ys.shape)}")
    backend = backends.resolve(backend, ys.device)
    return _cross_merge_op(ys.contiguous(), H, W, mode, backend)


__all__ = ["MODES", "cross_merge", "cross_scan"]
