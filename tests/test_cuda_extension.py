"""The compiled CUDA extension ``vmamba_zoo._C_cuda`` and the GPU backends.

* Building: wherever nvcc exists, the in-place build (``make build-ext``) must have produced the
  extension, and it loads and exposes its entry points.
* Numerics: the "cuda" and "triton" backends against the "torch" reference on CUDA tensors; these
  run only where a GPU is visible.
"""

import glob
import importlib.util
import os
import shutil
from pathlib import Path

import pytest
import torch

from op_inputs import scan_inputs
from vmamba_zoo.ops import (
    CROSS_SCAN_MODES,
    available_backends,
    cross_merge,
    cross_scan,
    selective_scan,
    selective_scan_states,
)

ROOT = Path(__file__).resolve().parents[1]
CUDA_SOURCES = sorted(
    glob.glob(str(ROOT / "csrc" / "cuda" / "*.cu")) + glob.glob(str(ROOT / "csrc" / "cuda" / "*.cpp"))
)
ENTRY_POINTS = ("selective_scan_fwd", "selective_scan_bwd", "cross_scan_gather", "cross_merge_gather")


def _nvcc() -> str | None:
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    candidate = Path(cuda_home) / "bin" / "nvcc"
    return str(candidate) if candidate.exists() else shutil.which("nvcc")


def test_extension_is_built_wherever_nvcc_exists():
    """`make` builds csrc/cuda in place whenever nvcc exists (here: compile and link, no GPU)."""
    if _nvcc() is None:
        pytest.skip("nvcc not found (set CUDA_HOME): the CUDA extension cannot be built here")
    if torch.version.cuda is None:
        pytest.skip("this torch build has no CUDA support")
    if importlib.util.find_spec("vmamba_zoo._C_cuda") is None:
        pytest.fail("nvcc exists but vmamba_zoo._C_cuda was not built: run `make build-ext` and read its log")
    import vmamba_zoo._C_cuda as ext

    for name in ENTRY_POINTS:
        assert callable(getattr(ext, name))


def _gpu_backends():
    if not torch.cuda.is_available():
        return [pytest.param(None, marks=pytest.mark.skip(reason="no CUDA device"))]
    reasons = available_backends("cuda")
    return [
        pytest.param(name, marks=pytest.mark.skip(reason=reasons[name]) if reasons[name] else ())
        for name in ("cuda", "triton")
    ]


def _scan_inputs(*args):
    """op_inputs.scan_inputs on the GPU, as leaves that need gradients."""
    return {k: (v.cuda().requires_grad_(True) if v is not None else None) for k, v in scan_inputs(*args).items()}


def _scan_and_grads(inputs, softplus, backend):
    leaves = {k: (v.detach().clone().requires_grad_(True) if v is not None else None) for k, v in inputs.items()}
    y, last = selective_scan(**leaves, delta_softplus=softplus, return_last_state=True, backend=backend)
    gen = torch.Generator(device="cuda").manual_seed(1)
    dy = torch.randn(y.shape, generator=gen, device="cuda", dtype=y.dtype)
    dlast = torch.randn(last.shape, generator=gen, device="cuda", dtype=y.dtype)
    ((y * dy).sum() + (last * dlast).sum()).backward()
    return [y, last], {k: v.grad for k, v in leaves.items() if v is not None}


def _states_and_grads(inputs, softplus, backend):
    leaves = {k: inputs[k].detach().clone().requires_grad_(True) if inputs[k] is not None else None
              for k in ("u", "delta", "A", "B", "delta_bias")}
    h = selective_scan_states(**leaves, delta_softplus=softplus, backend=backend)
    dh = torch.randn(h.shape, generator=torch.Generator(device="cuda").manual_seed(2), device="cuda", dtype=h.dtype)
    (h * dh).sum().backward()
    return h, {k: v.grad for k, v in leaves.items() if v is not None}


def _tolerances(dtype):
    return {"rtol": 1e-9, "atol": 1e-9} if dtype == torch.float64 else {"rtol": 1e-3, "atol": 1e-4}


