"""The selective scan (S6) of every visual-Mamba family, as two custom ops.

``selective_scan`` is the real, diagonal, grouped S6 of VMamba / EfficientVMamba / GroupMamba /
Res-VMamba: per channel ``c`` of group ``g = c // Dg``

    dt_l = softplus(delta_l + delta_bias)        (or delta_l + delta_bias)
    h_l  = exp(dt_l * A) * h_{l-1} + dt_l * B_{g,l} * u_l,   h_{-1} = 0
    y_l  = sum_n C_{g,n,l} * h_{n,l} + D * u_l

``selective_scan_states`` returns every hidden state ``h`` instead (Spatial-Mamba applies its
observation equation after a spatial fusion of the states), with no C and no D term.

Each op is one ``torch.library.custom_op`` (``vmamba_zoo::selective_scan``,
``vmamba_zoo::selective_scan_states``) whatever the backend, so fvcore, ``torch.jit.trace`` and
``torch.compile`` see one node with a stable name; the backward is another custom op computed by
the same backend (an adjoint scan, never autograd through a loop). Computation happens in
float32 (float64 when an input is float64, for gradcheck). The public functions return
``u``'s dtype, as the original kernels do (the models pass float32 ``A`` and ``D`` whatever
their own dtype, so a ``.half()`` / ``.bfloat16()`` model gets float16 / bfloat16 back), rounded
once from the float32 result; float64 when the computation was in float64. The custom ops
themselves return the compute dtype. A backend whose kernels read float16 / bfloat16 themselves ("triton") gets such inputs
unconverted.

Overflow. The models keep ``A < 0`` (``A = -exp(A_log)``): the states are then bounded by the
inputs. With positive entries in ``A`` the states grow like ``exp(sum dt * A)`` and eventually
leave the float32 range; from the first position at which a state of a (batch, channel) row is
not finite (or its decay ``exp(dt * A)`` overflows), that row's outputs (``y``; the states for
``selective_scan_states``) are not finite, as a sequential float32 evaluation of the recurrence
gives them (whether a non-finite value is ``inf`` or ``nan`` is not specified): the ``"torch"``
and ``"cpu"`` backends. The GPU backends compose the decays of runs of positions into products,
which can overflow before the states do: they may turn outputs non-finite earlier.
Float16 outputs also overflow where the float32 result exceeds float16's range (65504): they are
``inf`` there; bfloat16 has float32's range.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import backends

_PACKAGE = __name__


def _kernels(backend: str):
    return backends.load(_PACKAGE, backend)


# --------------------------------------------------------------------------------------------
# Input checking: every problem is reported at the op boundary, never inside a kernel. The
# public functions check what they are given; the custom ops (public too, as
# torch.ops.vmamba_zoo.*) check again what reaches them, for every backend.


def _compute_dtype(*tensors: Tensor | None) -> torch.dtype:
    present = [t for t in tensors if t is not None]
    return torch.float64 if any(t.dtype == torch.float64 for t in present) else torch.float32


def result_dtype(u: Tensor, compute_dtype: torch.dtype) -> torch.dtype:
    """What the public scan functions return: ``u``'s dtype, or float64 when they computed in it."""
    return torch.float64 if compute_dtype == torch.float64 else u.dtype


def _check_tensor(name: str, t: Tensor, ndim: int, layout: str) -> None:
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype.is_complex:
        raise ValueError(f"{name} must be real; complex dtype {t.dtype} is not supported")
    if not t.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(t.shape)}")


