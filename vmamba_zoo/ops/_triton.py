"""Shared plumbing of the ``"triton"`` backends.

``triton.jit`` decides at decoration time whether a kernel is compiled for the GPU or run by
Triton's CPU interpreter (``TRITON_INTERPRET=1``). Our kernel modules are imported lazily and
may be imported before a test sets that variable, so kernels are wrapped in :class:`Kernel`,
which jits them on first launch for whichever mode is active then (and again if it changes).
Functions a kernel passes to ``tl.associative_scan`` / ``tl.reduce`` are plain ``JITFunction``
objects: the compiler inlines them, and the interpreter calls their ``.fn``, so one object serves
both modes. For the same reason kernels avoid ``triton.language``'s own jitted helpers
(``tl.sum``, ``tl.zeros_like``, ...): those are fixed when triton is imported (torch._dynamo imports it
early) and cannot be called by the interpreter unless TRITON_INTERPRET was set before that.
"""

from __future__ import annotations

import contextlib

import torch
import triton
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


def combine_fn(fn) -> JITFunction:
    """A function for ``tl.associative_scan`` / ``tl.reduce`` that works compiled and interpreted."""
    return JITFunction(fn)


def on_device(t: torch.Tensor):
    """Triton launches on the current CUDA device: make it the tensor's (no-op on CPU)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


def next_power_of_2(n: int) -> int:
    return triton.next_power_of_2(max(int(n), 1))