SCAN_CASES = [
    # batch, groups, Dg, N, L, softplus, delta_bias, D
    (2, 4, 8, 1, 197, True, True, True),  # VMamba v2 (N = 1), several backward chunks
    (2, 1, 16, 16, 63, False, True, False),
    (1, 4, 4, 16, 1, True, True, True),  # L = 1
    (1, 2, 3, 40, 33, True, False, True),  # N > 32: several passes per lane group
    (1, 1, 2, 256, 9, True, True, True),  # the largest state size the original kernels support
]


@pytest.mark.cuda
@pytest.mark.parametrize("backend", _gpu_backends())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", SCAN_CASES)
def test_selective_scan_on_gpu(backend, case, dtype):
    *shape, softplus, bias, with_D = case
    inputs = _scan_inputs(*shape, dtype, softplus, bias, with_D)
    outs_ref, grads_ref = _scan_and_grads(inputs, softplus, "torch")
    outs, grads = _scan_and_grads(inputs, softplus, backend)
    for out, ref in zip(outs, outs_ref):
        torch.testing.assert_close(out, ref, **_tolerances(dtype))
    for name, ref in grads_ref.items():
        torch.testing.assert_close(grads[name], ref, **_tolerances(dtype), msg=f"gradient of {name}")
    h_ref, states_grads_ref = _states_and_grads(inputs, softplus, "torch")
    h, states_grads = _states_and_grads(inputs, softplus, backend)
    torch.testing.assert_close(h, h_ref, **_tolerances(dtype))
    for name, ref in states_grads_ref.items():
        torch.testing.assert_close(states_grads[name], ref, **_tolerances(dtype), msg=f"gradient of {name}")


@pytest.mark.cuda
@pytest.mark.parametrize("backend", _gpu_backends())
def test_long_sequence_on_gpu(backend):
    """L = 64k (Spatial-Mamba detection inputs): the state is carried across chunks."""
    inputs = _scan_inputs(1, 1, 4, 1, 65536, torch.float64, True, True, True)
    outs_ref, grads_ref = _scan_and_grads(inputs, True, "torch")
    outs, grads = _scan_and_grads(inputs, True, backend)
    for out, ref in zip(outs, outs_ref):
        torch.testing.assert_close(out, ref, rtol=1e-8, atol=1e-8)
    for name, ref in grads_ref.items():
        torch.testing.assert_close(grads[name], ref, rtol=1e-8, atol=1e-8, msg=f"gradient of {name}")


@pytest.mark.cuda
@pytest.mark.parametrize("backend", _gpu_backends())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mode", CROSS_SCAN_MODES)
def test_cross_scan_on_gpu(backend, mode, dtype):
    for H, W in ((7, 5), (8, 8), (1, 1)):
        x = torch.randn(2, 8, H, W, device="cuda").to(dtype)
        xs = cross_scan(x, mode, backend=backend)
        assert xs.dtype == dtype
        assert torch.equal(xs, cross_scan(x, mode, backend="torch"))
        y = cross_merge(xs, H, W, mode, backend=backend)
        assert y.dtype == dtype
        expected = cross_merge(xs.double(), H, W, mode, backend="torch").to(dtype)
        torch.testing.assert_close(y, expected)


# VMamba's stage lengths (3136 and 784 take Triton's vectorised layout, L % 16 == 0) and state
# sizes, one group of 192 channels, float32 (the shapes the interpreter runs in test_ops_triton).
@pytest.mark.cuda
@pytest.mark.parametrize("backend", _gpu_backends())
@pytest.mark.parametrize("N", [1, 16])
@pytest.mark.parametrize("L", [256, 784, 3136])
def test_vmamba_shapes_on_gpu(backend, N, L):
    inputs = _scan_inputs(2, 4, 192, N, L, torch.float32, True, True, True)
    outs_ref, grads_ref = _scan_and_grads(_as_double(inputs), True, "torch")
    outs, grads = _scan_and_grads(inputs, True, backend)
    for out, ref in zip(outs, outs_ref):
        torch.testing.assert_close(out.double(), ref, rtol=1e-3, atol=1e-4)
    for name, ref in grads_ref.items():
        scale = ref.abs().max().clamp_min(1.0)
        torch.testing.assert_close(grads[name].double() / scale, ref / scale, rtol=1e-3, atol=1e-4,
                                   msg=f"gradient of {name}")


def _as_double(inputs):
    return {k: (v.detach().double().requires_grad_(True) if v is not None else None) for k, v in inputs.items()}