def _check_inputs(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor | None,
    D: Tensor | None,
    delta_bias: Tensor | None,
) -> None:
    _check_tensor("u", u, 3, "(batch, channels, L)")
    _check_tensor("delta", delta, 3, "(batch, channels, L)")
    _check_tensor("A", A, 2, "(channels, N)")
    _check_tensor("B", B, 4, "(batch, groups, N, L)")
    if C is not None:
        _check_tensor("C", C, 4, "(batch, groups, N, L)")
    batch, channels, length = u.shape
    if delta.shape != u.shape:
        raise ValueError(f"delta must have u's shape {tuple(u.shape)}, got {tuple(delta.shape)}")
    if length == 0 or channels == 0:
        raise ValueError(f"u must have non-empty channel and length dims, got {tuple(u.shape)}")
    if A.shape[0] != channels:
        raise ValueError(f"A must have {channels} rows (one per channel of u), got shape {tuple(A.shape)}")
    state = A.shape[1]
    if state == 0:
        raise ValueError("A must have at least one state (N >= 1)")
    for name, t in (("B", B), ("C", C)):
        if t is None:
            continue
        if t.shape[0] != batch or t.shape[2] != state or t.shape[3] != length:
            raise ValueError(
                f"{name} must have shape (batch={batch}, groups, N={state}, L={length}), got {tuple(t.shape)}"
            )
    groups = B.shape[1]
    if C is not None and C.shape[1] != groups:
        raise ValueError(f"B and C must have the same number of groups, got {groups} and {C.shape[1]}")
    if groups == 0 or channels % groups != 0:
        raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is None:
            continue
        _check_tensor(name, t, 1, "(channels,)")
        if t.shape[0] != channels:
            raise ValueError(f"{name} must have shape ({channels},), got {tuple(t.shape)}")
    devices = {t.device for t in (u, delta, A, B, C, D, delta_bias) if t is not None}
    if len(devices) > 1:
        raise ValueError(f"all inputs must be on one device, got {sorted(str(d) for d in devices)}")


def _check_op_call(backend: str, *tensors: Tensor | None) -> None:
    """What a custom op needs beyond consistent shapes: a backend that runs on the tensors'
    device, and one compute dtype (float32 or float64; a backend whose kernels read float16 /
    bfloat16 themselves may also get those, mixed with float32)."""
    reason = backends.unavailable_reason(backend, tensors[0].device)
    if reason is not None:
        raise ValueError(f"backend {backend!r} cannot run this call: {reason}")
    dtypes = sorted({str(t.dtype) for t in tensors if t is not None})
    if len(dtypes) == 1 and dtypes[0] in ("torch.float32", "torch.float64"):
        return
    if backends.reads_half_precision(_PACKAGE, backend):
        if not set(dtypes) <= {"torch.float16", "torch.bfloat16", "torch.float32"}:
            raise ValueError(
                f"backend {backend!r} computes in float32 from float16, bfloat16 or float32 tensors, or in "
                f"float64 from float64 ones, got {dtypes}"
            )
        return
    raise ValueError(f"the op computes in float32 or float64: all its tensors must have one of them, got {dtypes}")


def _check_grad(name: str, grad: Tensor | None, shape: tuple[int, ...], layout: str, like: Tensor) -> None:
    """``grad`` must have ``shape`` and the compute dtype of ``like`` (float32 for half inputs)."""
    if grad is None:
        return
    _check_tensor(name, grad, len(shape), layout)
    dtype = _compute_dtype(like)
    if tuple(grad.shape) != shape or grad.dtype != dtype or grad.device != like.device:
        raise ValueError(
            f"{name} must be {layout} = {shape} in {dtype} on {like.device}, "
            f"got {tuple(grad.shape)} in {grad.dtype} on {grad.device}"
        )


def _contiguous(*tensors: Tensor | None) -> list[Tensor | None]:
    return [None if t is None else t.contiguous() for t in tensors]


def _prepare(dtype: torch.dtype, backend: str, *tensors: Tensor | None) -> list[Tensor | None]:
    # A backend whose kernels read float16 / bfloat16 themselves gets them as they are: no
    # converted copies are made, and none are saved for the backward.
    keep = dtype == torch.float32 and backends.reads_half_precision(_PACKAGE, backend)
    native = (torch.float16, torch.bfloat16, torch.float32) if keep else ()
    return [None if t is None else (t if t.dtype in native else t.to(dtype)).contiguous() for t in tensors]


# --------------------------------------------------------------------------------------------
# selective_scan


@torch.library.custom_op("vmamba_zoo::selective_scan", mutates_args=())
def _selective_scan_op(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    delta_bias: Tensor | None,
    delta_softplus: bool,
    backend: str,
) -> tuple[Tensor, Tensor]:
    _check_inputs(u, delta, A, B, C, D, delta_bias)
    _check_op_call(backend, u, delta, A, B, C, D, delta_bias)
    if u.shape[0] == 0:  # an empty batch: empty outputs, whatever the backend
        return u.new_empty(u.shape), u.new_empty((0, u.shape[1], A.shape[1]))
    return _kernels(backend).fwd(*_contiguous(u, delta, A, B, C, D, delta_bias), delta_softplus)


