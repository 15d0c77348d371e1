"""Fault injection: inputs a careless or hostile caller can pass, each answered by a clear error
and never by a crash, an out-of-bounds read or a silent wrong answer."""

from __future__ import annotations

import pytest
import torch

from vmamba_zoo.ops import available_backends, cross_merge, cross_scan, cross_selective_scan, selective_scan
from vmamba_zoo.ops import selective_scan_states, state_fusion

# ============================================================================================
# Kernels: the raw extension functions (vmamba_zoo._C) and the registered custom ops
# (torch.ops.vmamba_zoo.*) check every argument themselves, whatever the Python wrappers did.

HAS_CPU_EXT = available_backends("cpu")["cpu"] is None
needs_cpu_ext = pytest.mark.skipif(not HAS_CPU_EXT, reason=str(available_backends("cpu")["cpu"]))
OPS = torch.ops.vmamba_zoo


def scan_args(batch=1, channels=4, length=5, groups=2, state=1, dtype=torch.float32):
    """Consistent (u, delta, A, B, C, D, delta_bias) for one grouped selective scan."""
    g = torch.Generator().manual_seed(0)
    rnd = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype)  # noqa: E731
    return [rnd(batch, channels, length), rnd(batch, channels, length), -rnd(channels, state).abs(),
            rnd(batch, groups, state, length), rnd(batch, groups, state, length), rnd(channels), rnd(channels)]


def replace(args, **changes):
    names = ["u", "delta", "A", "B", "C", "D", "delta_bias"]
    return [changes.get(name, arg) for name, arg in zip(names, args)]


# (what changes, the kernel's message, the op's message): each a call the kernels used to run
# on, reading out of bounds, producing garbage or dividing by zero (SIGFPE)
BAD_SCAN_ARGS = [
    (dict(B=torch.randn(1, 2, 1, 3), C=torch.randn(1, 2, 1, 3)), r"B must be \(batch, groups, N, L\)",
     "B must have shape"),  # short B
    (dict(A=torch.randn(2, 1)), r"A must be \(channels=4", "A must have 4 rows"),  # short A
    (dict(B=torch.randn(1, 0, 1, 5), C=torch.randn(1, 0, 1, 5)), "B has 0 groups", "divisible by groups"),
    (dict(B=torch.randn(1, 3, 1, 5), C=torch.randn(1, 3, 1, 5)), "B has 3 groups", "divisible by groups"),
    (dict(C=torch.randn(1, 2, 2, 5)), r"C must be \(batch, groups, N, L\)", "C must have shape"),
    (dict(delta=torch.randn(1, 4, 4)), "delta must be", "delta must have u's shape"),
    (dict(D=torch.randn(3)), "D must be", "D must have shape"),
    (dict(delta_bias=torch.randn(5)), "delta_bias must be", "delta_bias must have shape"),
    (dict(A=-torch.rand(4, 1, dtype=torch.float64)), "A must be Float like the first input", "one of them"),
]
SCAN_IDS = ["short-B", "short-A", "zero-groups", "groups-not-dividing", "C-state", "delta", "D", "delta_bias",
            "mixed-dtypes"]


@needs_cpu_ext
@pytest.mark.parametrize("change, message, _", BAD_SCAN_ARGS, ids=SCAN_IDS)
def test_raw_selective_scan_entry_points_check_their_arguments(change, message, _):
    from vmamba_zoo import _C

    u, delta, A, B, C, D, bias = replace(scan_args(), **change)
    dy, dh = torch.randn(u.shape), torch.randn(u.shape[0], u.shape[1], A.shape[1], u.shape[2])
    calls = [
        lambda: _C.selective_scan_fwd(u, delta, A, B, C, D, bias, True),
        lambda: _C.selective_scan_bwd(u, delta, A, B, C, D, bias, True, dy, None),
    ]
    if "C" not in change and "D" not in change:  # the states scan has neither
        calls += [lambda: _C.selective_scan_states_fwd(u, delta, A, B, bias, True),
                  lambda: _C.selective_scan_states_bwd(u, delta, A, B, bias, True, dh)]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("backend", ["torch"] + (["cpu"] if HAS_CPU_EXT else []))
@pytest.mark.parametrize("change, _, message", BAD_SCAN_ARGS, ids=SCAN_IDS)
def test_registered_scan_ops_check_their_arguments(backend, change, _, message):
    u, delta, A, B, C, D, bias = replace(scan_args(), **change)
    with pytest.raises(ValueError, match=message):
        OPS.selective_scan(u, delta, A, B, C, D, bias, True, backend)
    with pytest.raises(ValueError, match=message):
        OPS.selective_scan_backward(u, delta, A, B, C, D, bias, True, backend, torch.randn(u.shape), None)
    if "C" not in change and "D" not in change:
        with pytest.raises(ValueError, match=message):
            OPS.selective_scan_states(u, delta, A, B, bias, True, backend)


