"""The shared Linear / Mlp layers: same function, keys and FLOP counts as nn.Linear and timm's Mlp,
whichever path (oneDNN for CPU float32 inference and bfloat16 autocast, F.linear otherwise) runs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Mlp as TimmMlp

from vmamba_zoo import count_flops
import pytest

from vmamba_zoo.models import _layers
from vmamba_zoo.models._layers import (
    LayerNorm, Linear, Mlp, bfloat16_copy, conv2d_act, conv2d_residual, fold_batch_norm, fused_conv2d, linear_act,
)


def test_mlp_matches_timm_mlp_with_the_same_keys():
    torch.manual_seed(0)
    ours, timms = Mlp(24, 96), TimmMlp(24, 96, act_layer=torch.nn.GELU)
    assert ours.state_dict().keys() == timms.state_dict().keys()
    ours.load_state_dict(timms.state_dict())
    x = torch.randn(2, 5, 7, 24)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), timms(x), rtol=1e-5, atol=1e-5)
    out = ours(x)  # gradient path: F.linear, differentiable
    out.sum().backward()
    assert ours.fc1.weight.grad is not None
    torch.testing.assert_close(out, timms(x), rtol=1e-5, atol=1e-5)


def test_linear_matches_and_keeps_autocast_dtype():
    torch.manual_seed(0)
    layer, reference = Linear(16, 8, bias=False), torch.nn.Linear(16, 8, bias=False)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(3, 16)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference(x), rtol=1e-5, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert layer(x).dtype == torch.bfloat16
    assert isinstance(layer, torch.nn.Linear)


needs_onednn_bf16 = pytest.mark.skipif(not _layers._ONEDNN_BF16, reason="no native bfloat16 in this oneDNN / CPU")


@needs_onednn_bf16
def test_bfloat16_autocast_path_matches_autocast_f_linear():
    torch.manual_seed(0)
    ours, timms = Mlp(24, 96), TimmMlp(24, 96, act_layer=torch.nn.GELU)
    ours.load_state_dict(timms.state_dict())
    x = torch.randn(4, 5, 7, 24)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for inputs in (x, x.bfloat16()):
            y, expected = ours(inputs), timms(inputs)
            assert y.dtype == expected.dtype == torch.bfloat16
            # the same bfloat16 operands; GELU applied before rounding (one rounding less), so
            # a hidden unit can differ by one bfloat16 step: a few steps at the output
            torch.testing.assert_close(y.float(), expected.float(), rtol=2**-6, atol=8e-3)
    assert "weight" in ours.fc1.__dict__["_bfloat16_copies"]  # the oneDNN path ran


def test_bfloat16_copy_is_kept_until_the_parameter_changes():
    layer = Linear(16, 8)
    first = bfloat16_copy(layer, "weight")
    assert first.dtype == torch.bfloat16 and torch.equal(first, layer.weight.detach().bfloat16())
    assert bfloat16_copy(layer, "weight") is first  # converted once
    with torch.no_grad():
        layer.weight.mul_(2)  # in place
    second = bfloat16_copy(layer, "weight")
    assert second is not first and torch.equal(second, layer.weight.detach().bfloat16())
    layer.load_state_dict({"weight": torch.ones(8, 16), "bias": torch.zeros(8)})
    assert torch.equal(bfloat16_copy(layer, "weight"), torch.ones(8, 16, dtype=torch.bfloat16))
    layer.weight = torch.nn.Parameter(torch.full((8, 16), 3.0))  # replaced
    assert torch.equal(bfloat16_copy(layer, "weight"), torch.full((8, 16), 3.0, dtype=torch.bfloat16))
    assert "_bfloat16_copies" not in layer.state_dict() and len(layer.state_dict()) == 2


def test_traced_as_linear_so_flops_are_counted():
    model = torch.nn.Sequential(Mlp(8, 32), Linear(8, 4))  # on (batch, 2, 3, 8) maps
    with torch.no_grad():
        kinds = [n.kind() for n in torch.jit.trace(model, (torch.randn(1, 2, 3, 8),)).inlined_graph.nodes()]
    assert kinds.count("aten::linear") == 3
    assert count_flops(model, (2, 3, 8)) == 2 * 3 * (8 * 32 + 32 * 8 + 8 * 4)


@pytest.mark.parametrize("activation", ["gelu", "silu", "relu"])
def test_conv2d_act_matches_conv_then_activation(activation):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
    x = torch.randn(2, 5, 6, 16).permute(0, 3, 1, 2)  # channels-last memory, as the models pass it
    act = {"gelu": F.gelu, "silu": F.silu, "relu": F.relu}[activation]
    with torch.no_grad():
        torch.testing.assert_close(conv2d_act(conv, x, activation), act(conv(x)), rtol=1e-5, atol=1e-5)
    y = conv2d_act(conv, x, activation)
    assert y.requires_grad  # the gradient path is the plain convolution
    assert torch.equal(y, act(conv(x)))
    with pytest.raises(ValueError, match="activation"):
        conv2d_act(conv, x, "tanh")


def test_residual_rows_and_silu_match_the_plain_ops():
    torch.manual_seed(0)
    layer, mlp = Linear(16, 12), Mlp(12, 24)
    x, residual = torch.randn(2, 3, 16), torch.randn(2, 3, 12)
    plain = F.linear(x, layer.weight, layer.bias)
    for grad in (False, True):  # oneDNN's fused passes, then the differentiable path
        with torch.set_grad_enabled(grad):
            torch.testing.assert_close(layer(x, residual), residual + plain, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(mlp(residual, residual=x[..., :12].contiguous()),
                                       x[..., :12] + mlp(residual), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(layer.forward_rows(x, 4, 10), plain[..., 4:10], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(layer.forward_rows(x, 4, 10, silu=True), F.silu(plain[..., 4:10]),
                                       rtol=1e-5, atol=1e-5)
    assert layer(x, residual).requires_grad and layer.forward_rows(x, 0, 3).requires_grad
    with torch.no_grad():  # a strided residual takes the plain add
        strided = torch.randn(2, 3, 24)[..., ::2]
        torch.testing.assert_close(layer(x, strided), strided + plain, rtol=1e-5, atol=1e-5)


def test_conv2d_residual_matches_x_plus_conv():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
    x = torch.randn(2, 5, 6, 16).permute(0, 3, 1, 2)
    with torch.no_grad():
        torch.testing.assert_close(conv2d_residual(conv, x), x + conv(x), rtol=1e-5, atol=1e-5)
    assert conv2d_residual(conv, x).requires_grad


def test_folded_batch_norm_and_weights_activations_match_the_plain_ops():
    torch.manual_seed(0)
    conv, norm = torch.nn.Conv2d(8, 12, 3, stride=2, padding=1), torch.nn.BatchNorm2d(12)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    norm.eval()
    x = torch.randn(2, 8, 9, 10)
    with torch.no_grad():
        weight, bias = fold_batch_norm(conv.weight, conv.bias, norm)
        expected = F.relu(norm(conv(x)))
        y = fused_conv2d(x, weight, bias, "relu", conv.stride, conv.padding, conv.dilation, conv.groups)
        torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
        pixels = torch.randn(2, 3, 4, 8)
        point = torch.nn.Conv2d(8, 12, 1, bias=False)
        weight, bias = fold_batch_norm(point.weight.flatten(1), None, norm)
        expected = norm(point(pixels.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        torch.testing.assert_close(linear_act(pixels, weight, bias), expected, rtol=1e-5, atol=1e-5)
    for fused in (lambda: fused_conv2d(x, conv.weight, None, "tanh"), lambda: linear_act(pixels, weight, bias, "tanh")):
        with pytest.raises(ValueError, match="activation"):
            fused()


@needs_onednn_bf16
def test_conv_activations_under_bfloat16_autocast_match_autocast_conv():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
    x = torch.randn(2, 5, 6, 16).permute(0, 3, 1, 2)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for activation, act in (("silu", torch.nn.functional.silu), ("gelu", torch.nn.functional.gelu)):
            y, expected = conv2d_act(conv, x, activation), act(conv(x))
            assert y.dtype == expected.dtype == torch.bfloat16
            torch.testing.assert_close(y.float(), expected.float(), rtol=2**-7, atol=2**-7)
    assert "weight" in conv.__dict__["_bfloat16_copies"]  # the oneDNN path ran


@needs_onednn_bf16
@pytest.mark.parametrize("channels", [96, 40, 7])  # whole vectors, a partial last one, less than one
def test_layer_norm_under_bfloat16_autocast_is_the_float32_norm_rounded_once(channels):
    torch.manual_seed(0)
    norm = LayerNorm(channels, eps=1e-6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(3, 5, channels) * 4 + 3  # a mean far from zero
    with torch.no_grad():
        for inputs in (x, x.bfloat16()):
            expected = torch.nn.functional.layer_norm(inputs.double(), (channels,), norm.weight.double(),
                                                      norm.bias.double(), 1e-6)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = norm(inputs)
            assert y.dtype == torch.bfloat16
            # float32 math, one rounding: within one bfloat16 step (relative 2^-8) of the exact norm
            torch.testing.assert_close(y.double(), expected, rtol=2**-8, atol=1e-6)
        torch.testing.assert_close(norm(x), torch.nn.functional.layer_norm(x, (channels,), norm.weight, norm.bias, 1e-6))
    assert norm(x).dtype == torch.float32 and norm(x).requires_grad  # outside autocast: nn.LayerNorm


@needs_onednn_bf16
def test_raw_layer_norm_kernel_checks_its_arguments():
    from vmamba_zoo import _C

    x, w, b = torch.randn(4, 8), torch.ones(8), torch.zeros(8)
    assert _C.layer_norm_bf16(x, w, b, 1e-5).dtype == torch.bfloat16
    assert _C.layer_norm_bf16(x[:0], w, b, 1e-5).shape == (0, 8)
    cases = [
        ((x.double(), w, b), "x must be float32 or bfloat16, got Double"),
        ((x.t(), w, b), "x must be contiguous"),
        ((x, w[:4], b), r"weight must be \(channels\) = \[8\]"),
        ((x, w, b.bfloat16()), "bias must be Float"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            _C.layer_norm_bf16(*args, 1e-5)
