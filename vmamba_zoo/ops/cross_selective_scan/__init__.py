"""Cross selective scan: the scan core of every SS2D-style block as one op.

On a channel-last map ``x`` (batch, H, W, C) it computes, for the K routes of a cross-scan
``mode`` (direction k owns row k of every parameter table)::

    xs    = cross_scan(x, mode)                           # (batch, K, Dk, L)
    x_dbl = x_proj_weight[k] @ xs[:, k]                   # (R + 2N, L): Δ's low-rank input, B, C
    delta = dt_projs_weight[k] @ x_dbl[:R]                # (Dk, L)
    ys    = selective_scan(xs, delta, A, B, C, D, dt_projs_bias, delta_softplus)  # group k = route k
    y     = cross_merge(ys, H, W, mode)                   # back to (batch, H, W, C)

(Dk = C, or C / K for grouped modes.) The ``"cpu"`` backend runs it as one fused op
(``vmamba_zoo::cross_selective_scan``) whose kernel walks the routes over the map in place: no
K-fold copies of the map, its Δ or its outputs are written, and the gathers read whole channel
vectors. Its backward (``vmamba_zoo::cross_selective_scan_backward``) walks the routes the same
way, recomputing the states from the saved inputs, adds the gradient through the scan input
straight into the map's gradient, and leaves the two projections' gradients to GEMMs over
per-pixel gradients of Δ's low-rank product, B and C. The other backends run the chain of ops,
each differentiated by its own backward; it is the oracle the fused op is tested against (the
fused kernels add the K routes in another order, so they agree up to float rounding).

Without a gradient, a bfloat16 ``x`` (float32 parameters) is read as it is: the per-route
projections are a bfloat16 GEMM, as in the chain, and the kernel keeps its states and sums in
float32 and rounds y to bfloat16 once. With a gradient, x is widened to float32 first.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import backends
from ..cross_scan import cross_merge, cross_scan
from ..cross_scan.index_maps import scan_sources
from ..cross_scan.modes import check_mode, geometry
from ..selective_scan import result_dtype, selective_scan


@torch.library.custom_op("vmamba_zoo::cross_selective_scan", mutates_args=())
def _fused_op(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A: Tensor,
    D: Tensor,
    mode: str,
    delta_softplus: bool,
) -> Tensor:
    from ... import _C

    params = (x_proj_weight, dt_projs_weight, dt_projs_bias, A, D)
    _check_fused_call(x, params, mode)
    if x.shape[0] == 0:  # an empty batch: an empty output
        return torch.empty_like(x)
    x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D = (t.contiguous() for t in (x, *params))
    batch, H, W, C = x.shape
    pixels, x_dbl, route, grouped = _project(x, x_proj_weight, mode)
    y = _C.cross_selective_scan_fwd(
        pixels.view(batch, H * W, C), x_dbl, route, dt_projs_weight, dt_projs_bias, A, D, grouped, delta_softplus,
    )
    return y.view(batch, H, W, C)


def _check_fused_call(x: Tensor, params: tuple[Tensor, ...], mode: str) -> None:
    _check_inputs(x, *params, mode)
    dtypes = sorted({str(t.dtype) for t in params})
    if len(dtypes) != 1 or dtypes[0] not in ("torch.float32", "torch.float64") or not (
        x.dtype == params[0].dtype or (x.dtype == torch.bfloat16 and dtypes[0] == "torch.float32")
    ):
        raise ValueError(
            "the fused op computes in float32 or float64: all its tensors must have one of them (x may be "
            f"bfloat16 with float32 parameters), got x {x.dtype} and parameters {dtypes}"
        )
    if x.device.type != "cpu":
        raise ValueError(f"the fused op runs on CPU tensors, got tensors on {x.device}")


def _rows_times_transposed(rows: Tensor, weight: Tensor) -> Tensor:
    """``rows @ weight.T``: for float32 CPU tensors by oneDNN's linear, faster than MKL's sgemm at
    these tall, narrow shapes (the forward and the backward's recomputation take the same path,
    so they see the same x_dbl)."""
    if rows.dtype == torch.float32 and rows.device.type == "cpu" and _onednn_linear_available():
        return torch.ops.mkldnn._linear_pointwise(rows, weight, None, "none", [], "")
    return torch.mm(rows, weight.t())


def _onednn_linear_available() -> bool:
    return torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled


def _project(x: Tensor, x_proj_weight: Tensor, mode: str) -> tuple[Tensor, Tensor, Tensor, bool]:
    """The fused kernels' inputs besides the parameters: the map as (pixels, C) rows, x_dbl (K,
    pixels, R + 2N) (a view), the routes and whether the mode is grouped."""
    batch, H, W, C = x.shape
    K, _, Dk = x_proj_weight.shape
    grouped = geometry(mode, H, W).grouped
    pixels = x.reshape(batch * H * W, C)
    # x_dbl[k, pixel] = x_proj_weight[k] @ (the channels of route k at that pixel): one GEMM
    # over all routes, or one per channel group; in x's dtype even under autocast (bfloat16 x:
    # a bfloat16 GEMM, as the chain's, widened to the parameters' float32 for the kernel: every
    # channel block of an image reads it)
    weight = x_proj_weight.to(x.dtype)
    with torch.autocast(x.device.type, enabled=False):
        if grouped:
            x_dbl = torch.bmm(pixels.view(-1, K, Dk).transpose(0, 1), weight.transpose(1, 2))
            x_dbl = x_dbl.to(x_proj_weight.dtype)
        else:
            x_dbl = _rows_times_transposed(pixels, weight.reshape(-1, C)).to(x_proj_weight.dtype)
            x_dbl = x_dbl.view(-1, K, x_proj_weight.shape[1]).transpose(0, 1)
    return pixels, x_dbl, scan_sources(mode, H, W, x.device), grouped


@_fused_op.register_fake
def _(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D, mode, delta_softplus):
    return torch.empty_like(x)


@torch.library.custom_op("vmamba_zoo::cross_selective_scan_backward", mutates_args=())
def _fused_backward_op(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A: Tensor,
    D: Tensor,
    mode: str,
    delta_softplus: bool,
    dy: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of the fused op for x and every parameter. The C++ kernel walks the routes over
    the map as the forward does and returns dy's gradient through the scan input, Δ's low-rank
    product, B and C per pixel and route; the two projections' gradients are GEMMs here."""
    from ... import _C

    params = (x_proj_weight, dt_projs_weight, dt_projs_bias, A, D)
    _check_fused_call(x, params, mode)
    if dy.shape != x.shape or dy.dtype != x.dtype:
        raise ValueError(f"dy must be like x {tuple(x.shape)} {x.dtype}, got {tuple(dy.shape)} {dy.dtype}")
    if x.shape[0] == 0:
        return (torch.zeros_like(x), *(torch.zeros_like(t) for t in params))
    x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D = (t.contiguous() for t in (x, *params))
    batch, H, W, C = x.shape
    K, rows, Dk = x_proj_weight.shape
    R = dt_projs_weight.shape[2]
    pixels, x_dbl, route, grouped = _project(x, x_proj_weight, mode)
    dx, ddelta, dBC, dA, dD, dbias = _C.cross_selective_scan_bwd(
        pixels.view(batch, H * W, C), x_dbl, route, dt_projs_weight, dt_projs_bias, A, D, grouped, delta_softplus,
        dy.contiguous().view(batch, H * W, C),
    )
    with torch.autocast(x.device.type, enabled=False):
        # Δ = dt_projs_weight[k] @ x_dbl[k, :, :R]^T per route: (K, pixels, R) and (K, Dk, R)
        d_dbl = torch.cat([torch.bmm(ddelta, dt_projs_weight), dBC], dim=2)  # (K, pixels, R + 2N)
        d_dt_weight = torch.bmm(ddelta.transpose(1, 2), x_dbl[:, :, :R])
        dx = dx.view(-1, C)
        if grouped:  # route k projects channel group k
            d_proj_weight = torch.bmm(d_dbl.transpose(1, 2), pixels.view(-1, K, Dk).transpose(0, 1))
            dx.view(-1, K, Dk).add_(torch.bmm(d_dbl, x_proj_weight).transpose(0, 1))
        else:
            d_flat = d_dbl.transpose(0, 1).reshape(-1, K * rows)
            d_proj_weight = torch.mm(d_flat.t(), pixels).view(K, rows, C)
            dx.addmm_(d_flat, x_proj_weight.reshape(K * rows, C))
    return (dx.view(x.shape), d_proj_weight, d_dt_weight, dbias.view_as(dt_projs_bias), dA, dD.view_as(D))


