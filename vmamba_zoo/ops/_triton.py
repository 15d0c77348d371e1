"""Shared plumbing of the ``"triton"`` backends.

``triton.jit`` decides at decoration time whether a kernel is compiled for the GPU or run by
Triton's CPU interpreter (``TRITON_INTERPRET=1``). Our kernel modules are imported lazily and
may be imported before a test sets that variable, so kernels are wrapped in :class:`Kernel`,
which jits them on first launch for whichever mode is active then (and again if it changes).

Helpers that kernels call (including the combine functions of ``tl.associative_scan`` /
``tl.reduce``) are :class:`DeviceFunction` objects: the compiler inlines them like any jitted
function, and the interpreter calls them as Python. For the same reason kernels avoid
``triton.language``'s own jitted helpers (``tl.sum``, ``tl.zeros_like``, ...): those are fixed
when triton is imported (torch._dynamo imports it early) and cannot be called by the interpreter
unless TRITON_INTERPRET was set before that. Sums use :data:`add`, the combine function behind
``tl.sum``, which the interpreter also evaluates with one numpy call.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction


def interpreting() -> bool:
    return bool(triton.knobs.runtime.interpret)


class Kernel:
    """A Triton kernel, jitted on first launch for the active mode: ``Kernel(fn)[grid](...)``."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self._jitted: dict[bool, object] = {}

    def __getitem__(self, grid):
        mode = interpreting()
        if mode not in self._jitted:
            self._jitted[mode] = triton.jit(self.fn)
        return self._jitted[mode][grid]


def kernel(fn) -> Kernel:
    return Kernel(fn)


class DeviceFunction(JITFunction):
    """A jitted helper that works in both modes (see the module docstring)."""

    def __call__(self, *args, **kwargs):
        # Only the interpreter calls a helper as Python; compiled kernels inline it.
        return InterpretedFunction(self.fn)(*args, **kwargs)


def device_function(fn) -> DeviceFunction:
    return DeviceFunction(fn)


# ``tl.sum``'s combine function: compiled like any other, and recognised by the interpreter.
add = tl.standard._sum_combine


def on_device(t: torch.Tensor):
    """Triton launches on the current CUDA device: make it the tensor's (no-op on CPU)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


def next_power_of_2(n: int) -> int:
    return triton.next_power_of_2(max(int(n), 1))
