"""Res-VMamba: sizes, FLOPs, the skip projections' contract and timm's model contract."""

from __future__ import annotations

import pytest
import timm
import torch

import vmamba_zoo
from vmamba_zoo.models.resvmamba import ResVMamba

SMALL = dict(depths=(1, 1, 1, 1))  # reduced depth keeps the contract tests fast
PROJECTION_SHAPES = [((192, 96, 1, 1), (192,)), ((384, 192, 1, 1), (384,)), ((768, 384, 1, 1), (768,))]


def _small(**kwargs) -> ResVMamba:
    torch.manual_seed(0)
    return timm.create_model("resvmamba_small", **{**SMALL, **kwargs})


def test_parameter_count_and_state_dict_match_the_release():
    model = timm.create_model("resvmamba_small")
    assert model.num_classes == 241
    assert sum(p.numel() for p in model.parameters()) == 43_833_745  # projections excluded
    assert len(model.state_dict()) == 446
    assert not any("residual_projections" in k for k in model.state_dict())
    assert [(tuple(p.weight.shape), tuple(p.bias.shape)) for p in model.residual_projections] == PROJECTION_SHAPES


@pytest.mark.slow
def test_flops_match_the_official_counter():
    flops = vmamba_zoo.count_flops(timm.create_model("resvmamba_small"), (3, 224, 224))
    assert abs(flops - 11_274_291_936) / 11_274_291_936 < 1e-4  # projections counted


def test_pretrained_cfg_names_the_release():
    cfg = timm.create_model("resvmamba_small", **SMALL).pretrained_cfg
    assert cfg["url"] == "https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth"
    assert cfg["num_classes"] == 241
    state_dict = timm.create_model("resvmamba_small", **SMALL).state_dict()
    assert f"{cfg['first_conv']}.weight" in state_dict and f"{cfg['classifier']}.weight" in state_dict


def test_fixed_projections_are_deterministic_and_follow_the_model():
    a, b = _small(), _small()
    for pa, pb in zip(a.residual_projections, b.residual_projections):
        torch.testing.assert_close(pa.weight, pb.weight, rtol=0, atol=0)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), a(x), rtol=0, atol=0)
        a.double()
    assert a.residual_projections[0].weight.dtype == torch.float64


def test_set_residual_projections_pins_them_and_checks_shapes():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    zeros = [(torch.zeros(w), torch.zeros(b)) for w, b in PROJECTION_SHAPES]
    model.set_residual_projections(zeros)
    plain = timm.create_model("vmamba_small_v0", num_classes=241, **SMALL).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():  # zero skips: Res-VMamba reduces to Vanilla VMamba
        torch.testing.assert_close(model(x), plain(x))
    with pytest.raises(ValueError, match="residual projection 1"):
        model.set_residual_projections([zeros[0], zeros[0], zeros[2]])
    with pytest.raises(ValueError, match="3 \\(weight, bias\\) pairs"):
        model.set_residual_projections(zeros[:2])


def test_per_call_random_projections_redraw_on_every_call():
    model = _small(per_call_random_projections=True).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.manual_seed(5)
        first = model(x)
        torch.manual_seed(5)
        again = model(x)
        different = model(x)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.allclose(first, different)


@pytest.mark.parametrize("size", [(64, 64), (32, 96)])
def test_forward_shapes(size):
    model = _small().eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
    assert logits.shape == (2, 241) and torch.isfinite(logits).all()
    assert features.shape == (2, size[0] // 32, size[1] // 32, 768)
    assert model.forward_head(features, pre_logits=True).shape == (2, 768)


def test_backward_reaches_every_parameter():
    model = _small(num_classes=42, drop_path_rate=0.3).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 42)
    out.sum().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def test_features_only_and_intermediates_include_the_residual_path():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        final, intermediates = model.forward_intermediates(x)
        torch.testing.assert_close(final, model.forward_features(x))
        maps = _small(features_only=True).eval()(x)  # same seed, same weights
    assert [m.shape for m in maps] == [(1, 96, 16, 24), (1, 192, 8, 12), (1, 384, 4, 6), (1, 768, 2, 3)]
    for a, b in zip(maps, intermediates):
        torch.testing.assert_close(a, b)


def test_prune_keeps_the_needed_skips():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
        model.prune_intermediate_layers([0, 1])
        assert len(model.stages) == 2 and len(model.residual_projections) == 1
        actual = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
    for a, b in zip(actual, expected):
        torch.testing.assert_close(a, b)


def test_grad_checkpointing_gives_the_same_output():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        model.set_grad_checkpointing()
        torch.testing.assert_close(model(x), expected)


def test_reset_classifier_and_in_chans():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    model.reset_classifier(0)
    assert model(x).shape == (1, 768)
    model.reset_classifier(0, "")
    assert model(x).shape == (1, 2, 2, 768)
    one = _small(in_chans=1).eval()
    assert one(torch.randn(1, 1, 32, 32)).shape == (1, 241)


@pytest.mark.parametrize(
    "shape, message",
    [((3, 64, 64), "4-D"), ((1, 1, 64, 64), "in_chans=3"), ((1, 3, 64, 80), "divisible by 32")],
)
def test_bad_input_is_a_clear_error(shape, message):
    with pytest.raises(ValueError, match=message):
        _small().eval()(torch.randn(*shape))


def test_torch_backend_matches_the_default(monkeypatch):
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "torch")
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)


def test_head_rows_beyond_241_are_dropped_only_from_a_1000_row_head(tmp_path):
    source = _small(num_classes=1000)
    path = tmp_path / "ckpt.pth"
    torch.save({"model": source.state_dict()}, path)
    model = timm.create_model("resvmamba_small", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **SMALL)
    torch.testing.assert_close(model.head.fc.weight, source.head.fc.weight[:241])
    torch.testing.assert_close(model.head.fc.bias, source.head.fc.bias[:241])
