"""cross_selective_scan: the fused CPU kernel against the chain of ops it replaces, on every mode,
plus its gradient path, dtypes, FLOP handle and error contract."""

from __future__ import annotations

import itertools

import pytest
import torch

from vmamba_zoo import count_flops
from vmamba_zoo.ops import CROSS_SCAN_MODES, available_backends, cross_merge, cross_scan, cross_selective_scan
from vmamba_zoo.ops import selective_scan
from vmamba_zoo.ops.cross_scan.modes import geometry

needs_cpu_backend = pytest.mark.skipif(
    available_backends("cpu")["cpu"] is not None, reason=str(available_backends("cpu")["cpu"])
)


def make_params(mode, H, W, channels, state, rank=3, dtype=torch.float64, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    geo = geometry(mode, H, W)
    K, Dk = geo.K, channels // geo.K if geo.grouped else channels

    def rnd(*shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale + shift).to(dtype)

    x = rnd(batch, H, W, channels)
    params = (
        rnd(K, rank + 2 * state, Dk, scale=0.3),  # x_proj_weight
        rnd(K, Dk, rank, scale=0.3),  # dt_projs_weight
        rnd(K, Dk, scale=0.5, shift=-2.0),  # dt_projs_bias
        -torch.rand(K * Dk, state, generator=g, dtype=torch.float64).to(dtype) * 3,  # A
        rnd(K * Dk),  # D
    )
    return x, params


def chain_by_hand(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A, D, mode):
    """The op's definition written out with the public ops, one route at a time."""
    batch, H, W, _ = x.shape
    xs = cross_scan(x.permute(0, 3, 1, 2), mode, backend="torch")
    K, Dk, L = xs.shape[1:]
    R, N = dt_projs_weight.shape[2], A.shape[1]
    ys = []
    for k in range(K):
        x_dbl = torch.einsum("cd,bdl->bcl", x_proj_weight[k], xs[:, k])
        delta = torch.einsum("dr,brl->bdl", dt_projs_weight[k], x_dbl[:, :R])
        rows = slice(k * Dk, (k + 1) * Dk)
        ys.append(
            selective_scan(
                xs[:, k], delta, A[rows], x_dbl[:, None, R:R + N], x_dbl[:, None, R + N:], D[rows],
                dt_projs_bias.reshape(-1)[rows], delta_softplus=True, backend="torch",
            )
        )
    y = cross_merge(torch.stack(ys, 1), H, W, mode, backend="torch")
    return y.transpose(1, 2).reshape(batch, H, W, -1)


@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
@pytest.mark.parametrize("state", [1, 16, 3], ids=["N1", "N16", "N3"])
def test_matches_the_chain_in_float64(mode, state, cpu_isa):
    # 60 channels (grouped: 15 per route): full tasks and a ragged one on every path; on the
    # avx2 and generic paths (two vectors per task) the ragged one's second vector is partial
    # (grouped) or empty
    for (H, W), backend in itertools.product([(5, 7), (6, 6)], ["auto", "torch"]):
        x, params = make_params(mode, H, W, 60, state)
        with torch.no_grad():
            y = cross_selective_scan(x, *params, mode=mode, backend=backend)
        assert y.shape == x.shape and y.dtype == torch.float64
        torch.testing.assert_close(y, chain_by_hand(x, *params, mode), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["cross2d", "cross2d_grouped", "atrous2"])
def test_float32_fused_equals_float32_chain(mode, cpu_isa):
    x, params = make_params(mode, 9, 11, 64, 1, rank=6, dtype=torch.float32)
    with torch.no_grad():
        fused = cross_selective_scan(x, *params, mode=mode)
        chain = cross_selective_scan(x, *params, mode=mode, backend="torch")
    assert fused.dtype == torch.float32
    torch.testing.assert_close(fused, chain, rtol=1e-4, atol=1e-4)


def _grads(mode, x, params, backend, softplus, seed=1):
    leaves = [t.clone().requires_grad_() for t in (x, *params)]
    y = cross_selective_scan(*leaves, mode=mode, delta_softplus=softplus, backend=backend)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(y.dtype)
    return y, torch.autograd.grad(y, leaves, dy)


@needs_cpu_backend
@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
@pytest.mark.parametrize("state", [1, 16], ids=["N1", "N16"])
@pytest.mark.parametrize("softplus", [True, False], ids=["softplus", "raw"])
def test_fused_gradients_equal_the_chains_in_float64(mode, state, softplus, cpu_isa):
    # 20 channels (grouped: 5 per route): a full vector and a ragged one on the avx2 and generic
    # paths, one ragged vector on avx512; an odd map (padding steps in atrous2) and an even one
    for H, W in [(5, 3), (4, 4)]:
        x, params = make_params(mode, H, W, 20, state)
        if not softplus:  # keep Δ positive without the softplus
            params = (params[0], params[1].abs() * 0.1, params[2].abs() + 0.5, *params[3:])
        y, fused = _grads(mode, x, params, "cpu", softplus)
        y_chain, chain = _grads(mode, x, params, "torch", softplus)
        torch.testing.assert_close(y, y_chain, rtol=1e-10, atol=1e-10)
        for name, g, g_chain in zip(["x", "x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A", "D"], fused, chain):
            assert g.shape == g_chain.shape, name
            torch.testing.assert_close(g, g_chain, rtol=1e-10, atol=1e-10, msg=lambda m, name=name: f"{name}: {m}")


@needs_cpu_backend
@pytest.mark.parametrize("mode", ["cross2d", "cross2d_grouped", "atrous2"])
def test_fused_gradients_over_long_routes_equal_the_chains_in_float64(mode, cpu_isa):
    # routes of 5 * 17 = 85 steps (atrous2: padding steps) with d_state 16: the backward's
    # replay spans several segments and chunks, the last one partial
    x, params = make_params(mode, 5, 17, 20, 16, batch=1)
    y, fused = _grads(mode, x, params, "cpu", True)
    y_chain, chain = _grads(mode, x, params, "torch", True)
    torch.testing.assert_close(y, y_chain, rtol=1e-10, atol=1e-10)
    for name, g, g_chain in zip(["x", "x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A", "D"], fused, chain):
        torch.testing.assert_close(g, g_chain, rtol=1e-10, atol=1e-10, msg=lambda m, name=name: f"{name}: {m}")


@needs_cpu_backend
@pytest.mark.parametrize("state", [1, 16], ids=["N1", "N16"])
def test_fused_float32_gradients_near_the_float64_ones(state, cpu_isa):
    x, params = make_params("cross2d", 7, 9, 48, state, rank=6)
    _, exact = _grads("cross2d", x, params, "cpu", True)
    _, single = _grads("cross2d", x.float(), [t.float() for t in params], "cpu", True)
    tol = 1e-4 * state ** 0.5  # float32 sums over the states of the x_proj gradient's rows
    for g64, g32 in zip(exact, single):
        assert g32.dtype == torch.float32
        torch.testing.assert_close(g32.double(), g64, rtol=tol, atol=tol)


def test_gradient_passes_gradcheck():
    x, params = make_params("atrous2", 3, 5, 8, 2, rank=2)
    leaves = [t.clone().requires_grad_() for t in (x, *params)]
    y = cross_selective_scan(*leaves, mode="atrous2")
    torch.testing.assert_close(y, chain_by_hand(x, *params, "atrous2"), rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(lambda *t: cross_selective_scan(*t, mode="atrous2"), leaves)


@needs_cpu_backend
@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
@pytest.mark.parametrize("state", [1, 16, 3], ids=["N1", "N16", "N3"])
def test_bfloat16_kernel_is_the_float32_kernel_rounded_once(mode, state, cpu_isa):
    # bfloat16 x with float32 x_dbl and parameters: the float32 kernel's result on the same
    # (exactly widened) x, rounded to bfloat16 once. 60 channels as above (ragged tasks).
    from vmamba_zoo import _C
    from vmamba_zoo.ops.cross_scan.index_maps import scan_sources

    g = torch.Generator().manual_seed(state)
    H, W, batch, rank = 5, 7, 2, 3
    geo = geometry(mode, H, W)
    Dk = 60 // geo.K if geo.grouped else 60
    x = torch.randn(batch, H * W, 60, generator=g).bfloat16()
    x_dbl = torch.randn(geo.K, batch * H * W, rank + 2 * state, generator=g)
    params = (torch.randn(geo.K, Dk, rank, generator=g) * 0.3, torch.randn(geo.K * Dk, generator=g) * 0.5 - 2,
              -torch.rand(geo.K * Dk, state, generator=g) * 3, torch.randn(geo.K * Dk, generator=g))
    route = scan_sources(mode, H, W, x.device)
    y = _C.cross_selective_scan_fwd(x, x_dbl, route, *params, geo.grouped, True)
    expected = _C.cross_selective_scan_fwd(x.float(), x_dbl, route, *params, geo.grouped, True)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, expected.bfloat16())


@needs_cpu_backend
@pytest.mark.parametrize("mode", ["cross2d", "cross2d_grouped"])
def test_bfloat16_input_projects_in_bfloat16_and_scans_in_float32(mode):
    # the per-route projections are a bfloat16 GEMM (x_dbl rounded to bfloat16, as in the
    # chain); the rest is the float32 kernel: bfloat16-level agreement with the float32 op
    x, params = make_params(mode, 6, 6, 32, 1, dtype=torch.float32)
    with torch.no_grad():
        reference = cross_selective_scan(x.bfloat16().float(), *params, mode=mode)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = cross_selective_scan(x.bfloat16(), *params, mode=mode)
        chain = cross_selective_scan(x.bfloat16(), *params, mode=mode, backend="torch")
    assert y.dtype == chain.dtype == torch.bfloat16
    for result in (y, chain):
        error = ((result.float() - reference).norm() / reference.norm()).item()
        assert error < 2**-6, error


class _Mixer(torch.nn.Module):
    def __init__(self, mode, channels=8, state=2, backend="auto"):
        super().__init__()
        self.mode, self.backend = mode, backend
        _, params = make_params(mode, 4, 6, channels, state, dtype=torch.float32)
        self.params = torch.nn.ParameterList(params)

    def forward(self, x):
        return cross_selective_scan(x.permute(0, 2, 3, 1), *self.params, mode=self.mode, backend=self.backend)


@pytest.mark.parametrize("mode", ["cross2d", "atrous2", "cross2d_grouped"])
def test_flop_handle_counts_what_the_chain_counts(mode):
    model = _Mixer(mode)
    x = torch.randn(1, 8, 4, 6)
    with torch.no_grad():
        fused_graph = torch.jit.trace(model, (x,)).inlined_graph
    assert [n.kind() for n in fused_graph.nodes()].count("vmamba_zoo::cross_selective_scan") == 1
    fused = count_flops(model, (8, 4, 6))  # counts under no_grad: the fused op
    chain = _count_with_grad(_Mixer(mode, backend="torch"), x)
    geo = geometry(mode, 4, 6)
    K, rows, Dk = model.params[0].shape
    R, N, channels = model.params[1].shape[2], model.params[3].shape[1], K * Dk
    expected = geo.length * channels * (rows + R) + 9 * geo.length * channels * N + channels * geo.length
    assert fused == chain == expected


def _count_with_grad(model, x):
    from fvcore.nn import FlopCountAnalysis

    from vmamba_zoo.flops import OP_HANDLES

    analysis = FlopCountAnalysis(model, (x,)).set_op_handle(**OP_HANDLES)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return int(analysis.total())


@pytest.mark.slow
@needs_cpu_backend
def test_torch_compile_fullgraph_inference():
    model = _Mixer("cross2d")
    x = torch.randn(2, 8, 4, 6)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def _valid():
    return make_params("cross2d", 4, 4, 8, 2, rank=2, dtype=torch.float32)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, p: (x[0], p), "channel-last map \\(batch, H, W, C\\)"),
        (lambda x, p: (x[:, :0], p), "H, W, C >= 1"),
        (lambda x, p: (x[..., :6], p), "x has 6 channels"),
        (lambda x, p: (x.long(), p), "x must be a floating-point tensor"),
        (lambda x, p: (x, (p[0][:2], *p[1:])), "x_proj_weight must be \\(K=4"),
        (lambda x, p: (x, (p[0], p[1][:, :, :1], *p[2:])), "dt_projs_weight must be"),
        (lambda x, p: (x, (*p[:3], p[3][:5], p[4])), "A must be"),
        (lambda x, p: (x, (*p[:4], p[4][:3])), "D must have"),
        (lambda x, p: (x, (p[0][:, :3], *p[1:])), "fewer than R \\+ 2N"),
    ],
)
def test_rejects_bad_input(change, message):
    x, params = change(*_valid())
    with pytest.raises(ValueError, match=message):
        cross_selective_scan(x, *params)


def test_rejects_unknown_mode_and_grouped_channel_mismatch():
    x, params = _valid()
    with pytest.raises(ValueError, match="unknown cross-scan mode"):
        cross_selective_scan(x, *params, mode="diagonal")
    x, params = make_params("cross2d_grouped", 4, 4, 8, 1)
    with pytest.raises(ValueError, match="x has 10 channels"):
        cross_selective_scan(torch.randn(2, 4, 4, 10, dtype=torch.float64), *params, mode="cross2d_grouped")