@_fused_backward_op.register_fake
def _(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D, mode, delta_softplus, dy):
    return tuple(torch.empty_like(t) for t in (x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D))


def _fused_setup_context(ctx, inputs, output):
    *tensors, mode, delta_softplus = inputs
    ctx.save_for_backward(*tensors)
    ctx.mode, ctx.delta_softplus = mode, delta_softplus


def _fused_backward(ctx, dy):
    grads = _fused_backward_op(*ctx.saved_tensors, ctx.mode, ctx.delta_softplus, dy.contiguous())
    return (*grads, None, None)


_fused_op.register_autograd(_fused_backward, setup_context=_fused_setup_context)


def _chain(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A: Tensor,
    D: Tensor,
    mode: str,
    delta_softplus: bool,
    backend: str,
) -> Tensor:
    """The op as its chain of differentiable ops (see the module docstring)."""
    batch, H, W, _ = x.shape
    K, _, Dk = x_proj_weight.shape
    R, N = dt_projs_weight.shape[2], A.shape[1]
    xs = cross_scan(x.permute(0, 3, 1, 2), mode, backend=backend)
    L = xs.shape[-1]
    # per-route projections as one bmm over (batch * K): it reads xs in place (einsum would copy
    # it into a K-major layout, measured 2-3x slower on CPU) and fvcore counts bmm exactly
    x_dbl = torch.bmm(_per_sample(x_proj_weight, batch, xs.dtype), xs.reshape(batch * K, Dk, L))
    delta = torch.bmm(_per_sample(dt_projs_weight, batch, xs.dtype), x_dbl[:, :R])
    B, C = x_dbl[:, R:].view(batch, K, 2 * N, L).split([N, N], dim=2)
    ys = selective_scan(
        xs.reshape(batch, K * Dk, L), delta.view(batch, K * Dk, L), A, B, C, D, dt_projs_bias.reshape(-1),
        delta_softplus=delta_softplus, backend=backend,
    )
    y = cross_merge(ys.view(batch, K, Dk, L), H, W, mode, backend=backend)  # (batch, C, H*W)
    return y.transpose(1, 2).reshape(batch, H, W, -1)


