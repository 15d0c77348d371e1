"""Backend selection shared by every op in :mod:`vmamba_zoo.ops`.

Each op folder holds one module per backend (``reference.py`` for ``"torch"``, ``cpu.py``,
``triton.py``, ``cuda.py``) with the same functions. This module decides which of them may run
on which device, resolves ``"auto"`` (honouring ``VMAMBA_ZOO_BACKEND``) and explains, in the
error it raises, why a requested backend cannot be used. It never falls back silently.
"""

from __future__ import annotations

import functools
import importlib
import os

import torch

BACKENDS = ("torch", "cpu", "triton", "cuda")
ENV_VAR = "VMAMBA_ZOO_BACKEND"

# Per device type, "auto" takes the first available backend of this order. On CPU the compiled
# kernels come first. On CUDA, Triton comes first because it is the verified one: its kernels run
# in Triton's interpreter in CI and compile offline for sm_80/sm_90, while the CUDA kernels have
# only been compiled, never run on a GPU. Reorder once tools/gpu_check.sh has passed on a GPU
# (see the README's GPU section for the state of each backend).
_AUTO_ORDER = {"cpu": ("cpu", "torch"), "cuda": ("triton", "cuda", "torch")}


@functools.lru_cache(maxsize=None)
def _extension_error(module: str) -> str | None:
    """Why the compiled extension ``module`` cannot be imported, or None if it can."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return (
            f"the compiled extension {module} is not importable ({exc}); "
            "build it with `make build-ext` (or `python setup.py build_ext --inplace`)"
        )
    return None


def forget_extensions() -> None:
    """Let the next check import the compiled extensions again (after building one)."""
    _extension_error.cache_clear()


@functools.lru_cache(maxsize=None)
def _triton_error() -> str | None:
    try:
        import triton  # noqa: F401
    except ImportError as exc:
        return f"triton is not installed ({exc})"
    return None


def triton_interpreted() -> bool:
    """Triton runs its kernels on CPU tensors only under its interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def unavailable_reason(backend: str, device: torch.device) -> str | None:
    """None when ``backend`` can run on ``device``; otherwise a sentence saying why not."""
    if backend == "torch":
        return None
    if backend == "cpu":
        if device.type != "cpu":
            return f"the 'cpu' backend runs on CPU tensors, got tensors on {device}"
        return _extension_error("vmamba_zoo._C")
    if backend == "cuda":
        if device.type != "cuda":
            return f"the 'cuda' backend runs on CUDA tensors, got tensors on {device}"
        return _extension_error("vmamba_zoo._C_cuda")
    if backend == "triton":
        reason = _triton_error()
        if reason:
            return reason
        if device.type == "cpu" and not triton_interpreted():
            return "the 'triton' backend runs on CPU tensors only with TRITON_INTERPRET=1"
        if device.type not in ("cpu", "cuda"):
            return f"the 'triton' backend does not run on {device}"
        return None
    raise ValueError(f"unknown backend {backend!r}; choose one of {('auto',) + BACKENDS}")


# A trace-time constant for torch.compile: resolution imports modules and reads the environment,
# which dynamo must not trace.
@torch.compiler.assume_constant_result
def resolve(backend: str, device: torch.device) -> str:
    """Turn ``backend`` (a name or ``"auto"``) into a backend that runs on ``device``."""
    if not isinstance(backend, str):
        raise ValueError(f"backend must be a string, got {type(backend).__name__}")
    if backend == "auto":
        override = os.environ.get(ENV_VAR, "").strip()
        if override and override != "auto":
            if override not in BACKENDS:
                raise ValueError(
                    f"{ENV_VAR}={override!r} is not a backend; choose one of {('auto',) + BACKENDS}"
                )
            backend = override
        else:
            for candidate in _AUTO_ORDER.get(device.type, ("torch",)):
                if unavailable_reason(candidate, device) is None:
                    return candidate
            return "torch"
    reason = unavailable_reason(backend, device)
    if reason is not None:
        raise RuntimeError(f"backend {backend!r} is not available: {reason}")
    return backend


# Like resolve: a trace-time constant (it imports the backend module).
@torch.compiler.assume_constant_result
def reads_half_precision(op_package: str, backend: str) -> bool:
    """Whether ``backend``'s kernels for the op in ``op_package`` read float16 / bfloat16 inputs
    themselves (computing in float32), so that the op passes them unconverted."""
    return bool(getattr(load(op_package, backend), "READS_HALF_PRECISION", False))


def available_backends(device: torch.device | str = "cpu") -> dict[str, str | None]:
    """Map every backend to None (usable on ``device``) or the reason it is not."""
    device = torch.device(device)
    return {name: unavailable_reason(name, device) for name in BACKENDS}


def load(op_package: str, backend: str):
    """The module implementing ``backend`` for the op in ``op_package``."""
    module = {"torch": "reference"}.get(backend, backend)
    return importlib.import_module(f"{op_package}.{module}")
