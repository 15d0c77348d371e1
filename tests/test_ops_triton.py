"""The "triton" backends against the "torch" reference, run on CPU tensors by Triton's interpreter.

TRITON_INTERPRET is read when a kernel is jitted; our kernels are jitted at first launch for the
mode active then (vmamba_zoo.ops._triton.Kernel), so setting the variable in a fixture is enough
even when the backend modules were imported earlier. Shapes are tiny: the interpreter runs every
scan element through Python.
"""

import pytest
import torch

pytest.importorskip("triton")

from vmamba_zoo.ops import (  # noqa: E402
    CROSS_SCAN_MODES,
    cross_merge,
    cross_scan,
    selective_scan,
    selective_scan_states,
)
from vmamba_zoo.ops.selective_scan import triton as triton_scan  # noqa: E402

from op_inputs import scan_inputs  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def triton_interpreter():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRITON_INTERPRET", "1")
        yield


def _leaves(inputs):
    return {k: (v.clone().requires_grad_(True) if v is not None else None) for k, v in inputs.items()}


def _tolerances(dtype):
    return {"rtol": 1e-9, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 2e-4, "atol": 2e-5}


def _run_scan(inputs, softplus, backend, grad_seed=1):
    leaves = _leaves(inputs)
    y, last = selective_scan(
        **leaves, delta_softplus=softplus, return_last_state=True, backend=backend
    )
    gen = torch.Generator().manual_seed(grad_seed)
    dy = torch.randn(y.shape, generator=gen, dtype=y.dtype)
    dlast = torch.randn(last.shape, generator=gen, dtype=last.dtype)
    ((y * dy).sum() + (last * dlast).sum()).backward()
    grads = {k: v.grad for k, v in leaves.items() if v is not None}
    return y.detach(), last.detach(), grads


SCAN_CASES = [
    # batch, groups, Dg, N, L, softplus, delta_bias, D
    (2, 1, 3, 1, 7, True, True, True),
    (1, 4, 1, 16, 6, False, True, False),
    (1, 4, 1, 3, 9, True, False, True),
    (2, 1, 2, 5, 1, True, True, True),  # L = 1
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", SCAN_CASES)
def test_selective_scan_matches_torch(case, dtype):
    *shape, softplus, bias, with_D = case
    inputs = scan_inputs(*shape, dtype, softplus, bias, with_D)
    y_ref, last_ref, grads_ref = _run_scan(inputs, softplus, "torch")
    y, last, grads = _run_scan(inputs, softplus, "triton")
    tol = _tolerances(dtype)
    assert y.dtype == dtype and last.dtype == dtype
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(last, last_ref, **tol)
    assert grads.keys() == grads_ref.keys()
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], **tol, msg=f"gradient of {name}")


def test_selective_scan_only_y_gradient():
    """Backward without a last-state gradient (dlast is None)."""
    inputs = scan_inputs(1, 1, 2, 4, 6, torch.float64, True, True, True)
    outs = {}
    for backend in ("torch", "triton"):
        leaves = _leaves(inputs)
        selective_scan(**leaves, delta_softplus=True, backend=backend).square().sum().backward()
        outs[backend] = {k: v.grad for k, v in leaves.items() if v is not None}
    for name, grad in outs["torch"].items():
        torch.testing.assert_close(outs["triton"][name], grad, **_tolerances(torch.float64))


def _run_states(inputs, softplus, backend):
    leaves = _leaves({k: inputs[k] for k in ("u", "delta", "A", "B", "delta_bias")})
    h = selective_scan_states(**leaves, delta_softplus=softplus, backend=backend)
    dh = torch.randn(h.shape, generator=torch.Generator().manual_seed(2), dtype=h.dtype)
    (h * dh).sum().backward()
    return h.detach(), {k: v.grad for k, v in leaves.items() if v is not None}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "case", [(2, 1, 3, 1, 7, True, True), (1, 4, 1, 16, 5, False, False), (1, 1, 2, 3, 1, True, True)]
)
def test_selective_scan_states_matches_torch(case, dtype):
    *shape, softplus, bias = case
    inputs = scan_inputs(*shape, dtype, softplus, bias, False)
    h_ref, grads_ref = _run_states(inputs, softplus, "torch")
    h, grads = _run_states(inputs, softplus, "triton")
    tol = _tolerances(dtype)
    torch.testing.assert_close(h, h_ref, **tol)
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], **tol, msg=f"gradient of {name}")