def _per_sample(weight: Tensor, batch: int, dtype: torch.dtype) -> Tensor:
    """(K, out, in) per-route weights repeated for every sample: (batch * K, out, in)."""
    K, rows, cols = weight.shape
    return weight.to(dtype).unsqueeze(0).expand(batch, K, rows, cols).reshape(batch * K, rows, cols)


def _check_inputs(
    x: Tensor, x_proj_weight: Tensor, dt_projs_weight: Tensor, dt_projs_bias: Tensor, A: Tensor, D: Tensor, mode: str
) -> None:
    check_mode(mode)
    named = {"x": x, "x_proj_weight": x_proj_weight, "dt_projs_weight": dt_projs_weight,
             "dt_projs_bias": dt_projs_bias, "A": A, "D": D}
    for name, t in named.items():
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if x.dim() != 4 or min(x.shape[1:]) == 0:
        raise ValueError(f"x must be a channel-last map (batch, H, W, C) with H, W, C >= 1, got shape {tuple(x.shape)}")
    batch, H, W, C = x.shape
    geo = geometry(mode, H, W)
    if x_proj_weight.dim() != 3 or x_proj_weight.shape[0] != geo.K:
        raise ValueError(
            f"x_proj_weight must be (K={geo.K}, R + 2N, Dk) for mode {mode!r}, got {tuple(x_proj_weight.shape)}"
        )
    Dk = C // geo.K if geo.grouped else C
    if (geo.grouped and C % geo.K) or x_proj_weight.shape[2] != Dk:
        raise ValueError(
            f"x has {C} channels; mode {mode!r} needs x_proj_weight's last dim to be "
            f"{'C / K' if geo.grouped else 'C'}, got {tuple(x_proj_weight.shape)}"
        )
    if A.dim() != 2 or A.shape[0] != geo.K * Dk or A.shape[1] == 0:
        raise ValueError(f"A must be (K * Dk = {geo.K * Dk}, N), got {tuple(A.shape)}")
    N = A.shape[1]
    R = x_proj_weight.shape[1] - 2 * N
    if R <= 0:
        raise ValueError(f"x_proj_weight has {x_proj_weight.shape[1]} rows, fewer than R + 2N with N = {N}")
    if tuple(dt_projs_weight.shape) != (geo.K, Dk, R):
        raise ValueError(f"dt_projs_weight must be (K, Dk, R) = {(geo.K, Dk, R)}, got {tuple(dt_projs_weight.shape)}")
    for name, t in (("dt_projs_bias", dt_projs_bias), ("D", D)):
        if t.numel() != geo.K * Dk:
            raise ValueError(f"{name} must have K * Dk = {geo.K * Dk} elements, got shape {tuple(t.shape)}")
    devices = {t.device for t in named.values()}
    if len(devices) > 1:
        raise ValueError(f"all inputs must be on one device, got {sorted(str(d) for d in devices)}")


