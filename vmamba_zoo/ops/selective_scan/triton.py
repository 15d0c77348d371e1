"""The ``"triton"`` backend of the selective scan (CUDA tensors, or CPU under TRITON_INTERPRET=1).

One program (one warp) scans one (batch, channel) row, walking the sequence in chunks. A chunk
is BLOCK_T runs of RUN consecutive positions; each run belongs to one thread (index t of every
(BLOCK_S, BLOCK_T) tile), which reads the run's inputs once and keeps per-position values in
registers. The states are processed in blocks of BLOCK_S (all of them at once for N <= 16: one
per block); for each block:

1. the thread composes the affine maps ``h -> a_l * h + b_l`` of its run sequentially;
2. one ``tl.associative_scan`` over the BLOCK_T run totals (a forward scan whose combine also
   carries "everything but the last element", so it yields the exclusive prefix as well) gives
   the state entering each run; the chunk's last inclusive value is the state carried on;
3. the thread walks its run again from that state, adding the block's part of y to registers
   (stored once per chunk, after the last block) or storing the states.

The backward is the adjoint recurrence ``g_l = a_{l+1} g_{l+1} + r_l`` (r = C * dy, or dh for the
all-states op), written as ``k_l = a_l (k_{l+1} + r_l)`` with ``g_l = k_{l+1} + r_l`` so that each
run's map uses only its own decays. Chunks are visited from the last; inside a chunk the run
totals are reversed with ``tl.gather`` and combined by the same forward scan (reverse scans are
avoided: their compiled lowering has disagreed with the interpreter for non-commutative combines,
triton-lang/triton#4362). The forward states it needs are recomputed per chunk from chunk-start
checkpoints written by a forward pass. B and C are shared by the channels of a group, so dB and
dC are accumulated with relaxed atomic adds (run-to-run nondeterministic in the last bits) or,
under ``torch.use_deterministic_algorithms(True)``, written per channel and summed over the group
in a fixed order. Per-row partial sums of dA, dD and d(delta_bias) are summed over the batch
afterwards.

Arithmetic is in float32 (float64 for float64 inputs); float16 / bfloat16 inputs are read as they
are and converted in registers. softplus is ``log1p(exp(x))`` evaluated without cancellation.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._triton import add, device_function, interpreting, kernel, next_power_of_2, on_device

# float16 / bfloat16 inputs are read as they are and converted in registers (float32 math).
READS_HALF_PRECISION = True

# Runs per chunk: one warp's threads, so that the scans and gathers over runs stay inside a warp.
# States are processed in blocks of at most MAX_BLOCK_S (a loop over blocks inside each chunk; the
# per-position inputs are shared by all blocks), and RUN_BUDGET bounds BLOCK_S * RUN, the
# registers of one state-wide value kept per run.
MAX_BLOCK_T = 32
MAX_BLOCK_S = 1
RUN_BUDGET = 16
MAX_RUN = 8  # RUN is 2, 4 or 8: runs are put back in position order by joins
# The interpreter pays per operation, not per element: it takes the same kernels with wide tiles
# (all states in one block, the longest sequences of the models in one or two chunks). Tests set
# these to the compiled values, or lower, to run the compiled tiling or force many chunks.
INTERPRETER_MAX_BLOCK_T = 1024
INTERPRETER_MAX_BLOCK_S = 16
SOFTPLUS_THRESHOLD = tl.constexpr(20.0)
# Below this, log1p(z) with z = exp(x) is summed as its series: 1 + z would drop z's low bits.
SOFTPLUS_SERIES_BELOW = tl.constexpr(-4.0)


@device_function
def _compose_affine(a_first, b_first, a_next, b_next):
    # h -> a_next * (a_first * h + b_first) + b_next
    return a_first * a_next, a_next * b_first + b_next


@device_function
def _compose_with_exclusive(fa1, fb1, ga1, gb1, fa2, fb2, ga2, gb2):
    # A segment is summarised by F (the map of all of it) and G (all of it but its last
    # element). Joining two segments: F = F1 then F2, G = F1 then G2. An element starts as
    # (its map, identity), so the inclusive scan's G is the exclusive prefix.
    fa, fb = _compose_affine(fa1, fb1, fa2, fb2)
    ga, gb = _compose_affine(fa1, fb1, ga2, gb2)
    return fa, fb, ga, gb


@device_function
def _scan_runs(a, b, BLOCK_T: tl.constexpr, INTERPRET: tl.constexpr):
    """Inclusive and exclusive prefix maps of the run maps (a, b) along axis 1."""
    one = tl.full(a.shape, 1.0, a.dtype)
    zero = tl.full(a.shape, 0.0, a.dtype)
    if INTERPRET:
        # The interpreter runs tl.associative_scan element by element in Python; the same
        # combine in log2(BLOCK_T) whole-tile steps (Hillis-Steele) gives the same result.
        fa, fb, ga, gb = a, b, one, zero
        idx = tl.arange(0, BLOCK_T)[None, :] + tl.full(a.shape, 0, tl.int32)
        for step in tl.static_range(11):  # BLOCK_T <= 2048
            if (1 << step) < BLOCK_T:
                has = idx >= (1 << step)
                src = tl.maximum(idx - (1 << step), 0)
                pfa = tl.where(has, tl.gather(fa, src, 1), one)
                pfb = tl.where(has, tl.gather(fb, src, 1), zero)
                pga = tl.where(has, tl.gather(ga, src, 1), one)
                pgb = tl.where(has, tl.gather(gb, src, 1), zero)
                fa, fb, ga, gb = _compose_with_exclusive(pfa, pfb, pga, pgb, fa, fb, ga, gb)
    else:
        fa, fb, ga, gb = tl.associative_scan((a, b, one, zero), 1, _compose_with_exclusive)
    return fa, fb, ga, gb


@device_function
def _softplus(x):
    z = tl.exp(tl.minimum(x, SOFTPLUS_THRESHOLD))
    zs = tl.where(x < SOFTPLUS_SERIES_BELOW, z, 0.0)  # the series' argument, < exp(-4)
    series = zs * (1.0 - zs * (0.5 - zs * (1.0 / 3.0 - zs * (0.25 - zs * (0.2 - zs * (
        1.0 / 6.0 - zs * (1.0 / 7.0 - zs * (0.125 - zs * (1.0 / 9.0 - zs * 0.1)))))))))
    small = tl.where(x < SOFTPLUS_SERIES_BELOW, series, tl.log(1.0 + z))
    return tl.where(x > SOFTPLUS_THRESHOLD, x, small)


@device_function
def _step_size(raw, SOFTPLUS: tl.constexpr):
    if SOFTPLUS:
        return _softplus(raw)
    return raw


@device_function
def _in_position_order(vals, RUN: tl.constexpr):
    """RUN tiles (S, T), element r of run t in tile r, as one (S, T * RUN) tile in position order.
    Storing that tile is coalesced (the compiler moves the values through shared memory)."""
    if RUN == 2:
        x = tl.join(vals[0], vals[1])
    elif RUN == 4:
        x = tl.join(tl.join(vals[0], vals[2]), tl.join(vals[1], vals[3]))
    else:
        # join(a, b) adds a minor axis of 2 holding a, b: joining the even and the odd elements,
        # recursively, makes the row-major flattening the position order.
        x = tl.join(tl.join(tl.join(vals[0], vals[4]), tl.join(vals[2], vals[6])),
                    tl.join(tl.join(vals[1], vals[5]), tl.join(vals[3], vals[7])))
    return tl.reshape(x, [x.shape[0], x.shape[1] * RUN])


@device_function
def _last_column(carry, a_incl, b_incl, BLOCK_T: tl.constexpr):
    """The map of the whole chunk (the inclusive value at the last run) applied to ``carry``."""
    last = tl.arange(0, BLOCK_T)[None, :] == BLOCK_T - 1
    return tl.reduce(tl.where(last, a_incl * carry[:, None] + b_incl, 0.0), 1, add)


def _scan_fwd(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr,
    y_ptr, states_ptr, last_ptr, ckpt_ptr,
    channels, group_channels, groups, N, L, n_chunks, STATE_BLOCKS,
    HAS_C: tl.constexpr, HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    STORE_STATES: tl.constexpr, STORE_CKPT: tl.constexpr,
    BLOCK_S: tl.constexpr, BLOCK_T: tl.constexpr, RUN: tl.constexpr,
    INTERPRET: tl.constexpr,
):
    acc_t = last_ptr.dtype.element_ty
    row = tl.program_id(0)  # batch * channels + channel
    b = row // channels
    c = row % channels
    g = c // group_channels
    row_off = row.to(tl.int64) * L
    bc_off = (b * groups + g).to(tl.int64) * N * L
    offs_t = tl.arange(0, BLOCK_T)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + c).to(acc_t)
    if HAS_D:
        D = tl.load(D_ptr + c).to(acc_t)
    for chunk in range(0, n_chunks):
        run_start = chunk * (BLOCK_T * RUN) + offs_t * RUN
        chunk_pos = chunk * (BLOCK_T * RUN) + tl.arange(0, BLOCK_T * RUN)
        # Per-position inputs of each thread's run, read and converted once.
        us = ()
        dts = ()
        ys = ()
        for r in tl.static_range(RUN):
            pos = run_start + r
            inside = pos < L
            u = tl.load(u_ptr + row_off + pos, mask=inside, other=0.0).to(acc_t)
            raw = tl.load(delta_ptr + row_off + pos, mask=inside, other=0.0).to(acc_t)
            if HAS_BIAS:
                raw += bias
            # Past L the step is 0: an identity map (decay 1, drive 0).
            dts += (tl.where(inside, _step_size(raw, SOFTPLUS), 0.0),)
            us += (u,)
            if HAS_D:
                ys += (D * u,)
            else:
                ys += (tl.full([BLOCK_T], 0.0, acc_t),)
        for sb in range(0, STATE_BLOCKS):
            offs_n = sb * BLOCK_S + tl.arange(0, BLOCK_S)
            mask_n = offs_n < N
            n_off = offs_n.to(tl.int64)[:, None] * L
            A = tl.load(A_ptr + c * N + offs_n, mask=mask_n, other=0.0).to(acc_t)
            # The block's state entering the chunk, carried from the previous chunk in last_state.
            last_off = row.to(tl.int64) * N + offs_n
            h = tl.load(last_ptr + last_off, mask=mask_n & (chunk > 0), other=0.0)
            if STORE_CKPT:
                tl.store(ckpt_ptr + (row.to(tl.int64) * n_chunks + chunk) * N + offs_n, h, mask=mask_n)
            # 1. The run's maps (decays and drives kept in registers), composed.
            decays = ()
            drives = ()
            run_a = tl.full([BLOCK_S, BLOCK_T], 1.0, acc_t)
            run_b = tl.full([BLOCK_S, BLOCK_T], 0.0, acc_t)
            for r in tl.static_range(RUN):
                pos = run_start + r
                Bt = tl.load(B_ptr + bc_off + n_off + pos[None, :], mask=mask_n[:, None] & (pos < L)[None, :],
                             other=0.0).to(acc_t)
                a = tl.exp(dts[r][None, :] * A[:, None])
                x = (dts[r] * us[r])[None, :] * Bt
                run_a, run_b = _compose_affine(run_a, run_b, a, x)
                decays += (a,)
                drives += (x,)
            # 2. The state entering each run, and the state carried to the next chunk.
            inc_a, inc_b, exc_a, exc_b = _scan_runs(run_a, run_b, BLOCK_T, INTERPRET)
            hs = exc_a * h[:, None] + exc_b
            tl.store(last_ptr + last_off, _last_column(h, inc_a, inc_b, BLOCK_T), mask=mask_n)
            # 3. Walk the run again from its entering state.
            ys_next = ()
            states = ()
            for r in tl.static_range(RUN):
                pos = run_start + r
                hs = decays[r] * hs + drives[r]
                if HAS_C:
                    Ct = tl.load(C_ptr + bc_off + n_off + pos[None, :], mask=mask_n[:, None] & (pos < L)[None, :],
                                 other=0.0).to(acc_t)
                    ys_next += (ys[r] + tl.reduce(Ct * hs, 0, add),)
                states += (hs,)
            if STORE_STATES:
                tl.store(states_ptr + row_off * N + n_off + chunk_pos[None, :],
                         _in_position_order(states, RUN).to(states_ptr.dtype.element_ty),
                         mask=mask_n[:, None] & (chunk_pos < L)[None, :])
            if HAS_C:
                ys = ys_next
        if HAS_C:
            y_rows = ()
            for r in tl.static_range(RUN):
                y_rows += (ys[r][None, :],)
            tl.store(y_ptr + row_off + chunk_pos[None, :], _in_position_order(y_rows, RUN).to(y_ptr.dtype.element_ty),
                     mask=(chunk_pos < L)[None, :])
        # The carried states were stored by one thread and are read by all in the next chunk.
        tl.debug_barrier()


def _scan_bwd(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr,
    grad_ptr, dlast_ptr, ckpt_ptr, k_ptr,
    du_ptr, ddelta_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr,
    channels, group_channels, groups, N, L, n_chunks, STATE_BLOCKS,
    STATES_GRAD: tl.constexpr, HAS_DLAST: tl.constexpr, HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, DETERMINISTIC: tl.constexpr,
    BLOCK_S: tl.constexpr, BLOCK_T: tl.constexpr, RUN: tl.constexpr,
    INTERPRET: tl.constexpr,
):
    acc_t = dA_ptr.dtype.element_ty
    row = tl.program_id(0)
    b = row // channels
    c = row % channels
    g = c // group_channels
    row_off = row.to(tl.int64) * L
    bc_off = (b * groups + g).to(tl.int64) * N * L
    # dB / dC: atomics into the group's (N, L) slab, or this row's own slab (deterministic).
    grad_bc_off = row_off * N if DETERMINISTIC else bc_off
    offs_t = tl.arange(0, BLOCK_T)
    reversed_t = BLOCK_T - 1 - offs_t[None, :] + tl.full([BLOCK_S, BLOCK_T], 0, tl.int32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + c).to(acc_t)
    if HAS_D:
        D = tl.load(D_ptr + c).to(acc_t)
    dbias_acc = tl.full([BLOCK_T], 0.0, acc_t)
    dD_acc = tl.full([BLOCK_T], 0.0, acc_t)
    for step in range(0, n_chunks):
        chunk = n_chunks - 1 - step
        run_start = chunk * (BLOCK_T * RUN) + offs_t * RUN
        chunk_pos = chunk * (BLOCK_T * RUN) + tl.arange(0, BLOCK_T * RUN)
        chunk_mask = (chunk_pos < L)[None, :]
        # Per-position inputs of each thread's run, read once; du and d(dt) accumulate over states.
        us = ()
        dts = ()
        dys = ()
        dsoft = ()
        dus = ()
        ddts = ()
        for r in tl.static_range(RUN):
            pos = run_start + r
            inside = pos < L
            u = tl.load(u_ptr + row_off + pos, mask=inside, other=0.0).to(acc_t)
            raw = tl.load(delta_ptr + row_off + pos, mask=inside, other=0.0).to(acc_t)
            if HAS_BIAS:
                raw += bias
            dts += (tl.where(inside, _step_size(raw, SOFTPLUS), 0.0),)
            if SOFTPLUS:
                dsoft += (tl.where(raw > SOFTPLUS_THRESHOLD, 1.0, 1.0 / (1.0 + tl.exp(-raw))),)
            us += (u,)
            if STATES_GRAD:
                dus += (tl.full([BLOCK_T], 0.0, acc_t),)
            else:
                dy = tl.load(grad_ptr + row_off + pos, mask=inside, other=0.0).to(acc_t)
                dys += (dy,)
                if HAS_D:
                    dus += (D * dy,)
                    dD_acc += dy * u
                else:
                    dus += (tl.full([BLOCK_T], 0.0, acc_t),)
            ddts += (tl.full([BLOCK_T], 0.0, acc_t),)
        for sb in range(0, STATE_BLOCKS):
            offs_n = sb * BLOCK_S + tl.arange(0, BLOCK_S)
            mask_n = offs_n < N
            n_off = offs_n.to(tl.int64)[:, None] * L
            A = tl.load(A_ptr + c * N + offs_n, mask=mask_n, other=0.0).to(acc_t)
            # Carried per block from the chunk after this one: k after the chunk (0 past L) in
            # k_ptr, and the row's dA partial sums in dA_ptr.
            row_n_off = row.to(tl.int64) * N + offs_n
            k_carry = tl.load(k_ptr + row_n_off, mask=mask_n & (step > 0), other=0.0)
            dA_acc = tl.full([BLOCK_S, BLOCK_T], 0.0, acc_t)
            if HAS_DLAST:
                dlast = tl.load(dlast_ptr + row_n_off, mask=mask_n, other=0.0).to(acc_t)
            h0 = tl.load(ckpt_ptr + (row.to(tl.int64) * n_chunks + chunk) * N + offs_n, mask=mask_n, other=0.0)
            # 1. The run's forward map, and its adjoint map k_start = run_a * k_after + adj_b
            #    (adj_b = sum_r r_r * a_0 ... a_r).
            decays = ()
            Bs = ()
            rhs = ()
            run_a = tl.full([BLOCK_S, BLOCK_T], 1.0, acc_t)
            run_b = tl.full([BLOCK_S, BLOCK_T], 0.0, acc_t)
            adj_b = tl.full([BLOCK_S, BLOCK_T], 0.0, acc_t)
            for r in tl.static_range(RUN):
                pos = run_start + r
                tile_mask = mask_n[:, None] & (pos < L)[None, :]
                Bt = tl.load(B_ptr + bc_off + n_off + pos[None, :], mask=tile_mask, other=0.0).to(acc_t)
                a = tl.exp(dts[r][None, :] * A[:, None])
                if STATES_GRAD:
                    rr = tl.load(grad_ptr + row_off * N + n_off + pos[None, :], mask=tile_mask, other=0.0).to(acc_t)
                else:
                    Ct = tl.load(C_ptr + bc_off + n_off + pos[None, :], mask=tile_mask, other=0.0).to(acc_t)
                    rr = Ct * dys[r][None, :]
                    if HAS_DLAST:
                        rr += tl.where((pos == L - 1)[None, :], dlast[:, None], 0.0)
                run_a, run_b = _compose_affine(run_a, run_b, a, (dts[r] * us[r])[None, :] * Bt)
                adj_b += rr * run_a
                decays += (a,)
                Bs += (Bt,)
                rhs += (rr,)
            # 2. The state entering each run (forward scan from the chunk's checkpoint) and k after
            #    each run (the adjoint maps in reverse run order, forward-scanned, put back in order).
            _, _, exc_a, exc_b = _scan_runs(run_a, run_b, BLOCK_T, INTERPRET)
            hs = exc_a * h0[:, None] + exc_b
            rev_a = tl.gather(run_a, reversed_t, 1)
            rev_b = tl.gather(adj_b, reversed_t, 1)
            inc_a, inc_b, exc_a, exc_b = _scan_runs(rev_a, rev_b, BLOCK_T, INTERPRET)
            k = tl.gather(exc_a * k_carry[:, None] + exc_b, reversed_t, 1)
            tl.store(k_ptr + row_n_off, _last_column(k_carry, inc_a, inc_b, BLOCK_T), mask=mask_n)
            # 3. h_{l-1} through the run, then the adjoint backwards through it.
            h_prev = ()
            for r in tl.static_range(RUN):
                h_prev += (hs,)
                hs = decays[r] * hs + (dts[r] * us[r])[None, :] * Bs[r]
            dus_rev = ()
            ddts_rev = ()
            dBs_rev = ()
            dCs_rev = ()
            for r in tl.static_range(RUN - 1, -1, -1):
                grad_h = k + rhs[r]  # g_l
                k = decays[r] * grad_h
                decay_grad = grad_h * h_prev[r] * decays[r]  # d/d(dt * A) of the decay term, per state
                gB = tl.reduce(grad_h * Bs[r], 0, add)
                dus_rev += (dus[r] + gB * dts[r],)
                ddts_rev += (ddts[r] + gB * us[r] + tl.reduce(decay_grad * A[:, None], 0, add),)
                dA_acc += decay_grad * dts[r][None, :]
                dBs_rev += (grad_h * (dts[r] * us[r])[None, :],)
                if not STATES_GRAD:
                    dCs_rev += ((decays[r] * h_prev[r] + (dts[r] * us[r])[None, :] * Bs[r]) * dys[r][None, :],)
            # Built last position first: restore position order.
            dus = ()
            ddts = ()
            dBs = ()
            dCs = ()
            for r in tl.static_range(RUN - 1, -1, -1):
                dus += (dus_rev[r],)
                ddts += (ddts_rev[r],)
                dBs += (dBs_rev[r],)
                if not STATES_GRAD:
                    dCs += (dCs_rev[r],)
            # dB / dC of the chunk in position order: coalesced atomics (or stores).
            grad_ptrs = grad_bc_off + n_off + chunk_pos[None, :]
            grad_mask = mask_n[:, None] & chunk_mask
            if DETERMINISTIC:
                tl.store(dB_ptr + grad_ptrs, _in_position_order(dBs, RUN), mask=grad_mask)
            else:
                tl.atomic_add(dB_ptr + grad_ptrs, _in_position_order(dBs, RUN), mask=grad_mask, sem="relaxed")
            if not STATES_GRAD:
                if DETERMINISTIC:
                    tl.store(dC_ptr + grad_ptrs, _in_position_order(dCs, RUN), mask=grad_mask)
                else:
                    tl.atomic_add(dC_ptr + grad_ptrs, _in_position_order(dCs, RUN), mask=grad_mask, sem="relaxed")
            dA = tl.reduce(dA_acc, 1, add) + tl.load(dA_ptr + row_n_off, mask=mask_n & (step > 0), other=0.0)
            tl.store(dA_ptr + row_n_off, dA, mask=mask_n)
        du_rows = ()
        ddelta_rows = ()
        for r in tl.static_range(RUN):
            ddt = ddts[r]
            if SOFTPLUS:
                ddt = ddt * dsoft[r]
            du_rows += (dus[r][None, :],)
            ddelta_rows += (ddt[None, :],)
            dbias_acc += tl.where(run_start + r < L, ddt, 0.0)
        tl.store(du_ptr + row_off + chunk_pos[None, :], _in_position_order(du_rows, RUN).to(du_ptr.dtype.element_ty),
                 mask=chunk_mask)
        tl.store(ddelta_ptr + row_off + chunk_pos[None, :],
                 _in_position_order(ddelta_rows, RUN).to(ddelta_ptr.dtype.element_ty), mask=chunk_mask)
        # The carried values were stored by one thread and are read by all in the next chunk.
        tl.debug_barrier()
    if HAS_BIAS:
        tl.store(dbias_ptr + row, tl.reduce(dbias_acc, 0, add))
    if HAS_D:
        tl.store(dD_ptr + row, tl.reduce(dD_acc, 0, add))


_scan_fwd_kernel = kernel(_scan_fwd)
_scan_bwd_kernel = kernel(_scan_bwd)
KERNELS = {"fwd": _scan_fwd, "bwd": _scan_bwd}


def layout(N: int, L: int, interpreted: bool | None = None) -> dict[str, int]:
    """How one row's program is tiled: the states in STATE_BLOCKS blocks of BLOCK_S, the sequence
    in chunks of BLOCK_T runs (one per thread) of RUN positions. ``interpreted`` (default: the
    active mode) picks the interpreter's wide tiles."""
    if interpreted is None:
        interpreted = interpreting()
    max_block_s = INTERPRETER_MAX_BLOCK_S if interpreted else MAX_BLOCK_S
    max_block_t = INTERPRETER_MAX_BLOCK_T if interpreted else MAX_BLOCK_T
    block_s = min(next_power_of_2(N), max_block_s)
    run = min(MAX_RUN, max(2, RUN_BUDGET // block_s))
    block_t = min(max_block_t, next_power_of_2(triton.cdiv(L, run)))
    return {
        "BLOCK_S": block_s,
        "STATE_BLOCKS": triton.cdiv(N, block_s),
        "BLOCK_T": block_t,
        "RUN": run,
        "n_chunks": triton.cdiv(L, block_t * run),
        "num_warps": max(1, min(4, block_t // 32)),
    }


def _compute_dtype(u: Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def forward_launch(u, delta, A, B, C, D, delta_bias, softplus, *, states: bool, checkpoints: bool):
    """Outputs (y or None, states or None, last_state, checkpoints or None) and the forward
    kernel's (grid, args, meta), allocated and specialised exactly as :func:`fwd` launches it.
    Works on meta tensors too (the offline compile uses it)."""
    batch, channels, L = u.shape
    groups, N = B.shape[1], A.shape[1]
    cfg = layout(N, L)
    acc = _compute_dtype(u)
    y = u.new_empty(u.shape, dtype=acc) if C is not None else None
    hs = u.new_empty(batch, channels, N, L, dtype=acc) if states else None
    last = u.new_empty(batch, channels, N, dtype=acc)
    ckpt = u.new_empty(batch, channels, cfg["n_chunks"], N, dtype=acc) if checkpoints else None
    args = (
        u, delta, A, B,
        C if C is not None else u, D if D is not None else u, delta_bias if delta_bias is not None else u,
        y if y is not None else last, hs if hs is not None else last, last, ckpt if ckpt is not None else last,
        channels, channels // groups, groups, N, L, cfg["n_chunks"], cfg["STATE_BLOCKS"],
    )
    meta = dict(
        HAS_C=C is not None, HAS_D=D is not None, HAS_BIAS=delta_bias is not None,
        SOFTPLUS=bool(softplus), STORE_STATES=states, STORE_CKPT=checkpoints,
        BLOCK_S=cfg["BLOCK_S"], BLOCK_T=cfg["BLOCK_T"], RUN=cfg["RUN"],
        INTERPRET=interpreting(),
        num_warps=cfg["num_warps"],
    )
    return (y, hs, last, ckpt), (batch * channels,), args, meta


def backward_launch(u, delta, A, B, C, D, delta_bias, softplus, grad, dlast, ckpt, *, deterministic: bool):
    """Gradient buffers and the backward kernel's (grid, args, meta), as :func:`bwd` launches it;
    ``ckpt`` are the forward's chunk checkpoints. Buffers: (du, ddelta, dA per row, dB, dC or None,
    dD per row or None, d(delta_bias) per row or None); dB / dC are per channel when deterministic."""
    batch, channels, L = u.shape
    groups, N = B.shape[1], A.shape[1]
    cfg = layout(N, L)
    acc = _compute_dtype(u)
    du, ddelta = torch.empty_like(u), torch.empty_like(delta)
    dA_rows = u.new_empty(batch, channels, N, dtype=acc)
    # Deterministic: one (N, L) slab per channel (every element written), summed over the group later.
    slab = (batch, channels, N, L) if deterministic else (batch, groups, N, L)
    new_slab = u.new_empty if deterministic else u.new_zeros
    dB = new_slab(slab, dtype=acc)
    dC = new_slab(slab, dtype=acc) if C is not None else None
    dD_rows = u.new_empty(batch, channels, dtype=acc) if D is not None else None
    dbias_rows = u.new_empty(batch, channels, dtype=acc) if delta_bias is not None else None
    args = (
        u, delta, A, B,
        C if C is not None else u, D if D is not None else u, delta_bias if delta_bias is not None else u,
        grad, dlast if dlast is not None else dA_rows, ckpt, u.new_empty(batch, channels, N, dtype=acc),
        du, ddelta, dA_rows, dB, dC if dC is not None else dA_rows,
        dD_rows if dD_rows is not None else dA_rows, dbias_rows if dbias_rows is not None else dA_rows,
        channels, channels // groups, groups, N, L, cfg["n_chunks"], cfg["STATE_BLOCKS"],
    )
    meta = dict(
        STATES_GRAD=C is None, HAS_DLAST=dlast is not None, HAS_D=D is not None,
        HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(softplus), DETERMINISTIC=deterministic,
        BLOCK_S=cfg["BLOCK_S"], BLOCK_T=cfg["BLOCK_T"], RUN=cfg["RUN"],
        INTERPRET=interpreting(),
        num_warps=cfg["num_warps"],
    )
    return (du, ddelta, dA_rows, dB, dC, dD_rows, dbias_rows), (batch * channels,), args, meta


def _forward(u, delta, A, B, C, D, delta_bias, softplus, *, states: bool, checkpoints: bool):
    outputs, grid, args, meta = forward_launch(u, delta, A, B, C, D, delta_bias, softplus, states=states,
                                               checkpoints=checkpoints)
    with on_device(u):
        _scan_fwd_kernel[grid](*args, **meta)
    return outputs


def _backward(u, delta, A, B, C, D, delta_bias, softplus, grad, dlast):
    """Adjoint scan; ``C is None`` means ``grad`` is dh of every state (the all-states op)."""
    batch, channels, L = u.shape
    groups, N = B.shape[1], A.shape[1]
    *_, ckpt = _forward(u, delta, A, B, None, None, delta_bias, softplus, states=False, checkpoints=True)
    deterministic = torch.are_deterministic_algorithms_enabled()
    buffers, grid, args, meta = backward_launch(u, delta, A, B, C, D, delta_bias, softplus, grad, dlast, ckpt,
                                                deterministic=deterministic)
    with on_device(u):
        _scan_bwd_kernel[grid](*args, **meta)
    du, ddelta, dA_rows, dB, dC, dD_rows, dbias_rows = buffers
    if deterministic:
        dB = dB.view(batch, groups, channels // groups, N, L).sum(2)
        dC = dC.view(batch, groups, channels // groups, N, L).sum(2) if dC is not None else None
    dD = dD_rows.sum(0).to(D.dtype) if D is not None else None
    ddelta_bias = dbias_rows.sum(0).to(delta_bias.dtype) if delta_bias is not None else None
    return (du, ddelta, dA_rows.sum(0).to(A.dtype), dB.to(B.dtype), dC.to(C.dtype) if C is not None else None,
            dD, ddelta_bias)


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