def _check_against_torch(inputs, softplus, tol):
    y_ref, last_ref, grads_ref = _run_scan(inputs, softplus, "torch")
    y, last, grads = _run_scan(inputs, softplus, "triton")
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(last, last_ref, **tol)
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], **tol, msg=f"gradient of {name}")
    h_ref, states_grads_ref = _run_states(inputs, softplus, "torch")
    h, states_grads = _run_states(inputs, softplus, "triton")
    torch.testing.assert_close(h, h_ref, **tol)
    for name in states_grads_ref:
        torch.testing.assert_close(states_grads[name], states_grads_ref[name], **tol, msg=f"states: {name}")


def test_state_is_carried_across_chunks_and_state_blocks(monkeypatch):
    """Small tiles force several chunks per row and several state blocks (the long-sequence path)."""
    monkeypatch.setattr(triton_scan, "INTERPRETER_MAX_BLOCK_T", 2)
    monkeypatch.setattr(triton_scan, "INTERPRETER_MAX_BLOCK_S", 2)  # N = 3: blocks of 2 and 1 states
    monkeypatch.setattr(triton_scan, "MAX_RUN", 2)  # 2 runs of 2 positions per chunk: 3 chunks for L = 11
    assert triton_scan.layout(3, 11)["n_chunks"] == 3
    _check_against_torch(scan_inputs(1, 4, 1, 3, 11, torch.float64, True, True, True), True,
                         _tolerances(torch.float64))


@pytest.mark.parametrize("N, L", [(1, 300), (5, 70)])
def test_compiled_tiling_in_the_interpreter(monkeypatch, N, L):
    """The tiling the GPU runs (one state per block, a warp of runs per chunk), interpreted."""
    monkeypatch.setattr(triton_scan, "INTERPRETER_MAX_BLOCK_T", triton_scan.MAX_BLOCK_T)
    monkeypatch.setattr(triton_scan, "INTERPRETER_MAX_BLOCK_S", triton_scan.MAX_BLOCK_S)
    assert triton_scan.layout(N, L) == triton_scan.layout(N, L, interpreted=False)
    _check_against_torch(scan_inputs(1, 2, 2, N, L, torch.float32, True, True, True), True,
                         _tolerances(torch.float32))


# VMamba's stage lengths (3136 and 784 take the GPU's vectorised layout, L % 16 == 0) and state
# sizes (1 for v2/v3 models, 16 for v0 / Res-VMamba), one group of 192 channels, float32.
@pytest.mark.slow
@pytest.mark.parametrize("N", [1, 16])
@pytest.mark.parametrize("L", [256, 784, 3136])
def test_vmamba_shapes(N, L):
    inputs = scan_inputs(1, 1, 192, N, L, torch.float32, True, True, True)
    y_ref, last_ref, grads_ref = _run_scan(inputs, True, "torch")
    y, last, grads = _run_scan(inputs, True, "triton")
    tol = {"rtol": 1e-3, "atol": 1e-4}
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(last, last_ref, **tol)
    for name in grads_ref:
        # Gradients summed over 192 channels and L positions: compare relative to their scale.
        scale = grads_ref[name].abs().max().clamp_min(1.0)
        torch.testing.assert_close(grads[name] / scale, grads_ref[name] / scale, **tol, msg=f"gradient of {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softplus_is_accurate_for_very_negative_inputs(dtype):
    """dt = softplus(delta) over a wide range, read back as the states of a scan with B = u = 1
    and no memory (h = dt): no underflow to 0 below -17, no cancellation near 0."""
    delta = torch.linspace(-60.0, 30.0, 181, dtype=dtype).view(1, 1, -1)
    ones = torch.ones_like(delta)
    A = torch.full((1, 1), -1e30, dtype=dtype)  # exp(dt * A) = 0: no state is carried, h_l = dt_l
    B = torch.ones(1, 1, 1, delta.shape[-1], dtype=dtype)
    h = selective_scan_states(ones, delta, A, B, delta_softplus=True, backend="triton")
    expected = torch.nn.functional.softplus(delta)
    assert (h.flatten() > 0).all()
    torch.testing.assert_close(h.flatten(), expected.flatten(), rtol=2e-6 if dtype == torch.float32 else 1e-13,
                               atol=0)


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
def test_half_inputs_are_read_as_they_are(half):
    """u, delta, B, C in half precision (A, D, delta_bias float32 as under autocast): the kernels
    convert in registers, the backward keeps the half tensors (no float32 copies), gradients
    come back in each input's dtype and equal the reference on the same values."""
    inputs = scan_inputs(2, 2, 3, 4, 37, torch.float32, True, True, True)
    for name in ("u", "delta", "B", "C"):
        inputs[name] = inputs[name].to(half)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.dtype) or t, lambda t: t):
        selective_scan(**_leaves(inputs), delta_softplus=True, backend="triton")
    assert saved == [half, half, torch.float32, half, half, torch.float32, torch.float32]
    y, last, grads = _run_scan(inputs, True, "triton")
    y_ref, last_ref, grads_ref = _run_scan(inputs, True, "torch")
    tol = _tolerances(torch.float32)
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(last, last_ref, **tol)
    for name, ref in grads_ref.items():
        assert grads[name].dtype == inputs[name].dtype, name
        # The reference computes the gradient in float32 and rounds it once to the input's dtype;
        # the kernels round the same float32 values.
        torch.testing.assert_close(grads[name].float(), ref.float(), rtol=1e-2, atol=1e-2, msg=name)


