"""The ``"torch"`` backend: the readable reference every other backend is tested against.

The recurrence ``h_l = a_l * h_{l-1} + b_l`` is solved with a log-depth (Hillis-Steele) scan
over the sequence axis, so the reference stays fast enough for real inputs. The backward is the
adjoint recurrence run in reverse with the same scan, plus closed-form input gradients.
All inputs arrive contiguous, in one floating dtype, already checked by the op.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def linear_scan(a: Tensor, b: Tensor, reverse: bool = False) -> Tensor:
    """Solve ``h_l = a_l * h_{l-1} + b_l`` (``h_{-1} = 0``) along the last axis.

    With ``reverse`` the recurrence runs from the end: ``h_l = a_l * h_{l+1} + b_l``.
    """
    if reverse:
        return linear_scan(a.flip(-1), b.flip(-1)).flip(-1)
    h, a = b.clone(), a.clone()
    length = h.shape[-1]
    offset = 1
    while offset < length:
        # Right-hand sides are evaluated before assignment, so each step reads the old values.
        h[..., offset:] = h[..., offset:] + a[..., offset:] * h[..., :-offset]
        a[..., offset:] = a[..., offset:] * a[..., :-offset]
        offset *= 2
    return h


def solve_states(a: Tensor, b: Tensor, A: Tensor) -> Tensor:
    """The states ``h`` of the recurrence, as the sequential evaluation in ``a``'s dtype gives them.

    With ``A <= 0`` (every model) the decays are at most 1, the states are bounded and the
    log-depth scan is that evaluation up to rounding. With positive entries in ``A`` the states
    grow and may overflow, and the scan's products of decays overflow before the states do (and
    multiply exact zeros into nan), which a sequential evaluation never meets: then the scan runs
    in float64 and, as in the sequential evaluation, a state stays non-finite from the first
    position at which it overflows (nan there when the wide value came back into range).
    """
    if not bool((A > 0).any()):
        return linear_scan(a, b)
    h = linear_scan(a.double(), b.double()).to(a.dtype)
    finite = torch.isfinite(h)
    overflowed = torch.cummax((~finite).to(torch.uint8), dim=-1).values.bool()
    return h.masked_fill(overflowed & finite, float("nan"))


def _discretize(u, delta, A, B, delta_bias, softplus):
    """Grouped views and the per-step decay ``a`` and input ``b`` of the recurrence.

    Returns tensors shaped (batch, G, Dg, ...) so that B/C (batch, G, N, L) broadcast over the
    Dg channels of their group without being copied.
    """
    batch, channels, length = u.shape
    groups, state = B.shape[1], A.shape[1]
    raw = delta if delta_bias is None else delta + delta_bias[:, None]
    dt = F.softplus(raw) if softplus else raw
    shape = (batch, groups, channels // groups)
    u_g = u.view(*shape, 1, length)
    dt_g = dt.view(*shape, 1, length)
    A_g = A.view(1, groups, channels // groups, state, 1)
    B_g = B.unsqueeze(2)  # (batch, G, 1, N, L)
    a = torch.exp(dt_g * A_g)
    b = dt_g * B_g * u_g
    return raw, dt_g, u_g, A_g, B_g, a, b


def fwd(u, delta, A, B, C, D, delta_bias, softplus):
    batch, channels, length = u.shape
    _, _, u_g, _, _, a, b = _discretize(u, delta, A, B, delta_bias, softplus)
    h = solve_states(a, b, A)  # (batch, G, Dg, N, L)
    y = (h * C.unsqueeze(2)).sum(3).reshape(batch, channels, length)
    if D is not None:
        y = y + D[:, None] * u
    last_state = h[..., -1].reshape(batch, channels, -1)
    return y, last_state


def _grads_from_adjoint(g, h, raw, dt_g, u_g, A_g, B_g, a, softplus, delta_bias):
    """Input gradients given the adjoint ``g_l = dL/dh_l`` of every hidden state.

    Shared by the y-output scan and the all-states scan: both reduce to the adjoint of h.
    """
    batch, groups, group_channels, state, length = h.shape
    channels = groups * group_channels
    h_prev = F.pad(h[..., :-1], (1, 0))
    g_decay = g * h_prev * a  # d/d(dt*A) of the decay term
    du = (g * dt_g * B_g).sum(3).reshape(batch, channels, length)
    ddt = (g * B_g * u_g + g_decay * A_g).sum(3).reshape(batch, channels, length)
    dA = (g_decay * dt_g).sum((0, 4)).reshape(channels, state)
    dB = (g * dt_g * u_g).sum(2)
    ddelta = ddt * torch.where(raw > 20, 1.0, torch.sigmoid(raw)) if softplus else ddt
    ddelta_bias = ddelta.sum((0, 2)) if delta_bias is not None else None
    return du, ddelta, dA, dB, ddelta_bias


def _shifted_decay(a):
    """``a_{l+1}`` at position l (0 past the end): the decay the adjoint recurrence uses."""
    return F.pad(a[..., 1:], (0, 1))


def bwd(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast):
    batch, channels, length = u.shape
    groups = B.shape[1]
    raw, dt_g, u_g, A_g, B_g, a, b = _discretize(u, delta, A, B, delta_bias, softplus)
    h = solve_states(a, b, A)
    dy_g = dy.view(batch, groups, channels // groups, 1, length)
    rhs = C.unsqueeze(2) * dy_g
    if dlast is not None:
        rhs[..., -1] += dlast.view(batch, groups, channels // groups, -1)
    g = linear_scan(_shifted_decay(a), rhs, reverse=True)
    dC = (h * dy_g).sum(2)
    du, ddelta, dA, dB, ddelta_bias = _grads_from_adjoint(
        g, h, raw, dt_g, u_g, A_g, B_g, a, softplus, delta_bias
    )
    dD = None
    if D is not None:
        du = du + D[:, None] * dy
        dD = (dy * u).sum((0, 2))
    return du, ddelta, dA, dB, dC, dD, ddelta_bias


def states_fwd(u, delta, A, B, delta_bias, softplus):
    batch, channels, length = u.shape
    *_, a, b = _discretize(u, delta, A, B, delta_bias, softplus)
    return solve_states(a, b, A).reshape(batch, channels, A.shape[1], length)


def states_bwd(u, delta, A, B, delta_bias, softplus, dh):
    raw, dt_g, u_g, A_g, B_g, a, b = _discretize(u, delta, A, B, delta_bias, softplus)
    h = solve_states(a, b, A)
    g = linear_scan(_shifted_decay(a), dh.view(h.shape), reverse=True)
    return _grads_from_adjoint(g, h, raw, dt_g, u_g, A_g, B_g, a, softplus, delta_bias)
