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


def _scan_inputs(batch, groups, group_channels, N, L, dtype, softplus, bias, with_D):
    gen = torch.Generator().manual_seed(0)
    channels = groups * group_channels

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    delta = randn(batch, channels, L) if softplus else torch.rand(batch, channels, L, generator=gen, dtype=dtype)
    inputs = {
        "u": randn(batch, channels, L),
        "delta": delta,
        "A": -(torch.rand(channels, N, generator=gen, dtype=dtype) + 0.1),
        "B": randn(batch, groups, N, L),
        "C": randn(batch, groups, N, L),
        "D": randn(channels) if with_D else None,
        "delta_bias": randn(channels) * 0.5 if bias else None,
    }
    return {k: (v.cuda().requires_grad_(True) if v is not None else None) for k, v in inputs.items()}


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