def test_deterministic_mode_writes_dB_dC_without_atomics():
    """Under torch.use_deterministic_algorithms(True) dB / dC are written per channel and summed
    over the group in a fixed order: same result as the reference, and bitwise repeatable."""
    inputs = scan_inputs(2, 2, 3, 4, 19, torch.float64, True, True, True)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        _, _, first = _run_scan(inputs, True, "triton")
        _, _, second = _run_scan(inputs, True, "triton")
        _, states_grads = _run_states(inputs, True, "triton")
    finally:
        torch.use_deterministic_algorithms(previous)
    _, _, ref = _run_scan(inputs, True, "torch")
    _, states_ref = _run_states(inputs, True, "torch")
    for name in ref:
        assert torch.equal(first[name], second[name]), name
        torch.testing.assert_close(first[name], ref[name], **_tolerances(torch.float64), msg=name)
    for name in states_ref:
        torch.testing.assert_close(states_grads[name], states_ref[name], **_tolerances(torch.float64), msg=name)


@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
@pytest.mark.parametrize("hw", [(3, 5), (4, 4), (1, 1)])
def test_cross_scan_and_merge_match_torch(mode, hw):
    H, W = hw
    x = torch.randn(2, 8, H, W, dtype=torch.float64, requires_grad=True)
    xs = cross_scan(x, mode, backend="triton")
    xs_ref = cross_scan(x, mode, backend="torch")
    assert torch.equal(xs, xs_ref)
    # Backward of the scan is the merge kernel.
    dxs = torch.randn_like(xs)
    (dx,) = torch.autograd.grad(xs, x, dxs)
    (dx_ref,) = torch.autograd.grad(xs_ref, x, dxs)
    torch.testing.assert_close(dx, dx_ref)
    ys = torch.randn_like(xs_ref)
    y = cross_merge(ys, H, W, mode, backend="triton")
    torch.testing.assert_close(y, cross_merge(ys, H, W, mode, backend="torch"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mode", ["cross2d", "atrous2", "cross2d_grouped"])
def test_cross_scan_keeps_dtype(mode, dtype):
    x = torch.randn(1, 4, 3, 5).to(dtype)
    xs = cross_scan(x, mode, backend="triton")
    assert xs.dtype == dtype
    assert torch.equal(xs, cross_scan(x, mode, backend="torch"))
    y = cross_merge(xs, 3, 5, mode, backend="triton")
    assert y.dtype == dtype
    # The merge sums in float32 and rounds once; the interpreter's float32 -> bfloat16 cast
    # truncates (the GPU rounds to nearest), so allow one unit in the last place.
    expected = cross_merge(xs.double(), 3, 5, mode, backend="torch")
    torch.testing.assert_close(y.double(), expected, rtol=2 ** -7 if dtype == torch.bfloat16 else 2 ** -10, atol=0)