@_selective_scan_op.register_fake
def _(u, delta, A, B, C, D, delta_bias, delta_softplus, backend):
    dtype = _compute_dtype(u)
    return u.new_empty(u.shape, dtype=dtype), u.new_empty((u.shape[0], u.shape[1], A.shape[1]), dtype=dtype)


@torch.library.custom_op("vmamba_zoo::selective_scan_backward", mutates_args=())
def _selective_scan_backward_op(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    delta_bias: Tensor | None,
    delta_softplus: bool,
    backend: str,
    dy: Tensor,
    dlast: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    _check_inputs(u, delta, A, B, C, D, delta_bias)
    _check_op_call(backend, u, delta, A, B, C, D, delta_bias)
    _check_grad("dy", dy, tuple(u.shape), "(batch, channels, L)", u)
    _check_grad("dlast", dlast, (u.shape[0], u.shape[1], A.shape[1]), "(batch, channels, N)", u)
    if u.shape[0] == 0:
        grads = (torch.zeros_like(u), torch.zeros_like(delta), torch.zeros_like(A), torch.zeros_like(B),
                 torch.zeros_like(C), None if D is None else torch.zeros_like(D),
                 None if delta_bias is None else torch.zeros_like(delta_bias))
    else:
        grads = _kernels(backend).bwd(
            *_contiguous(u, delta, A, B, C, D, delta_bias), delta_softplus, *_contiguous(dy, dlast)
        )
    # custom ops cannot return None: an empty tensor stands for "no such input".
    return tuple(g if g is not None else u.new_empty(0) for g in grads)


@_selective_scan_backward_op.register_fake
def _(u, delta, A, B, C, D, delta_bias, delta_softplus, backend, dy, dlast):
    return (
        torch.empty_like(u),
        torch.empty_like(delta),
        torch.empty_like(A),
        torch.empty_like(B),
        torch.empty_like(C),
        torch.empty_like(D) if D is not None else u.new_empty(0),
        torch.empty_like(delta_bias) if delta_bias is not None else u.new_empty(0),
    )


def _scan_setup_context(ctx, inputs, output):
    u, delta, A, B, C, D, delta_bias, delta_softplus, backend = inputs
    ctx.save_for_backward(u, delta, A, B, C, D, delta_bias)
    ctx.delta_softplus = delta_softplus
    ctx.backend = backend


def _scan_backward(ctx, dy, dlast):
    u, delta, A, B, C, D, delta_bias = ctx.saved_tensors
    if dy is None:
        dy = torch.zeros_like(u)
    grads = _selective_scan_backward_op(
        u, delta, A, B, C, D, delta_bias, ctx.delta_softplus, ctx.backend, dy.contiguous(),
        None if dlast is None else dlast.contiguous(),
    )
    du, ddelta, dA, dB, dC, dD, ddelta_bias = grads
    return (
        du, ddelta, dA, dB, dC,
        dD if D is not None else None,
        ddelta_bias if delta_bias is not None else None,
        None, None,
    )


_selective_scan_op.register_autograd(_scan_backward, setup_context=_scan_setup_context)


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    backend: str = "auto",
) -> Tensor | tuple[Tensor, Tensor]:
    """Grouped selective scan; see the module docstring for the math.

    Shapes: ``u, delta`` (batch, G*Dg, L); ``A`` (G*Dg, N); ``B, C`` (batch, G, N, L);
    ``D, delta_bias`` (G*Dg,) or None. Returns ``y`` (batch, G*Dg, L), and with
    ``return_last_state`` also ``h_{L-1}`` (batch, G*Dg, N), in ``u``'s dtype (computed in
    float32; float64 in and out when an input is float64).
    """
    _check_inputs(u, delta, A, B, C, D, delta_bias)
    backend = backends.resolve(backend, u.device)
    dtype = _compute_dtype(u, delta, A, B, C, D, delta_bias)
    args = _prepare(dtype, backend, u, delta, A, B, C, D, delta_bias)
    y, last_state = _selective_scan_op(*args, bool(delta_softplus), backend)
    y, last_state = y.to(result_dtype(u, dtype)), last_state.to(result_dtype(u, dtype))
    return (y, last_state) if return_last_state else y


