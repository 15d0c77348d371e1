"""Random selective-scan inputs for the GPU backends' op tests (CUDA and Triton)."""

from __future__ import annotations

import torch


def scan_inputs(batch: int, groups: int, group_channels: int, N: int, L: int, dtype: torch.dtype,
                softplus: bool, bias: bool, with_D: bool, seed: int = 0) -> dict[str, torch.Tensor | None]:
    """``selective_scan``'s keyword inputs on the CPU: u, delta (batch, groups * group_channels, L),
    A (channels, N), B, C (batch, groups, N, L), D and delta_bias (channels) or None."""
    gen = torch.Generator().manual_seed(seed)
    channels = groups * group_channels

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    # Without softplus, keep delta positive so that exp(delta * A) decays as in real models.
    delta = randn(batch, channels, L) if softplus else torch.rand(batch, channels, L, generator=gen, dtype=dtype)
    return {
        "u": randn(batch, channels, L),
        "delta": delta,
        "A": -(torch.rand(channels, N, generator=gen, dtype=dtype) + 0.1),
        "B": randn(batch, groups, N, L),
        "C": randn(batch, groups, N, L),
        "D": randn(channels) if with_D else None,
        "delta_bias": randn(channels) * 0.5 if bias else None,
    }
