"""The ``"triton"`` backend of cross-scan / cross-merge (CUDA tensors, or CPU under
TRITON_INTERPRET=1): two gather kernels over the index maps of :mod:`.index_maps`, one code
path for every mode. Each program moves a (BLOCK_C channels, BLOCK_L positions) tile for all K
sequences; the merge sums the K contributions in float32 (float64 for float64) and stores in
the input dtype. Positions are the fastest grid axis and batch the slowest, so that programs
running together read neighbouring pixels of one image (the column-major routes revisit the
same cache lines) rather than the same pixels of different images."""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._triton import kernel, next_power_of_2, on_device
from .index_maps import merge_sources, scan_sources
from .modes import geometry

BLOCK_C = 16
MAX_BLOCK_L = 128


def _scan(
    x_ptr, src_ptr, out_ptr,
    channels_out, hw, L,
    K: tl.constexpr, GROUPED: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_L: tl.constexpr,
):
    b = tl.program_id(2).to(tl.int64)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_l = tl.program_id(0) * BLOCK_L + tl.arange(0, BLOCK_L)
    mask_c = offs_c < channels_out
    mask_l = offs_l < L
    for k in tl.static_range(K):
        src = tl.load(src_ptr + k * L + offs_l, mask=mask_l, other=-1)
        if GROUPED:
            x_channel = k * channels_out + offs_c
            x_channels = K * channels_out
        else:
            x_channel = offs_c
            x_channels = channels_out
        valid = mask_c[:, None] & (src >= 0)[None, :]
        vals = tl.load(x_ptr + (b * x_channels + x_channel[:, None]) * hw + src[None, :], mask=valid, other=0.0)
        out_off = ((b * K + k) * channels_out + offs_c[:, None]) * L + offs_l[None, :]
        tl.store(out_ptr + out_off, vals, mask=mask_c[:, None] & mask_l[None, :])


def _merge(
    ys_ptr, src_ptr, out_ptr,
    channels_in, hw, L,
    K: tl.constexpr, GROUPED: tl.constexpr, ACC_F64: tl.constexpr,
    BLOCK_C: tl.constexpr, BLOCK_L: tl.constexpr,
):
    b = tl.program_id(2).to(tl.int64)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_p = tl.program_id(0) * BLOCK_L + tl.arange(0, BLOCK_L)
    mask_c = offs_c < channels_in
    mask_p = offs_p < hw
    mask = mask_c[:, None] & mask_p[None, :]
    acc_dtype = tl.float64 if ACC_F64 else tl.float32
    total = tl.full([BLOCK_C, BLOCK_L], 0.0, dtype=acc_dtype)
    for k in tl.static_range(K):
        src = tl.load(src_ptr + k * hw + offs_p, mask=mask_p, other=-1)
        valid = mask_c[:, None] & (src >= 0)[None, :]
        in_off = ((b * K + k) * channels_in + offs_c[:, None]) * L + src[None, :]
        vals = tl.load(ys_ptr + in_off, mask=valid, other=0.0).to(acc_dtype)
        if GROUPED:
            out_off = (b * K * channels_in + k * channels_in + offs_c[:, None]) * hw + offs_p[None, :]
            tl.store(out_ptr + out_off, vals.to(out_ptr.dtype.element_ty), mask=mask)
        else:
            total += vals
    if not GROUPED:
        out_off = (b * channels_in + offs_c[:, None]) * hw + offs_p[None, :]
        tl.store(out_ptr + out_off, total.to(out_ptr.dtype.element_ty), mask=mask)


_scan_kernel = kernel(_scan)
_merge_kernel = kernel(_merge)
KERNELS = {"scan": _scan, "merge": _merge}

# The grid's channel and batch axes are limited to 65535 blocks each.
MAX_GRID_YZ = 65535


def _grid(batch: int, channels: int, length: int) -> tuple[tuple[int, int, int], int]:
    block_l = min(next_power_of_2(length), MAX_BLOCK_L)
    grid = (triton.cdiv(length, block_l), triton.cdiv(channels, BLOCK_C), batch)
    if max(grid[1:]) > MAX_GRID_YZ:
        raise ValueError(f"the triton cross-scan handles at most {MAX_GRID_YZ} images and "
                         f"{MAX_GRID_YZ * BLOCK_C} channels per call, got {batch} and {channels}")
    return grid, block_l


def scan_launch(x: Tensor, mode: str):
    """The output and the scan kernel's (grid, args, meta), as :func:`scan` launches it."""
    batch, channels, H, W = x.shape
    geo = geometry(mode, H, W)
    channels_out = channels // geo.K if geo.grouped else channels
    out = x.new_empty(batch, geo.K, channels_out, geo.length)
    grid, block_l = _grid(batch, channels_out, geo.length)
    sources = scan_sources(mode, H, W, x.device) if x.device.type != "meta" else x.new_empty(
        geo.K, geo.length, dtype=torch.int32)
    args = (x, sources, out, channels_out, H * W, geo.length)
    meta = dict(K=geo.K, GROUPED=geo.grouped, BLOCK_C=BLOCK_C, BLOCK_L=block_l)
    return out, grid, args, meta


def merge_launch(ys: Tensor, H: int, W: int, mode: str):
    """The output and the merge kernel's (grid, args, meta), as :func:`merge` launches it."""
    batch, K, channels_in, L = ys.shape
    geo = geometry(mode, H, W)
    out = ys.new_empty(batch, K * channels_in if geo.grouped else channels_in, H * W)
    grid, block_l = _grid(batch, channels_in, H * W)
    sources = merge_sources(mode, H, W, ys.device) if ys.device.type != "meta" else ys.new_empty(
        K, H * W, dtype=torch.int32)
    args = (ys, sources, out, channels_in, H * W, L)
    meta = dict(K=K, GROUPED=geo.grouped, ACC_F64=ys.dtype == torch.float64, BLOCK_C=BLOCK_C, BLOCK_L=block_l)
    return out, grid, args, meta


def scan(x: Tensor, mode: str) -> Tensor:
    out, grid, args, meta = scan_launch(x, mode)
    with on_device(x):
        _scan_kernel[grid](*args, **meta)
    return out


def merge(ys: Tensor, H: int, W: int, mode: str) -> Tensor:
    out, grid, args, meta = merge_launch(ys, H, W, mode)
    with on_device(ys):
        _merge_kernel[grid](*args, **meta)
    return out
