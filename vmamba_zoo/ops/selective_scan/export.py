"""The selective scan in standard tensor ops, the form the exporters trace (ONNX, pure-aten
``torch.export`` programs).

Same math and discretisation as the reference (:mod:`.reference`): ``a_l = exp(dt_l A)``,
``b_l = dt_l B_l u_l``, ``h_l = a_l h_{l-1} + b_l``, solved by a log-depth (Hillis-Steele)
scan. Every step is ``h += a * shift(h, 2^s)``, ``a *= shift(a, 2^s)`` with ``shift`` a pad
then a crop to L, so a step whose offset is past the end of the sequence adds nothing and the
graph holds no size-dependent control flow: only the number of steps, ``ceil(log2 L_max)``, is
fixed when the graph is traced. For a static L that is L itself; for a symbolic L (a
dynamic-size export) it is the upper bound the exporter declared for L, and positions of a
longer sequence would be wrong, so the exporter declares the bound and the runtimes keep to it.
The decays are products of ``exp(dt A)`` as in the reference, never differences of a cumulative
sum (which lose precision over long sequences).

The recurrence itself is also one custom op, ``vmamba_zoo::linear_scan`` (computed by
:func:`linear_scan`): the forms take the solver as ``scan``, so that an exporter can keep that
node and give it its own form (the ONNX export writes a sequential ONNX ``Scan`` for it, see
:mod:`vmamba_zoo.export.onnx_scan`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def _upper_bound(length) -> int:
    """The largest value the (possibly symbolic) sequence length can take."""
    if isinstance(length, int):
        return length
    node = length.node
    bound = node.shape_env.bound_sympy(node.expr).upper
    if not bound.is_finite:
        raise ValueError(
            "the sequence length of this export has no upper bound: declare a maximum image size "
            "for a dynamic-size export"
        )
    return int(bound)


def scan_steps(length) -> int:
    """How many doubling steps solve a recurrence of (at most) ``length`` positions."""
    return max(0, math.ceil(math.log2(max(1, _upper_bound(length)))))


def _shift(t: Tensor, offset: int, fill: float) -> Tensor:
    """``t`` moved ``offset`` positions along the last axis, ``fill`` entering at the start."""
    length = t.shape[-1]
    return F.pad(t, (offset, 0), value=fill)[..., :length]


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """Solve ``h_l = a_l h_{l-1} + b_l`` (``h_{-1} = 0``) along the last axis."""
    steps = scan_steps(b.shape[-1])
    for step in range(steps):
        offset = 1 << step
        b = b + a * _shift(b, offset, 0.0)
        if step + 1 < steps:
            a = a * _shift(a, offset, 1.0)
    return b


@torch.library.custom_op("vmamba_zoo::linear_scan", mutates_args=())
def linear_scan_op(a: Tensor, b: Tensor) -> Tensor:
    """:func:`linear_scan` as one graph node (a, b of one shape; the recurrence runs along the
    last axis)."""
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return linear_scan(a.contiguous(), b.contiguous())


@linear_scan_op.register_fake
def _(a, b):
    return torch.empty_like(b)


Scan = Callable[[Tensor, Tensor], Tensor]


def _discretize(u, delta, A, B, delta_bias, softplus):
    """Decay ``a`` and input ``b`` of the recurrence, (batch, G, Dg, N, L), in float32 (float64
    for float64 inputs) as the op computes."""
    dtype = torch.float64 if torch.float64 in {u.dtype, delta.dtype, A.dtype, B.dtype} else torch.float32
    u, delta, A, B = u.to(dtype), delta.to(dtype), A.to(dtype), B.to(dtype)
    batch, channels, length = u.shape
    groups, state = B.shape[1], A.shape[1]
    dt = delta if delta_bias is None else delta + delta_bias.to(dtype)[:, None]
    if softplus:
        dt = F.softplus(dt)
    shape = (batch, groups, channels // groups, 1, length)
    dt_g = dt.reshape(shape)
    a = torch.exp(dt_g * A.reshape(1, groups, channels // groups, state, 1))
    b = dt_g * B.unsqueeze(2) * u.reshape(shape)
    return u, a, b


def fwd(u, delta, A, B, C, D, delta_bias, softplus, scan: Scan = linear_scan):
    """``(y, last_state)`` of :func:`vmamba_zoo.ops.selective_scan`; ``scan`` solves the
    recurrence (:func:`linear_scan` or :func:`linear_scan_op`)."""
    batch, channels, length = u.shape
    u, a, b = _discretize(u, delta, A, B, delta_bias, softplus)
    h = scan(a, b)
    y = (h * C.to(u.dtype).unsqueeze(2)).sum(3).reshape(batch, channels, length)
    if D is not None:
        y = y + D.to(u.dtype)[:, None] * u
    return y, h[..., -1].reshape(batch, channels, -1)


def states_fwd(u, delta, A, B, delta_bias, softplus, scan: Scan = linear_scan):
    """Every hidden state, as :func:`vmamba_zoo.ops.selective_scan_states`."""
    batch, channels, length = u.shape
    _, a, b = _discretize(u, delta, A, B, delta_bias, softplus)
    return scan(a, b).reshape(batch, channels, A.shape[1], length)
