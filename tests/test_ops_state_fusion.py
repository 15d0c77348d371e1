"""state_fusion: the fused CPU kernel against the dilated convolutions it replaces, its gradient
path, FLOP handle and error contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vmamba_zoo import count_flops
from vmamba_zoo.ops import state_fusion


def convolutions_by_hand(h, weight, dilations):
    """Replicate padding written as clamped indices, each tap spelled out."""
    batch, channels, H, W = h.shape
    out = torch.zeros_like(h)
    rows, cols = torch.arange(H), torch.arange(W)
    for w, d in zip(weight, dilations):
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                shifted = h[:, :, (rows + a * d).clamp(0, H - 1)][:, :, :, (cols + b * d).clamp(0, W - 1)]
                out += w[:, a + 1, b + 1].view(1, -1, 1, 1) * shifted
    return out


@pytest.mark.parametrize("hw", [(7, 9), (1, 1), (3, 2), (14, 14), (2, 23)], ids=str)
@pytest.mark.parametrize("dilations", [(1, 3, 5), (2,)], ids=str)
def test_matches_the_convolutions(hw, dilations, cpu_isa):
    torch.manual_seed(0)
    h = torch.randn(2, 5, *hw, dtype=torch.float64)
    weight = torch.randn(len(dilations), 5, 3, 3, dtype=torch.float64)
    expected = convolutions_by_hand(h, weight, dilations)
    for backend in ("auto", "torch"):
        with torch.no_grad():
            out = state_fusion(h, weight, dilations, backend=backend)
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hw", [(7, 9), (1, 1), (3, 2), (2, 23)], ids=str)
@pytest.mark.parametrize("dilations", [(1, 3, 5), (2,), (1, 40)], ids=str)
def test_fused_gradients_equal_the_convolutions(hw, dilations, cpu_isa):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, 5, *hw, dtype=torch.float64, generator=g)
    weight = torch.randn(len(dilations), 5, 3, 3, dtype=torch.float64, generator=g)
    dout = torch.randn(h.shape, dtype=torch.float64, generator=g)
    grads = {}
    for backend in ("cpu", "torch"):
        leaves = (h.clone().requires_grad_(), weight.clone().requires_grad_())
        grads[backend] = torch.autograd.grad(state_fusion(*leaves, dilations, backend=backend), leaves, dout)
    for fused, chain in zip(grads["cpu"], grads["torch"]):
        torch.testing.assert_close(fused, chain, rtol=1e-12, atol=1e-12)


def test_float32_and_gradient_path(cpu_isa):
    torch.manual_seed(0)
    h = torch.randn(2, 4, 6, 5)
    weight = torch.randn(3, 4, 3, 3)
    with torch.no_grad():
        fused = state_fusion(h, weight)
    torch.testing.assert_close(fused, convolutions_by_hand(h, weight, (1, 3, 5)), rtol=1e-5, atol=1e-5)
    h64, w64 = h.double().requires_grad_(), weight.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: state_fusion(a, b), (h64, w64))


class _Fusion(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(3, 4, 3, 3))

    def forward(self, h):
        return state_fusion(h, self.weight)


def test_fused_node_counts_as_the_merged_kernel():
    model = _Fusion()
    h = torch.randn(1, 4, 6, 5)
    with torch.no_grad():
        kinds = [n.kind() for n in torch.jit.trace(model, (h,)).inlined_graph.nodes()]
    assert kinds.count("vmamba_zoo::state_fusion") == 1
    assert count_flops(model, (4, 6, 5)) == 4 * 6 * 5 * 11 * 11


@pytest.mark.parametrize(
    "args, message",
    [
        ((torch.randn(4, 6, 5), torch.randn(3, 4, 3, 3)), "\\(batch, C, H, W\\) map with C, H, W >= 1"),
        ((torch.randn(1, 4, 6, 5), torch.randn(3, 5, 3, 3)), "weight must be"),
        ((torch.randn(1, 4, 6, 5), torch.randn(2, 4, 3, 3)), "weight must be"),
        ((torch.randn(1, 4, 6, 5).long(), torch.randn(3, 4, 3, 3)), "h must be a floating-point"),
    ],
)
def test_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        state_fusion(*args)
    with pytest.raises(ValueError, match="dilations must be positive"):
        state_fusion(torch.randn(1, 4, 6, 5), torch.randn(1, 4, 3, 3), (0,))


def test_default_dilations_are_spatial_mambas():
    h, weight = torch.randn(1, 2, 8, 8), torch.randn(3, 2, 3, 3)
    expected = sum(
        F.conv2d(F.pad(h, (d,) * 4, mode="replicate"), w.unsqueeze(1), dilation=d, groups=2)
        for w, d in zip(weight, (1, 3, 5))
    )
    with torch.no_grad():
        torch.testing.assert_close(state_fusion(h, weight), expected, rtol=1e-5, atol=1e-5)