def test_registered_ops_check_gradients_and_backend():
    u, delta, A, B, C, D, bias = scan_args()
    with pytest.raises(ValueError, match=r"dy must be \(batch, channels, L\)"):
        OPS.selective_scan_backward(u, delta, A, B, C, D, bias, True, "torch", torch.randn(1, 4, 4), None)
    with pytest.raises(ValueError, match=r"dlast must be 3-D \(batch, channels, N\)"):
        OPS.selective_scan_backward(u, delta, A, B, C, D, bias, True, "torch", torch.randn(u.shape), torch.randn(1, 4))
    with pytest.raises(ValueError, match=r"dh must be \(batch, channels, N, L\)"):
        OPS.selective_scan_states_backward(u, delta, A, B, bias, True, "torch", torch.randn(1, 4, 1, 4))
    with pytest.raises(ValueError, match="unknown backend"):
        OPS.selective_scan(u, delta, A, B, C, D, bias, True, "fortran")
    with pytest.raises(ValueError, match="cannot run this call"):
        OPS.cross_scan(torch.randn(1, 4, 2, 2), "cross2d", "cuda")
    with pytest.raises(ValueError, match="float32 or float64"):
        OPS.selective_scan(u.half(), delta, A, B, C, D, bias, True, "torch")


@needs_cpu_ext
def test_raw_layout_and_device_checks():
    from vmamba_zoo import _C

    u, delta, A, B, C, D, bias = scan_args()
    with pytest.raises(ValueError, match="u must be contiguous"):
        _C.selective_scan_fwd(u.transpose(1, 2).contiguous().transpose(1, 2), delta, A, B, C, D, bias, True)
    with pytest.raises(ValueError, match="float32 or float64"):
        _C.selective_scan_fwd(u.half(), delta, A, B, C, D, bias, True)
    with pytest.raises(ValueError, match="must be a CPU tensor"):
        _C.selective_scan_fwd(u, delta, A.to("meta"), B, C, D, bias, True)
    with pytest.raises(ValueError, match=r"dy must be \(batch, channels, L\)"):
        _C.selective_scan_bwd(u, delta, A, B, C, D, bias, True, torch.randn(1, 4, 3), None)
    with pytest.raises(ValueError, match=r"dlast must be \(batch, channels, N\)"):
        _C.selective_scan_bwd(u, delta, A, B, C, D, bias, True, torch.randn(u.shape), torch.randn(4))


@needs_cpu_ext
def test_raw_cross_scan_and_merge_check_their_arguments():
    from vmamba_zoo import _C

    with pytest.raises(ValueError, match="unknown mode"):
        _C.cross_scan(torch.randn(1, 4, 2, 2), "diagonal")
    with pytest.raises(ValueError, match="divisible by 4"):
        _C.cross_scan(torch.randn(1, 6, 2, 2), "cross2d_grouped")
    with pytest.raises(ValueError, match="H, W >= 1"):
        _C.cross_scan(torch.randn(1, 4, 0, 2), "cross2d")
    with pytest.raises(ValueError, match="float32, float64"):
        _C.cross_scan(torch.ones(1, 4, 2, 2, dtype=torch.int64), "cross2d")
    with pytest.raises(ValueError, match=r"needs ys of shape \(batch, 4, C, 6\)"):
        _C.cross_merge(torch.randn(1, 4, 3, 5), 2, 3, "cross2d")  # one step short: an out-of-bounds read
    with pytest.raises(ValueError, match="H and W must be"):
        _C.cross_merge(torch.randn(1, 4, 3, 0), 0, 3, "cross2d")
    with pytest.raises(ValueError, match="H and W must be"):
        _C.cross_merge(torch.randn(1, 4, 3, 6), 2**40, 3, "cross2d")


def test_cross_merge_sizes_must_be_integers():
    ys = torch.randn(1, 4, 3, 6)
    for H in (2.7, 2.0, True, "2", None):
        with pytest.raises(ValueError, match="H must be a positive integer"):
            cross_merge(ys, H, 3)
    with pytest.raises(ValueError, match="W must be a positive integer"):
        cross_merge(ys, 2, 3.5)
    torch.testing.assert_close(cross_merge(ys, torch.tensor(2), 3), cross_merge(ys, 2, 3))  # integer scalars pass


def fused_args(batch=1, H=3, W=4, channels=8, state=1, rank=2):
    g = torch.Generator().manual_seed(0)
    K, Dk = 4, channels
    return dict(x=torch.randn(batch, H, W, channels, generator=g),
                x_proj_weight=torch.randn(K, rank + 2 * state, Dk, generator=g),
                dt_projs_weight=torch.randn(K, Dk, rank, generator=g), dt_projs_bias=torch.randn(K, Dk, generator=g),
                A=-torch.rand(K * Dk, state, generator=g), D=torch.randn(K * Dk, generator=g))


