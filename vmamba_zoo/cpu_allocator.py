"""glibc malloc settings for CPU inference with large activations.

glibc serves every block above its mmap threshold (32 MiB at most) with a fresh ``mmap`` and
unmaps it on ``free``, so each forward pass whose activations exceed 32 MiB (an MLP's hidden map
at batch 8 and 56x56 already does) pays a page fault and the kernel's zeroing for every 4 KiB of
them again: measured here, GELU on a 51 MB tensor took 21 ms with the default settings and
4.7 ms without mmap. :func:`keep_large_blocks_in_heap` turns mmap off for large blocks and raises
the trim threshold, so freed activations stay in the heap for the next pass.

The setting is process-wide and helps any model in the process; ``tools/benchmark.py`` applies it
before measuring ours and timm's baselines alike (``--default-malloc`` measures without it).
The same from the shell: ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647``.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1

_applied = False


def keep_large_blocks_in_heap() -> bool:
    """Serve large blocks from the heap and keep freed memory there (glibc ``mallopt``).

    Returns True when applied, False where the C library is not glibc (nothing changes). The
    process may keep up to its peak activation memory resident between passes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    global _applied
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _INT_MAX))
    return _applied


def large_blocks_in_heap() -> bool:
    """Whether :func:`keep_large_blocks_in_heap` is in effect in this process."""
    return _applied


__all__ = ["keep_large_blocks_in_heap", "large_blocks_in_heap"]
