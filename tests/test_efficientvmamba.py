"""EfficientVMamba: sizes, FLOPs, checkpoint mapping and timm's model contract (tiny inputs)."""

from __future__ import annotations

import pytest
import timm
import torch

import vmamba_zoo
from vmamba_zoo.models.efficientvmamba import EfficientVMamba

VARIANTS = ["efficientvmamba_tiny", "efficientvmamba_small", "efficientvmamba_base"]
# published / official-counter numbers (efficientvmamba.md §10): params, state-dict entries, FLOPs
PUBLISHED = {
    "efficientvmamba_tiny": (6_493_660, 261, 806_431_376),
    "efficientvmamba_small": (11_273_688, 261, 1_342_576_368),
    "efficientvmamba_base": (33_717_136, 371, 3_996_667_872),
}
SMALL = dict(depths=(1, 1, 1, 1))  # reduced depth keeps the contract tests fast


def _small(name: str = "efficientvmamba_tiny", **kwargs) -> EfficientVMamba:
    torch.manual_seed(0)
    return timm.create_model(name, **{**SMALL, **kwargs})


@pytest.mark.parametrize("name", VARIANTS)
def test_parameter_count_and_state_dict_match_the_release(name):
    model = timm.create_model(name)
    params, entries, _ = PUBLISHED[name]
    assert sum(p.numel() for p in model.parameters()) == params
    assert len(model.state_dict()) == entries


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_flops_match_the_official_counter(name):
    flops = vmamba_zoo.count_flops(timm.create_model(name), (3, 224, 224))
    # the only difference: timm's head pools with a mean (0 FLOPs) where the original used
    # AdaptiveAvgPool2d (C3 x 7 x 7 FLOPs)
    assert abs(flops - PUBLISHED[name][2]) / PUBLISHED[name][2] < 1e-4


def test_pretrained_cfgs_name_the_release():
    for name in VARIANTS:
        cfg = timm.create_model(name).pretrained_cfg
        assert cfg["url"].startswith("https://huggingface.co/TerryPei/EfficientVMamba-")
        assert cfg["url"].endswith(".ckpt")
        assert cfg["num_classes"] == 1000 and cfg["input_size"] == (3, 224, 224)
        assert cfg["license"] == "apache-2.0"
        state_dict = timm.create_model(name, **SMALL).state_dict()
        assert f"{cfg['first_conv']}.weight" in state_dict and f"{cfg['classifier']}.weight" in state_dict


@pytest.mark.parametrize("size", [(64, 64), (32, 96)])
def test_forward_shapes_and_features(size):
    model = _small().eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        pre_logits = model.forward_head(features, pre_logits=True)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert features.shape == (2, size[0] // 32, size[1] // 32, 384)  # NHWC, like output_fmt
    assert pre_logits.shape == (2, model.head_hidden_size)


def test_backward_reaches_every_parameter():
    model = _small(num_classes=42, drop_path_rate=0.1).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 42)
    out.sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad}"


def test_drop_path_rate_is_linear_over_blocks():
    model = timm.create_model("efficientvmamba_tiny", drop_path_rate=0.1)
    blocks = [b for stage in model.stages for b in stage.blocks]
    rates = [b.drop_path.drop_prob if hasattr(b.drop_path, "drop_prob") else 0.0 for b in blocks]
    expected = torch.linspace(0, 0.1, 10).tolist()
    assert rates == pytest.approx(expected)


def test_features_only_gives_nchw_maps_at_strides_4_to_32():
    model = timm.create_model("efficientvmamba_tiny", features_only=True, **SMALL).eval()
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 64, 96))
    assert [m.shape for m in maps] == [
        (1, c, 64 // r, 96 // r) for c, r in zip(model.feature_info.channels(), (4, 8, 16, 32))
    ]
    assert model.feature_info.channels() == [48, 96, 192, 384]
    assert model.feature_info.reduction() == [4, 8, 16, 32]


def test_forward_intermediates_agree_with_forward_features():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        final, intermediates = model.forward_intermediates(x)
        only = model.forward_intermediates(x, indices=[1, 2], intermediates_only=True)
        torch.testing.assert_close(final, model.forward_features(x))
    assert [t.shape[1] for t in intermediates] == [48, 96, 192, 384]
    torch.testing.assert_close(only[0], intermediates[1])
    torch.testing.assert_close(only[1], intermediates[2])


def test_grad_checkpointing_gives_the_same_output():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        model.set_grad_checkpointing()
        torch.testing.assert_close(model(x), expected)


def test_reset_classifier():
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    model.reset_classifier(0)
    assert model(x).shape == (1, 384)
    model.reset_classifier(0, "")
    assert model(x).shape == (1, 2, 2, 384)
    model.reset_classifier(7, "avg")
    assert model(x).shape == (1, 7)


@pytest.mark.parametrize("in_chans", [1, 4])
def test_in_chans(in_chans):
    model = _small(in_chans=in_chans).eval()
    assert model(torch.randn(1, in_chans, 32, 32)).shape == (1, 1000)


def test_pretrained_loading_adapts_in_chans_and_drops_a_new_head(tmp_path):
    source = _small()
    path = tmp_path / "ours.pth"
    torch.save(source.state_dict(), path)
    overlay = dict(file=str(path))
    model = timm.create_model("efficientvmamba_tiny", pretrained=True, pretrained_cfg_overlay=overlay, **SMALL)
    torch.testing.assert_close(model.state_dict(), source.state_dict())
    one = timm.create_model(
        "efficientvmamba_tiny", pretrained=True, pretrained_cfg_overlay=overlay, in_chans=1, num_classes=5, **SMALL
    )
    torch.testing.assert_close(one.stem.conv.weight, source.stem.conv.weight.sum(1, keepdim=True))
    torch.testing.assert_close(one.stages[2].blocks[0].conv_pw.weight, source.stages[2].blocks[0].conv_pw.weight)
    assert one.head.fc.out_features == 5


@pytest.mark.parametrize(
    "shape, message",
    [((1, 3, 64), "4-D"), ((1, 4, 64, 64), "in_chans=3"), ((1, 3, 48, 64), "divisible by 32")],
)
def test_bad_input_is_a_clear_error(shape, message):
    model = _small().eval()
    with pytest.raises(ValueError, match=message):
        model(torch.randn(*shape))
    with pytest.raises(ValueError, match=message):
        model.forward_intermediates(torch.randn(*shape))


def test_torch_backend_matches_the_default(monkeypatch):
    model = _small().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "torch")
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)


def test_mismatched_dims_and_depths_are_rejected():
    with pytest.raises(ValueError, match="same length"):
        EfficientVMamba(dims=(48, 96), depths=(2, 2, 4, 2))