@pytest.mark.cuda
@pytest.mark.parametrize("backend", _gpu_backends())
def test_deterministic_mode_on_gpu(backend):
    """Under torch.use_deterministic_algorithms(True) every gradient is bitwise repeatable."""
    inputs = _scan_inputs(2, 4, 64, 16, 784, torch.float32, True, True, True)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        _, first = _scan_and_grads(inputs, True, backend)
        _, second = _scan_and_grads(inputs, True, backend)
    finally:
        torch.use_deterministic_algorithms(previous)
    for name in first:
        assert torch.equal(first[name], second[name]), name


# --------------------------------------------------------------------------------------------
# The raw entry points check their arguments themselves: inconsistent tensors raise a Python
# exception naming the problem (on CPU tensors here, before any device is needed).

try:
    import vmamba_zoo._C_cuda as _ext
except ImportError:
    _ext = None


def _raw_inputs(batch=2, channels=4, groups=2, N=3, L=5, dtype=torch.float32):
    def t(*shape):
        return torch.randn(*shape, dtype=dtype)

    return dict(u=t(batch, channels, L), delta=t(batch, channels, L), A=t(channels, N), B=t(batch, groups, N, L),
                C=t(batch, groups, N, L), D=t(channels), delta_bias=t(channels))


def _fwd(**overrides):
    args = {**_raw_inputs(), "softplus": True, "store_states": False, **overrides}
    return _ext.selective_scan_fwd(args["u"], args["delta"], args["A"], args["B"], args["C"], args["D"],
                                   args["delta_bias"], args["softplus"], args["store_states"])


def _bwd(**overrides):
    base = _raw_inputs()
    args = {**base, "softplus": True, "grad": torch.randn(2, 4, 5), "dlast": torch.randn(2, 4, 3),
            "deterministic": False, **overrides}
    return _ext.selective_scan_bwd(args["u"], args["delta"], args["A"], args["B"], args["C"], args["D"],
                                   args["delta_bias"], args["softplus"], args["grad"], args["dlast"],
                                   args["deterministic"])


FWD_CASES = {
    "zero groups": (dict(B=torch.randn(2, 0, 3, 5)), "at least one group"),
    "short B": (dict(B=torch.randn(2, 2, 3, 4)), "B must have shape"),
    "short A": (dict(A=torch.randn(3, 3)), "A must have 4 rows"),
    "A with another N": (dict(A=torch.randn(4, 2)), "B must have shape"),
    "no state": (dict(A=torch.randn(4, 0)), "state size N"),
    "indivisible groups": (dict(B=torch.randn(2, 3, 3, 5), C=torch.randn(2, 3, 3, 5)), "divisible"),
    "delta of another length": (dict(delta=torch.randn(2, 4, 6)), "delta must have u's shape"),
    "C unlike B": (dict(C=torch.randn(2, 2, 3, 4)), "C must have B's shape"),
    "short D": (dict(D=torch.randn(3)), "D must have shape"),
    "2-D delta_bias": (dict(delta_bias=torch.randn(4, 1)), "delta_bias must be 1-D"),
    "mixed dtypes": (dict(B=torch.randn(2, 2, 3, 5, dtype=torch.float64)), "must have dtype"),
    "integer u": (dict(u=torch.ones(2, 4, 5, dtype=torch.int32)), "float32 or float64"),
    "empty batch": (dict(u=torch.randn(0, 4, 5), delta=torch.randn(0, 4, 5)), "non-empty"),
    "non-contiguous u": (dict(u=torch.randn(2, 5, 4).transpose(1, 2)), "contiguous"),
    "states with C": (dict(store_states=True), "pass C for y"),
    "CPU tensors": (dict(), "must be a CUDA tensor"),
}


@pytest.mark.skipif(_ext is None, reason="the CUDA extension is not built")
@pytest.mark.parametrize("case", FWD_CASES)
def test_selective_scan_fwd_checks_its_arguments(case):
    overrides, message = FWD_CASES[case]
    with pytest.raises(RuntimeError, match=message):
        _fwd(**overrides)