def cross_selective_scan(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A: Tensor,
    D: Tensor,
    mode: str = "cross2d",
    delta_softplus: bool = True,
    backend: str = "auto",
) -> Tensor:
    """SS2D's scan core on a channel-last map; see the module docstring for the math.

    Shapes: ``x`` (batch, H, W, C); ``x_proj_weight`` (K, R + 2N, Dk); ``dt_projs_weight``
    (K, Dk, R); ``dt_projs_bias`` and ``D`` K * Dk elements; ``A`` (K * Dk, N). Returns y
    (batch, H, W, C) in ``x``'s dtype, as :func:`~vmamba_zoo.ops.selective_scan` (the scan
    computes in float32; float64 in and out when an input is float64).
    """
    _check_inputs(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D, mode)
    backend = backends.resolve(backend, x.device)
    params = (x_proj_weight, dt_projs_weight, dt_projs_bias, A, D)
    dtype = torch.float64 if any(t.dtype == torch.float64 for t in (x, *params)) else torch.float32
    result = result_dtype(x, dtype)
    if x.shape[0] == 0:  # an empty batch: an empty output, on every path
        return x.new_empty(x.shape, dtype=result)
    if backend != "cpu":
        return _chain(x, *params, mode, bool(delta_softplus), backend).to(result)
    # bfloat16 x stays bfloat16 for inference (the kernel reads it and rounds its output once);
    # the rest, and x when a gradient is needed, computes in dtype
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (x, *params))
    keep_bf16 = x.dtype == torch.bfloat16 and dtype == torch.float32 and not needs_grad
    x = x.contiguous() if keep_bf16 else x.to(dtype).contiguous()
    params = [t.to(dtype).contiguous() for t in params]
    return _fused_op(x, *params, mode, bool(delta_softplus)).to(result)


__all__ = ["cross_selective_scan"]
