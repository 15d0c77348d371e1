"""The ``"triton"`` backend of the selective scan (CUDA tensors, or CPU under TRITON_INTERPRET=1).

One program scans one (batch, channel) row: all N states at once as a (BLOCK_N, BLOCK_L) tile,
walking the sequence in chunks of BLOCK_L positions. Inside a chunk the recurrence
``h_l = a_l * h_{l-1} + b_l`` is a ``tl.associative_scan`` over affine maps; the state at the
chunk's end is carried into the next chunk, so any L works with a bounded tile.

The backward is the adjoint scan ``g_l = a_{l+1} * g_{l+1} + r_l`` (r = C * dy, or dh for the
all-states op) run chunk by chunk from the end with a reverse associative scan. The forward
states it needs are recomputed per chunk from chunk-start checkpoints written by a forward pass
(the previous state ``h_{l-1}`` by scanning the inputs shifted by one position, so no division by
a possibly vanishing decay). B and C are shared by the channels of a group, so dB and dC are
accumulated with atomic adds; per-row partial sums of dA, dD and d(delta_bias) are summed over
the batch afterwards. Arithmetic is in the input dtype (float32 or float64).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._triton import combine_fn, kernel, next_power_of_2, on_device

# Elements of one (BLOCK_N, BLOCK_L) tile; bounds registers per program. Tests lower it to
# force several chunks on tiny inputs.
MAX_TILE = 1024
SOFTPLUS_THRESHOLD = tl.constexpr(20.0)


@combine_fn
def _add(a, b):
    return a + b


@combine_fn
def _compose_affine(a_first, b_first, a_next, b_next):
    # h -> a_next * (a_first * h + b_first) + b_next
    return a_first * a_next, a_next * b_first + b_next


def _scan_fwd(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr,
    y_ptr, states_ptr, last_ptr, ckpt_ptr,
    channels, group_channels, groups, N, L, n_chunks,
    HAS_C: tl.constexpr, HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    STORE_STATES: tl.constexpr, STORE_CKPT: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    row = tl.program_id(0)  # batch * channels + channel
    b = row // channels
    c = row % channels
    g = c // group_channels
    row_off = row.to(tl.int64) * L
    bc_off = (b * groups + g).to(tl.int64) * N * L
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    A = tl.load(A_ptr + c * N + offs_n, mask=mask_n, other=0.0)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + c)
    if HAS_D:
        D = tl.load(D_ptr + c)
    h = A * 0.0
    for chunk in range(0, n_chunks):
        if STORE_CKPT:
            tl.store(ckpt_ptr + (row.to(tl.int64) * n_chunks + chunk) * N + offs_n, h, mask=mask_n)
        offs_l = chunk * BLOCK_L + tl.arange(0, BLOCK_L)
        mask_l = offs_l < L
        mask = mask_n[:, None] & mask_l[None, :]
        u = tl.load(u_ptr + row_off + offs_l, mask=mask_l, other=0.0)
        dt = tl.load(delta_ptr + row_off + offs_l, mask=mask_l, other=0.0)
        if HAS_BIAS:
            dt = dt + bias
        if SOFTPLUS:
            dt = tl.where(dt > SOFTPLUS_THRESHOLD, dt, tl.log(1.0 + tl.exp(dt)))
        Bt = tl.load(B_ptr + bc_off + offs_n[:, None] * L + offs_l[None, :], mask=mask, other=0.0)
        # Positions past L are identity maps, so the chunk's last column is the carried state.
        a = tl.where(mask_l[None, :], tl.exp(dt[None, :] * A[:, None]), 1.0)
        x = (dt * u)[None, :] * Bt
        a_cum, h_local = tl.associative_scan((a, x), 1, _compose_affine)
        hs = h_local + a_cum * h[:, None]
        if HAS_C:
            Ct = tl.load(C_ptr + bc_off + offs_n[:, None] * L + offs_l[None, :], mask=mask, other=0.0)
            y = tl.reduce(Ct * hs, 0, _add)
            if HAS_D:
                y += D * u
            tl.store(y_ptr + row_off + offs_l, y, mask=mask_l)
        if STORE_STATES:
            tl.store(states_ptr + row_off * N + offs_n[:, None] * L + offs_l[None, :], hs, mask=mask)
        last_col = offs_l[None, :] == chunk * BLOCK_L + BLOCK_L - 1
        h = tl.reduce(tl.where(last_col, hs, 0.0), 1, _add)
    tl.store(last_ptr + row.to(tl.int64) * N + offs_n, h, mask=mask_n)


def _scan_bwd(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr,
    grad_ptr, dlast_ptr, ckpt_ptr,
    du_ptr, ddelta_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr,
    channels, group_channels, groups, N, L, n_chunks,
    STATES_GRAD: tl.constexpr, HAS_DLAST: tl.constexpr, HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    row = tl.program_id(0)
    b = row // channels
    c = row % channels
    g = c // group_channels
    row_off = row.to(tl.int64) * L
    bc_off = (b * groups + g).to(tl.int64) * N * L
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    A = tl.load(A_ptr + c * N + offs_n, mask=mask_n, other=0.0)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + c)
    if HAS_D:
        D = tl.load(D_ptr + c)
    if HAS_DLAST:
        dlast = tl.load(dlast_ptr + row.to(tl.int64) * N + offs_n, mask=mask_n, other=0.0)
    g_carry = A * 0.0  # adjoint at the first position of the chunk after this one
    dA_acc = A * 0.0
    dbias_acc = tl.reduce(A * 0.0, 0, _add)
    dD_acc = tl.reduce(A * 0.0, 0, _add)
    for step in range(0, n_chunks):
        chunk = n_chunks - 1 - step
        start = chunk * BLOCK_L
        offs_l = start + tl.arange(0, BLOCK_L)
        mask_l = offs_l < L
        mask = mask_n[:, None] & mask_l[None, :]
        tile = offs_n[:, None] * L + offs_l[None, :]
        h0 = tl.load(ckpt_ptr + (row.to(tl.int64) * n_chunks + chunk) * N + offs_n, mask=mask_n, other=0.0)

        # Inputs at l (current), l - 1 (previous, inside this chunk) and l + 1 (next).
        u = tl.load(u_ptr + row_off + offs_l, mask=mask_l, other=0.0)
        raw = tl.load(delta_ptr + row_off + offs_l, mask=mask_l, other=0.0)
        Bt = tl.load(B_ptr + bc_off + tile, mask=mask, other=0.0)
        mask_p = mask_l & (offs_l > start)
        u_p = tl.load(u_ptr + row_off + offs_l - 1, mask=mask_p, other=0.0)
        dt_p = tl.load(delta_ptr + row_off + offs_l - 1, mask=mask_p, other=0.0)
        B_p = tl.load(B_ptr + bc_off + tile - 1, mask=mask_n[:, None] & mask_p[None, :], other=0.0)
        mask_q = (offs_l + 1) < L
        dt_q = tl.load(delta_ptr + row_off + offs_l + 1, mask=mask_q, other=0.0)
        if HAS_BIAS:
            raw = raw + bias
            dt_p = dt_p + bias
            dt_q = dt_q + bias
        if SOFTPLUS:
            dt = tl.where(raw > SOFTPLUS_THRESHOLD, raw, tl.log(1.0 + tl.exp(raw)))
            dt_p = tl.where(dt_p > SOFTPLUS_THRESHOLD, dt_p, tl.log(1.0 + tl.exp(dt_p)))
            dt_q = tl.where(dt_q > SOFTPLUS_THRESHOLD, dt_q, tl.log(1.0 + tl.exp(dt_q)))
        else:
            dt = raw

        # h_{l-1}: the forward scan of the shifted inputs from the chunk's checkpoint.
        a_p = tl.where(mask_p[None, :], tl.exp(dt_p[None, :] * A[:, None]), 1.0)
        a_p_cum, h_p_local = tl.associative_scan((a_p, (dt_p * u_p)[None, :] * B_p), 1, _compose_affine)
        h_prev = h_p_local + a_p_cum * h0[:, None]
        a = tl.exp(dt[None, :] * A[:, None])

        # Adjoint: g_l = a_{l+1} g_{l+1} + r_l; positions past L are identity maps with r = 0.
        a_next = tl.where(mask_q[None, :], tl.exp(dt_q[None, :] * A[:, None]), 0.0)
        a_next = tl.where(mask_l[None, :], a_next, 1.0)
        if STATES_GRAD:
            r = tl.load(grad_ptr + row_off * N + tile, mask=mask, other=0.0)
        else:
            dy = tl.load(grad_ptr + row_off + offs_l, mask=mask_l, other=0.0)
            Ct = tl.load(C_ptr + bc_off + tile, mask=mask, other=0.0)
            r = Ct * dy[None, :]
            if HAS_DLAST:
                r += tl.where(offs_l[None, :] == L - 1, dlast[:, None], 0.0)
        a_next_cum, g_local = tl.associative_scan((a_next, r), 1, _compose_affine, reverse=True)
        adj = g_local + a_next_cum * g_carry[:, None]
        g_carry = tl.reduce(tl.where(offs_l[None, :] == start, adj, 0.0), 1, _add)

        decay_grad = adj * h_prev * a  # d/d(dt * A) of the decay term, per state
        gB = tl.reduce(adj * Bt, 0, _add)
        du = gB * dt
        ddt = gB * u + tl.reduce(decay_grad * A[:, None], 0, _add)
        dA_acc += tl.reduce(decay_grad * dt[None, :], 1, _add)
        tl.atomic_add(dB_ptr + bc_off + tile, adj * (dt * u)[None, :], mask=mask)
        if not STATES_GRAD:
            h = a * h_prev + (dt * u)[None, :] * Bt
            tl.atomic_add(dC_ptr + bc_off + tile, h * dy[None, :], mask=mask)
            if HAS_D:
                du += D * dy
                dD_acc += tl.reduce(dy * u, 0, _add)
        if SOFTPLUS:
            ddt = ddt * tl.where(raw > SOFTPLUS_THRESHOLD, 1.0, 1.0 / (1.0 + tl.exp(-raw)))
        tl.store(du_ptr + row_off + offs_l, du, mask=mask_l)
        tl.store(ddelta_ptr + row_off + offs_l, ddt, mask=mask_l)
        dbias_acc += tl.reduce(tl.where(mask_l, ddt, 0.0), 0, _add)
    tl.store(dA_ptr + row.to(tl.int64) * N + offs_n, dA_acc, mask=mask_n)
    if HAS_BIAS:
        tl.store(dbias_ptr + row, dbias_acc)
    if HAS_D:
        tl.store(dD_ptr + row, dD_acc)


_scan_fwd_kernel = kernel(_scan_fwd)
_scan_bwd_kernel = kernel(_scan_bwd)


def _blocks(N: int, L: int) -> tuple[int, int, int]:
    block_n = next_power_of_2(N)
    block_l = min(next_power_of_2(L), max(MAX_TILE // block_n, 1))
    return block_n, block_l, triton.cdiv(L, block_l)


def _forward(u, delta, A, B, C, D, delta_bias, softplus, *, states: bool, checkpoints: bool):
    """Run the forward kernel; returns (y or None, states or None, last_state, checkpoints or None)."""
    batch, channels, L = u.shape
    groups, N = B.shape[1], A.shape[1]
    block_n, block_l, n_chunks = _blocks(N, L)
    y = torch.empty_like(u) if C is not None else None
    hs = u.new_empty(batch, channels, N, L) if states else None
    last = u.new_empty(batch, channels, N)
    ckpt = u.new_empty(batch, channels, n_chunks, N) if checkpoints else None
    with on_device(u):
        _scan_fwd_kernel[(batch * channels,)](
            u, delta, A, B,
            C if C is not None else u, D if D is not None else u, delta_bias if delta_bias is not None else u,
            y if y is not None else u, hs if hs is not None else u, last, ckpt if ckpt is not None else u,
            channels, channels // groups, groups, N, L, n_chunks,
            HAS_C=C is not None, HAS_D=D is not None, HAS_BIAS=delta_bias is not None,
            SOFTPLUS=bool(softplus), STORE_STATES=states, STORE_CKPT=checkpoints,
            BLOCK_N=block_n, BLOCK_L=block_l,
        )
    return y, hs, last, ckpt


def _backward(u, delta, A, B, C, D, delta_bias, softplus, grad, dlast):
    """Adjoint scan; ``C is None`` means ``grad`` is dh of every state (the all-states op)."""
    batch, channels, L = u.shape
    groups, N = B.shape[1], A.shape[1]
    block_n, block_l, n_chunks = _blocks(N, L)
    *_, ckpt = _forward(u, delta, A, B, None, None, delta_bias, softplus, states=False, checkpoints=True)
    du, ddelta = torch.empty_like(u), torch.empty_like(delta)
    dA_rows = u.new_empty(batch, channels, N)
    dB = torch.zeros_like(B)
    dC = torch.zeros_like(C) if C is not None else None
    dD_rows = u.new_empty(batch, channels) if D is not None else None
    dbias_rows = u.new_empty(batch, channels) if delta_bias is not None else None
    with on_device(u):
        _scan_bwd_kernel[(batch * channels,)](
            u, delta, A, B,
            C if C is not None else u, D if D is not None else u, delta_bias if delta_bias is not None else u,
            grad, dlast if dlast is not None else u, ckpt,
            du, ddelta, dA_rows, dB, dC if dC is not None else u,
            dD_rows if dD_rows is not None else u, dbias_rows if dbias_rows is not None else u,
            channels, channels // groups, groups, N, L, n_chunks,
            STATES_GRAD=C is None, HAS_DLAST=dlast is not None, HAS_D=D is not None,
            HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(softplus),
            BLOCK_N=block_n, BLOCK_L=block_l,
        )
    dD = dD_rows.sum(0) if dD_rows is not None else None
    ddelta_bias = dbias_rows.sum(0) if dbias_rows is not None else None
    return du, ddelta, dA_rows.sum(0), dB, dC, dD, ddelta_bias


def fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
        delta_bias: Tensor | None, softplus: bool) -> tuple[Tensor, Tensor]:
    y, _, last, _ = _forward(u, delta, A, B, C, D, delta_bias, softplus, states=False, checkpoints=False)
    return y, last


def bwd(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast):
    return _backward(u, delta, A, B, C, D, delta_bias, softplus, dy, dlast)


def states_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, delta_bias: Tensor | None,
               softplus: bool) -> Tensor:
    _, hs, _, _ = _forward(u, delta, A, B, None, None, delta_bias, softplus, states=True, checkpoints=False)
    return hs


def states_bwd(u, delta, A, B, delta_bias, softplus, dh):
    du, ddelta, dA, dB, _, _, ddelta_bias = _backward(u, delta, A, B, None, None, delta_bias, softplus, dh, None)
    return du, ddelta, dA, dB, ddelta_bias
