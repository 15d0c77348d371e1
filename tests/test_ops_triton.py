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


@pytest.fixture(autouse=True, scope="module")
def triton_interpreter():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRITON_INTERPRET", "1")
        yield


def _scan_inputs(batch, groups, group_channels, N, L, dtype, softplus, bias, with_D, seed=0):
    gen = torch.Generator().manual_seed(seed)
    channels = groups * group_channels

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    # Without softplus, keep delta positive so that exp(delta * A) decays as in real models.
    delta = randn(batch, channels, L) if softplus else torch.rand(batch, channels, L, generator=gen, dtype=dtype)
    return {
        "u": randn(batch, channels, L),
        "delta": delta,
        "A": -(torch.rand(channels, N, generator=gen, dtype=dtype) + 0.1),
        "B": randn(batch, groups, N, L),
        "C": randn(batch, groups, N, L),
        "D": randn(channels) if with_D else None,
        "delta_bias": randn(channels) * 0.5 if bias else None,
    }


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
    inputs = _scan_inputs(*shape, dtype, softplus, bias, with_D)
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
    inputs = _scan_inputs(1, 1, 2, 4, 6, torch.float64, True, True, True)
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
    inputs = _scan_inputs(*shape, dtype, softplus, bias, False)
    h_ref, grads_ref = _run_states(inputs, softplus, "torch")
    h, grads = _run_states(inputs, softplus, "triton")
    tol = _tolerances(dtype)
    torch.testing.assert_close(h, h_ref, **tol)
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], **tol, msg=f"gradient of {name}")


def test_state_is_carried_across_chunks(monkeypatch):
    """A small tile forces several chunks per row (the long-sequence path)."""
    monkeypatch.setattr(triton_scan, "MAX_BLOCK_T", 2)
    monkeypatch.setattr(triton_scan, "MAX_RUN", 2)  # 2 runs of 2 positions per chunk: 3 chunks for L = 11
    inputs = _scan_inputs(1, 4, 1, 3, 11, torch.float64, True, True, True)
    y_ref, last_ref, grads_ref = _run_scan(inputs, True, "torch")
    y, last, grads = _run_scan(inputs, True, "triton")
    tol = _tolerances(torch.float64)
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(last, last_ref, **tol)
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], **tol, msg=f"gradient of {name}")
    h_ref, states_grads_ref = _run_states(inputs, True, "torch")
    h, states_grads = _run_states(inputs, True, "triton")
    torch.testing.assert_close(h, h_ref, **tol)
    for name in states_grads_ref:
        torch.testing.assert_close(states_grads[name], states_grads_ref[name], **tol)


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


def _compile_for_gpu(raw_fn, pointer_types, constexprs, capability):
    """Compile a kernel to a cubin for an NVIDIA target; needs Triton's bundled ptxas, not a GPU."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.runtime.jit import JITFunction

    fn = JITFunction(raw_fn)
    signature = {
        name: "constexpr" if name in constexprs else pointer_types.get(name, "i32")
        for name in fn.arg_names
    }
    return triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget("cuda", capability, 32))


@pytest.mark.slow
@pytest.mark.parametrize("capability", [80, 90])
def test_kernels_compile_for_gpu(capability, monkeypatch):
    """The interpreter accepts code the GPU compiler rejects (e.g. non-constexpr globals), so
    compile every kernel for sm_80 / sm_90 ahead of time; this runs without a GPU."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    from vmamba_zoo.ops.cross_scan import triton as triton_cross

    scan_pointers = [
        "u_ptr", "delta_ptr", "A_ptr", "B_ptr", "C_ptr", "D_ptr", "bias_ptr", "y_ptr", "states_ptr", "last_ptr",
        "ckpt_ptr", "grad_ptr", "dlast_ptr", "du_ptr", "ddelta_ptr", "dA_ptr", "dB_ptr", "dC_ptr", "dD_ptr",
        "dbias_ptr",
    ]
    for dtype in ("fp32", "fp64"):
        pointers = {name: f"*{dtype}" for name in scan_pointers}
        for flags in ({"HAS_C": True, "STORE_STATES": False, "STORE_CKPT": False},
                      {"HAS_C": False, "STORE_STATES": True, "STORE_CKPT": True}):
            _compile_for_gpu(
                triton_scan._scan_fwd, pointers,
                {**flags, "HAS_D": True, "HAS_BIAS": True, "SOFTPLUS": True, "BLOCK_N": 16, "BLOCK_L": 64},
                capability,
            )
        for states_grad in (False, True):
            _compile_for_gpu(
                triton_scan._scan_bwd, pointers,
                {"STATES_GRAD": states_grad, "HAS_DLAST": not states_grad, "HAS_D": not states_grad,
                 "HAS_BIAS": True, "SOFTPLUS": True, "BLOCK_N": 1, "BLOCK_L": 1024},
                capability,
            )
    for dtype in ("fp16", "bf16", "fp32", "fp64"):
        pointers = {"x_ptr": f"*{dtype}", "ys_ptr": f"*{dtype}", "out_ptr": f"*{dtype}", "src_ptr": "*i32"}
        _compile_for_gpu(triton_cross._scan, pointers, {"K": 4, "GROUPED": True, "BLOCK_C": 16, "BLOCK_L": 128},
                         capability)
        _compile_for_gpu(
            triton_cross._merge, pointers,
            {"K": 4, "GROUPED": False, "ACC_F64": dtype == "fp64", "BLOCK_C": 16, "BLOCK_L": 128},
            capability,
        )
