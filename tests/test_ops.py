"""The op library against an independent sequential implementation, on every backend this
machine can run, plus adjointness, gradients, FLOP handles and the error contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vmamba_zoo.ops import (
    BACKENDS,
    CROSS_SCAN_MODES,
    available_backends,
    cross_merge,
    cross_scan,
    selective_scan,
    selective_scan_states,
)

def _cpu_backend_params() -> list:
    """Every backend for CPU tensors (for the ``backend`` fixture); the ``cpu`` backend once per
    kernel path this CPU supports (avx512, avx2, generic)."""
    params = []
    for name, reason in available_backends("cpu").items():
        skip = pytest.mark.skipif(reason is not None, reason=str(reason))
        if name == "cpu" and reason is None:
            from vmamba_zoo import _C

            params += [pytest.param(f"cpu:{isa}", id=f"cpu-{isa}") for isa in _C.supported_cpu_isas()]
        else:
            params.append(pytest.param(name, id=name, marks=skip))
    return params


CPU_BACKENDS = _cpu_backend_params()


def sequential_scan(u, delta, A, B, C, D, delta_bias, softplus):
    """The recurrence written step by step, as the papers state it (the test oracle)."""
    batch, channels, length = u.shape
    groups = B.shape[1]
    dt = delta if delta_bias is None else delta + delta_bias[:, None]
    if softplus:
        dt = F.softplus(dt)
    B_c = B.repeat_interleave(channels // groups, dim=1)
    C_c = C.repeat_interleave(channels // groups, dim=1)
    h = u.new_zeros(batch, channels, A.shape[1])
    ys, states = [], []
    for step in range(length):
        h = torch.exp(dt[:, :, step, None] * A) * h + (dt[:, :, step] * u[:, :, step])[..., None] * B_c[..., step]
        states.append(h)
        ys.append((h * C_c[..., step]).sum(-1))
    y = torch.stack(ys, -1)
    if D is not None:
        y = y + D[:, None] * u
    return y, h, torch.stack(states, -1)


def make_inputs(batch=2, groups=4, group_channels=3, state=16, length=37, dtype=torch.float64,
                with_D=True, with_bias=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    channels = groups * group_channels

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen) * scale).to(dtype)

    return dict(
        u=rnd(batch, channels, length),
        delta=rnd(batch, channels, length, scale=0.5),
        A=-(torch.rand(channels, state, generator=gen) + 0.1).to(dtype),
        B=rnd(batch, groups, state, length),
        C=rnd(batch, groups, state, length),
        D=rnd(channels) if with_D else None,
        delta_bias=rnd(channels, scale=0.5) if with_bias else None,
    )


SHAPES = [
    dict(groups=1, group_channels=4, state=1, length=37),
    dict(groups=4, group_channels=3, state=16, length=37),
    dict(groups=4, group_channels=2, state=1, length=64),
    dict(groups=2, group_channels=3, state=16, length=1),
]
OPTIONS = [dict(with_D=True, with_bias=True, softplus=True), dict(with_D=False, with_bias=False, softplus=False)]


@pytest.mark.parametrize("backend", CPU_BACKENDS, indirect=True)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "G{groups}xDg{group_channels}-N{state}-L{length}".format(**s))
@pytest.mark.parametrize("options", OPTIONS, ids=["D-bias-softplus", "plain"])
def test_selective_scan_matches_sequential(backend, shape, options):
    softplus = options["softplus"]
    inputs = make_inputs(**shape, with_D=options["with_D"], with_bias=options["with_bias"])
    leaves = {k: v.requires_grad_() for k, v in inputs.items() if v is not None}
    y, last = selective_scan(**inputs, delta_softplus=softplus, return_last_state=True, backend=backend)
    y_ref, last_ref, _ = sequential_scan(*inputs.values(), softplus)
    torch.testing.assert_close(y, y_ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(last, last_ref, rtol=1e-9, atol=1e-9)

    gy, glast = torch.randn_like(y), torch.randn_like(last)
    grads = torch.autograd.grad((y * gy).sum() + (last * glast).sum(), list(leaves.values()))
    grads_ref = torch.autograd.grad((y_ref * gy).sum() + (last_ref * glast).sum(), list(leaves.values()))
    for name, g, g_ref in zip(leaves, grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-8, atol=1e-8, msg=f"gradient of {name}")


@pytest.mark.parametrize("backend", CPU_BACKENDS, indirect=True)
@pytest.mark.parametrize("shape", SHAPES[:2], ids=["N1", "N16"])
def test_selective_scan_float32(backend, shape):
    inputs = make_inputs(**shape, dtype=torch.float32)
    y = selective_scan(**inputs, delta_softplus=True, backend=backend)
    y_ref, _, _ = sequential_scan(*make_inputs(**shape, dtype=torch.float64).values(), True)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", CPU_BACKENDS, indirect=True)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_inputs_compute_in_float32(backend, dtype):
    inputs = make_inputs(dtype=dtype, state=1)
    y = selective_scan(**inputs, delta_softplus=True, backend=backend)
    assert y.dtype == dtype  # computed in float32, rounded once to u's dtype
    upcast = {k: None if v is None else v.double() for k, v in inputs.items()}
    y_ref, _, _ = sequential_scan(*upcast.values(), True)
    torch.testing.assert_close(y.double(), y_ref.to(dtype).double(), rtol=2 * torch.finfo(dtype).eps, atol=1e-4)
    leaf = inputs["u"].requires_grad_()
    selective_scan(**inputs, delta_softplus=True, backend=backend).sum().backward()
    assert leaf.grad.dtype == dtype


@pytest.mark.parametrize("backend", CPU_BACKENDS, indirect=True)
@pytest.mark.parametrize("shape", [SHAPES[1], SHAPES[2]], ids=["N16", "N1"])
def test_selective_scan_states_matches_sequential(backend, shape):
    inputs = make_inputs(**shape)
    args = dict(u=inputs["u"], delta=inputs["delta"], A=inputs["A"], B=inputs["B"], delta_bias=inputs["delta_bias"])
    leaves = [v.requires_grad_() for v in args.values()]
    h = selective_scan_states(**args, delta_softplus=True, backend=backend)
    _, _, h_ref = sequential_scan(*inputs.values(), True)
    torch.testing.assert_close(h, h_ref, rtol=1e-9, atol=1e-9)
    gh = torch.randn_like(h)
    grads = torch.autograd.grad((h * gh).sum(), leaves)
    grads_ref = torch.autograd.grad((h_ref * gh).sum(), leaves)
    for name, g, g_ref in zip(args, grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-8, atol=1e-8, msg=f"gradient of {name}")


@pytest.mark.parametrize("backend", [p for p in CPU_BACKENDS if p.values[0].split(":")[0] in ("torch", "cpu")], indirect=True)
def test_gradcheck(backend):
    inputs = make_inputs(batch=1, groups=2, group_channels=2, state=2, length=9)
    tensors = [v.requires_grad_() for v in inputs.values()]

    def scan(*args):
        return selective_scan(*args, delta_softplus=True, return_last_state=True, backend=backend)

    assert torch.autograd.gradcheck(scan, tensors)

    def states(u, delta, A, B, delta_bias):
        return selective_scan_states(u, delta, A, B, delta_bias, True, backend=backend)

    names = ("u", "delta", "A", "B", "delta_bias")
    assert torch.autograd.gradcheck(states, [inputs[n] for n in names])


# ---------------------------------------------------------------------------------- cross-scan


@pytest.mark.parametrize("backend", CPU_BACKENDS, indirect=True)
@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
@pytest.mark.parametrize("hw", [(4, 6), (5, 3), (1, 1), (7, 7)], ids=str)
def test_cross_merge_is_adjoint_of_cross_scan(backend, mode, hw):
    H, W = hw
    x = torch.randn(2, 8, H, W, dtype=torch.float64)
    xs = cross_scan(x, mode, backend=backend)
    ys = torch.randn_like(xs)
    y = cross_merge(ys, H, W, mode, backend=backend)
    assert y.shape == (2, 8, H * W)
    torch.testing.assert_close((xs * ys).sum(), (x.flatten(2) * y).sum())
    if backend != "torch":
        torch.testing.assert_close(xs, cross_scan(x, mode, backend="torch"), rtol=0, atol=0)
        torch.testing.assert_close(y, cross_merge(ys, H, W, mode, backend="torch"))


def test_cross2d_order_is_vmamba_order():
    H, W = 3, 4
    x = torch.arange(H * W, dtype=torch.float32).view(1, 1, H, W)
    xs = cross_scan(x, "cross2d")[0, :, 0]
    row_major = torch.arange(H * W, dtype=torch.float32)
    col_major = x[0, 0].t().reshape(-1)
    torch.testing.assert_close(xs, torch.stack([row_major, col_major, row_major.flip(0), col_major.flip(0)]))
    # merge(scan(x)) counts every pixel once per direction
    torch.testing.assert_close(cross_merge(cross_scan(x, "cross2d"), H, W, "cross2d"), 4 * x.flatten(2))


def test_atrous2_order_and_padding():
    H, W = 3, 4  # odd H: the sub-grids of odd rows are zero-padded at the bottom
    x = torch.arange(1, H * W + 1, dtype=torch.float32).view(1, 1, H, W)
    xs = cross_scan(x, "atrous2")[0, :, 0]
    pad = torch.zeros(4, 4)
    pad[:H, :W] = x[0, 0]
    expected = torch.stack([
        pad[0::2, 0::2].reshape(-1),
        pad[1::2, 0::2].t().reshape(-1),
        pad[0::2, 1::2].reshape(-1),
        pad[1::2, 1::2].t().reshape(-1),
    ])
    torch.testing.assert_close(xs, expected)
    # every pixel lands in exactly one sequence, so merge inverts scan
    torch.testing.assert_close(cross_merge(cross_scan(x, "atrous2"), H, W, "atrous2"), x.flatten(2))


def test_grouped_and_single_direction_modes():
    H, W = 3, 5
    x = torch.randn(2, 8, H, W)
    grouped = cross_scan(x, "cross2d_grouped")
    full = cross_scan(x, "cross2d")
    assert grouped.shape == (2, 4, 2, H * W)
    for k, single in enumerate(("row", "col", "row_flip", "col_flip")):
        torch.testing.assert_close(grouped[:, k], full[:, k, 2 * k:2 * k + 2])
        torch.testing.assert_close(cross_scan(x, single)[:, 0], full[:, k])
        torch.testing.assert_close(cross_merge(cross_scan(x, single), H, W, single), x.flatten(2))
    torch.testing.assert_close(cross_merge(grouped, H, W, "cross2d_grouped"), x.flatten(2))


@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
def test_cross_scan_gradcheck_and_dtype(mode):
    x = torch.randn(1, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: cross_scan(t, mode), (x,))
    assert cross_scan(x.detach().bfloat16(), mode).dtype == torch.bfloat16


# ----------------------------------------------------------------------------- error contract


def _valid():
    return make_inputs(batch=1, groups=2, group_channels=2, state=1, length=5, dtype=torch.float32)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(u=torch.randn(4, 5)), "u must be 3-D"),
        (dict(delta=torch.randn(1, 4, 6)), "delta must have u's shape"),
        (dict(A=torch.randn(3, 1)), "A must have 4 rows"),
        (dict(B=torch.randn(1, 2, 1, 6)), "B must have shape"),
        (dict(C=torch.randn(1, 2, 1)), "C must be 4-D"),
        (dict(B=torch.randn(1, 3, 1, 5), C=torch.randn(1, 3, 1, 5)), "divisible by groups"),
        (dict(u=torch.ones(1, 4, 5, dtype=torch.int64)), "floating-point"),
        (dict(A=torch.ones(4, 1, dtype=torch.int32)), "floating-point"),
        (dict(D=torch.randn(3)), "D must have shape"),
        (dict(delta_bias=torch.randn(4, 1)), "delta_bias must be 1-D"),
        (dict(B=torch.randn(1, 2, 1, 5, device="meta")), "one device"),
        (dict(u=torch.randn(1, 4, 5, dtype=torch.complex64)), "complex"),
    ],
)
def test_selective_scan_rejects_bad_input(change, message):
    inputs = {**_valid(), **change}
    with pytest.raises(ValueError, match=message):
        selective_scan(**inputs)


def test_backend_errors(monkeypatch):
    inputs = _valid()
    with pytest.raises(ValueError, match="unknown backend"):
        selective_scan(**inputs, backend="fortran")
    with pytest.raises(RuntimeError, match="'cuda' backend runs on CUDA tensors"):
        selective_scan(**inputs, backend="cuda")
    monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "fortran")
    with pytest.raises(ValueError, match="VMAMBA_ZOO_BACKEND"):
        selective_scan(**inputs)
    monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "cuda")
    with pytest.raises(RuntimeError, match="not available"):
        cross_scan(torch.randn(1, 4, 2, 2))
    monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "torch")
    selective_scan(**inputs)  # an available override is honoured


def test_cross_scan_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown cross-scan mode"):
        cross_scan(torch.randn(1, 4, 2, 2), "diagonal")
    with pytest.raises(ValueError, match="4-D"):
        cross_scan(torch.randn(4, 2, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        cross_scan(torch.randn(1, 6, 2, 2), "cross2d_grouped")
    with pytest.raises(ValueError, match="floating-point"):
        cross_scan(torch.ones(1, 4, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"needs ys of shape \(batch, 4, C, 6\)"):
        cross_merge(torch.randn(1, 4, 3, 5), 2, 3)
    with pytest.raises(ValueError, match="positive"):
        cross_merge(torch.randn(1, 4, 3, 0), 0, 3)


def test_every_backend_is_reported():
    report = available_backends("cpu")
    assert set(report) == set(BACKENDS)
    assert report["torch"] is None
    assert report["cuda"] is not None  # CPU tensors never run on the CUDA backend


# ------------------------------------------------------------------------- tracing and FLOPs


class _TinyMixer(torch.nn.Module):
    def __init__(self, channels=4, state=2):
        super().__init__()
        self.A = torch.nn.Parameter(-torch.ones(4 * channels, state))
        self.D = torch.nn.Parameter(torch.ones(4 * channels))

    def forward(self, x):
        batch, channels, H, W = x.shape
        xs = cross_scan(x).reshape(batch, 4 * channels, H * W)
        bc = xs.view(batch, 4, channels, H * W)[:, :, :2]
        y = selective_scan(xs, xs, self.A, bc, bc, self.D, None, True)
        states = selective_scan_states(xs, xs, self.A, bc)
        return cross_merge(y.view(batch, 4, channels, H * W), H, W) + states.sum(2)[:, :channels]


def test_ops_trace_as_single_nodes_and_count_like_the_papers():
    from vmamba_zoo import count_flops

    model = _TinyMixer()
    x = torch.randn(1, 4, 3, 5)
    graph = torch.jit.trace(model, (x,)).inlined_graph
    kinds = [node.kind() for node in graph.nodes()]
    for op in ("selective_scan", "selective_scan_states", "cross_scan", "cross_merge"):
        assert kinds.count(f"vmamba_zoo::{op}") == 1, kinds
    batch, length, channels, state = 1, 15, 16, 2
    expected = 9 * batch * length * channels * state + batch * channels * length  # scan with D
    expected += 7 * batch * length * channels * state  # all-states scan
    assert count_flops(model, (4, 3, 5)) == expected


@pytest.mark.slow
def test_torch_compile_fullgraph():
    model = _TinyMixer()
    x = torch.randn(2, 4, 3, 5)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), model(x))


def test_backend_modules_implement_the_kernel_interface():
    from vmamba_zoo.ops import backends

    for backend, reason in available_backends("cpu").items():
        if reason is not None:
            continue
        scan = backends.load("vmamba_zoo.ops.selective_scan", backend)
        merge = backends.load("vmamba_zoo.ops.cross_scan", backend)
        for fn in ("fwd", "bwd", "states_fwd", "states_bwd"):
            assert callable(getattr(scan, fn)), (backend, fn)
        for fn in ("scan", "merge"):
            assert callable(getattr(merge, fn)), (backend, fn)