@needs_cpu_ext
def test_raw_fused_kernels_check_their_arguments():
    from vmamba_zoo import _C

    a = fused_args()
    x = a["x"].reshape(1, 12, 8)
    x_dbl = torch.randn(4, 12, 4)
    route = torch.arange(12, dtype=torch.int32).repeat(4, 1)
    args = [x, x_dbl, route, a["dt_projs_weight"], a["dt_projs_bias"], a["A"], a["D"]]
    _C.cross_selective_scan_fwd(*args, False, True)  # consistent: runs
    cases = [
        ((0, x[:, :, :6].contiguous()), r"x must be \(batch, P, C=8\)"),
        ((1, x_dbl[:, :6]), r"x_dbl must be \(K, batch \* P, R \+ 2N\)"),
        ((2, route + 5), "route indexes pixels outside the map"),
        ((2, route.long()), "route must be Int"),
        ((5, a["A"][:5]), r"A must be \(K \* Dk=32"),
        ((6, a["D"][:5]), "dt_bias and D must have K \\* Dk = 32"),
        ((1, x_dbl.double()), "x_dbl must be a CPU tensor of x's dtype"),
    ]
    for (index, value), message in cases:
        bad = list(args)
        bad[index] = value
        with pytest.raises(ValueError, match=message):
            _C.cross_selective_scan_fwd(*bad, False, True)
    h, weight = torch.randn(1, 4, 3, 3), torch.randn(3, 4, 3, 3)
    with pytest.raises(ValueError, match="H, W >= 1"):
        _C.state_fusion_fwd(torch.randn(1, 4, 0, 3), weight, [1, 3, 5])
    with pytest.raises(ValueError, match="weight must be"):
        _C.state_fusion_fwd(h, weight[:2], [1, 3, 5])
    with pytest.raises(ValueError, match="dilations must be positive"):
        _C.state_fusion_fwd(h, weight, [1, 0, 5])
    # a dilation far beyond the map reads only border pixels: same result as one at the map's size
    torch.testing.assert_close(_C.state_fusion_fwd(h, weight, [1, 3, 2**40]), _C.state_fusion_fwd(h, weight, [1, 3, 3]))


@needs_cpu_ext
def test_registered_fused_ops_check_their_arguments():
    a = fused_args()
    bad = dict(a, A=a["A"][:5])
    with pytest.raises(ValueError, match=r"A must be \(K \* Dk = 32, N\)"):
        OPS.cross_selective_scan(*bad.values(), "cross2d", True)
    with pytest.raises(ValueError, match="float32 or float64"):
        OPS.cross_selective_scan(*dict(a, D=a["D"].double()).values(), "cross2d", True)
    with pytest.raises(ValueError, match="weight must be"):
        OPS.state_fusion(torch.randn(1, 4, 3, 3), torch.randn(2, 4, 3, 3), [1, 3, 5])


# An empty batch: an empty output of the right shape from every op and backend (the models then
# map an empty batch to empty logits), never an error from inside a kernel.
@pytest.mark.parametrize("backend", ["torch"] + (["cpu"] if HAS_CPU_EXT else []))
def test_empty_batch_gives_empty_outputs(backend):
    u, delta, A, B, C, D, bias = scan_args(batch=0, state=2)
    y = selective_scan(u, delta, A, B, C, D, bias, True, backend=backend)
    assert y.shape == (0, 4, 5)
    assert selective_scan_states(u, delta, A, B, bias, True, backend=backend).shape == (0, 4, 2, 5)
    leaves = [t.requires_grad_() for t in (u, delta, A, B, C, D, bias)]
    selective_scan(*leaves, True, backend=backend).sum().backward()
    assert all(t.grad is not None and t.grad.shape == t.shape and not t.grad.any() for t in leaves)
    xs = cross_scan(torch.randn(0, 8, 3, 5), "cross2d_grouped", backend=backend)
    assert xs.shape == (0, 4, 2, 15)
    assert cross_merge(torch.randn(0, 4, 8, 4), 3, 3, "atrous2", backend=backend).shape == (0, 8, 9)
    with torch.no_grad():
        a = fused_args(batch=0)
        assert cross_selective_scan(**a, backend=backend).shape == (0, 3, 4, 8)
        assert state_fusion(torch.randn(0, 4, 3, 3), torch.randn(3, 4, 3, 3), backend=backend).shape == (0, 4, 3, 3)
    if backend == "cpu":
        from vmamba_zoo import _C

        assert _C.selective_scan_fwd(*scan_args(batch=0), True)[0].shape == (0, 4, 5)
        assert OPS.selective_scan(*scan_args(batch=0), True, "cpu")[1].shape == (0, 4, 1)


@needs_cpu_ext
def test_cpu_isa_choice_is_checked():
    from vmamba_zoo import _C

    for name, message in [("sse", "unknown CPU path 'sse'"), ("", "unknown CPU path")]:
        with pytest.raises(ValueError, match=message):
            _C.set_cpu_isa(name)
    assert _C.active_cpu_isa() in _C.supported_cpu_isas()