# --------------------------------------------------------------------------------------------
# selective_scan_states (all hidden states; Spatial-Mamba)


@torch.library.custom_op("vmamba_zoo::selective_scan_states", mutates_args=())
def _states_op(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    delta_bias: Tensor | None,
    delta_softplus: bool,
    backend: str,
) -> Tensor:
    _check_inputs(u, delta, A, B, None, None, delta_bias)
    _check_op_call(backend, u, delta, A, B, delta_bias)
    if u.shape[0] == 0:
        return u.new_empty((0, u.shape[1], A.shape[1], u.shape[2]))
    return _kernels(backend).states_fwd(*_contiguous(u, delta, A, B, delta_bias), delta_softplus)


@_states_op.register_fake
def _(u, delta, A, B, delta_bias, delta_softplus, backend):
    return u.new_empty((u.shape[0], u.shape[1], A.shape[1], u.shape[2]), dtype=_compute_dtype(u))


@torch.library.custom_op("vmamba_zoo::selective_scan_states_backward", mutates_args=())
def _states_backward_op(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    delta_bias: Tensor | None,
    delta_softplus: bool,
    backend: str,
    dh: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    _check_inputs(u, delta, A, B, None, None, delta_bias)
    _check_op_call(backend, u, delta, A, B, delta_bias)
    _check_grad("dh", dh, (u.shape[0], u.shape[1], A.shape[1], u.shape[2]), "(batch, channels, N, L)", u)
    if u.shape[0] == 0:
        grads = (torch.zeros_like(u), torch.zeros_like(delta), torch.zeros_like(A), torch.zeros_like(B),
                 None if delta_bias is None else torch.zeros_like(delta_bias))
    else:
        grads = _kernels(backend).states_bwd(
            *_contiguous(u, delta, A, B, delta_bias), delta_softplus, dh.contiguous()
        )
    return tuple(g if g is not None else u.new_empty(0) for g in grads)


@_states_backward_op.register_fake
def _(u, delta, A, B, delta_bias, delta_softplus, backend, dh):
    return (
        torch.empty_like(u),
        torch.empty_like(delta),
        torch.empty_like(A),
        torch.empty_like(B),
        torch.empty_like(delta_bias) if delta_bias is not None else u.new_empty(0),
    )


def _states_setup_context(ctx, inputs, output):
    u, delta, A, B, delta_bias, delta_softplus, backend = inputs
    ctx.save_for_backward(u, delta, A, B, delta_bias)
    ctx.delta_softplus = delta_softplus
    ctx.backend = backend


def _states_backward(ctx, dh):
    u, delta, A, B, delta_bias = ctx.saved_tensors
    du, ddelta, dA, dB, ddelta_bias = _states_backward_op(
        u, delta, A, B, delta_bias, ctx.delta_softplus, ctx.backend, dh.contiguous()
    )
    return du, ddelta, dA, dB, ddelta_bias if delta_bias is not None else None, None, None


_states_op.register_autograd(_states_backward, setup_context=_states_setup_context)


def selective_scan_states(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    backend: str = "auto",
) -> Tensor:
    """Every hidden state of the grouped selective scan, ``h`` of shape (batch, G*Dg, N, L).

    Same recurrence and shapes as :func:`selective_scan`, without C and D: the caller applies its
    own observation equation (Spatial-Mamba fuses the states spatially first). Differentiable in
    ``u, delta, A, B, delta_bias``. Returned in ``u``'s dtype (computed in float32; float64 in
    and out when an input is float64).
    """
    _check_inputs(u, delta, A, B, None, None, delta_bias)
    backend = backends.resolve(backend, u.device)
    dtype = _compute_dtype(u, delta, A, B, delta_bias)
    args = _prepare(dtype, backend, u, delta, A, B, delta_bias)
    return _states_op(*args, bool(delta_softplus), backend).to(result_dtype(u, dtype))