BWD_CASES = {
    "dy of another length": (dict(grad=torch.randn(2, 4, 6)), "dy must have u's shape"),
    "short dlast": (dict(dlast=torch.randn(2, 4, 2)), "dlast must have shape"),
    "dh of another N": (dict(C=None, D=None, dlast=None, grad=torch.randn(2, 4, 2, 5)), "dh must have shape"),
    "dlast without C": (dict(C=None, D=None, grad=torch.randn(2, 4, 3, 5)), "dlast is only defined"),
    "zero groups": (dict(B=torch.randn(2, 0, 3, 5), C=torch.randn(2, 0, 3, 5)), "at least one group"),
    "CPU tensors": (dict(), "must be a CUDA tensor"),
}


@pytest.mark.skipif(_ext is None, reason="the CUDA extension is not built")
@pytest.mark.parametrize("case", BWD_CASES)
def test_selective_scan_bwd_checks_its_arguments(case):
    overrides, message = BWD_CASES[case]
    with pytest.raises(RuntimeError, match=message):
        _bwd(**overrides)


GATHER_CASES = {
    "3-D x": (lambda: _ext.cross_scan_gather(torch.randn(2, 4, 9), torch.zeros(4, 9, dtype=torch.int32), False),
              "must be 4-D"),
    "int64 map": (lambda: _ext.cross_scan_gather(torch.randn(2, 4, 3, 3), torch.zeros(4, 9, dtype=torch.int64),
                                                 False), "must be int32"),
    "1-D map": (lambda: _ext.cross_scan_gather(torch.randn(2, 4, 3, 3), torch.zeros(9, dtype=torch.int32), False),
                "must be 2-D"),
    "no routes": (lambda: _ext.cross_scan_gather(torch.randn(2, 4, 3, 3), torch.zeros(0, 9, dtype=torch.int32),
                                                 False), "1 to 64 routes"),
    "grouped, indivisible": (lambda: _ext.cross_scan_gather(torch.randn(2, 6, 3, 3),
                                                            torch.zeros(4, 9, dtype=torch.int32), True), "divisible"),
    "integer x": (lambda: _ext.cross_scan_gather(torch.ones(2, 4, 3, 3, dtype=torch.int32),
                                                 torch.zeros(4, 9, dtype=torch.int32), False), "floating point"),
    "scan on CPU": (lambda: _ext.cross_scan_gather(torch.randn(2, 4, 3, 3), torch.zeros(4, 9, dtype=torch.int32),
                                                   False), "expects CUDA tensors"),
    "merge map of other K": (lambda: _ext.cross_merge_gather(torch.randn(2, 4, 3, 9),
                                                             torch.zeros(2, 9, dtype=torch.int32), False),
                             "one row per route"),
    "merge on CPU": (lambda: _ext.cross_merge_gather(torch.randn(2, 4, 3, 9), torch.zeros(4, 9, dtype=torch.int32),
                                                     False), "expects CUDA tensors"),
}


@pytest.mark.skipif(_ext is None, reason="the CUDA extension is not built")
@pytest.mark.parametrize("case", GATHER_CASES)
def test_cross_scan_gathers_check_their_arguments(case):
    call, message = GATHER_CASES[case]
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.cuda
@pytest.mark.skipif(_ext is None or not torch.cuda.is_available(), reason="needs the CUDA extension and a GPU")
def test_entry_points_check_devices_on_gpu():
    """The device cases: a tensor left on the CPU next to CUDA ones is refused by name."""
    inputs = {k: v.cuda() for k, v in _raw_inputs().items()}
    with pytest.raises(RuntimeError, match="B must be a CUDA tensor"):
        _fwd(**{**inputs, "B": inputs["B"].cpu()})
    with pytest.raises(RuntimeError, match="dlast must be a CUDA tensor"):
        _bwd(**inputs, grad=torch.randn(2, 4, 5, device="cuda"), dlast=torch.randn(2, 4, 3))
    x = torch.randn(2, 4, 3, 3, device="cuda")
    with pytest.raises(RuntimeError, match="scan_src must be on"):
        _ext.cross_scan_gather(x, torch.zeros(4, 9, dtype=torch.int32), False)
    y, last = _fwd(**inputs)  # consistent CUDA tensors run
    torch.cuda.synchronize()
    assert y.shape == (2, 4, 5) and last.shape == (2, 4, 3)
