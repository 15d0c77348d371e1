"""timm's model contract on every VMamba variant (in the style of timm's tests/test_models.py),
the published parameter / FLOP counts, and the model-boundary input checks."""

from __future__ import annotations

import pytest
import timm
import torch

import vmamba_zoo
from vmamba_zoo.models.vmamba import VMamba

VARIANTS = (
    "vmamba_tiny_v0", "vmamba_small_v0", "vmamba_base_v0",
    "vmamba_tiny_s2l5", "vmamba_small_s2l15", "vmamba_base_s2l15",
    "vmamba_tiny_s1l8", "vmamba_small_s1l20", "vmamba_base_s1l20",
)
ALIASES = {"vmamba_tiny": "vmamba_tiny_s1l8", "vmamba_small": "vmamba_small_s2l15", "vmamba_base": "vmamba_base_s2l15"}
# vmamba.md §9: parameters and GFLOPs (fvcore, 224x224, with head) of the official models
PUBLISHED = {
    "vmamba_tiny_v0": (22_893_448, 5.626895),
    "vmamba_small_v0": (44_417_416, 11.231523),
    "vmamba_base_v0": (76_254_056, 18.020115),
    "vmamba_tiny_s2l5": (30_705_832, 4.857742),
    "vmamba_small_s2l15": (50_147_752, 8.715775),
    "vmamba_base_s2l15": (88_557_800, 15.358944),
    "vmamba_tiny_s1l8": (30_249_064, 4.905610),
    "vmamba_small_s1l20": (49_012_840, 8.612211),
    "vmamba_base_s1l20": (86_614_504, 15.220860),
}
SMALL_INPUT = (2, 3, 32, 64)  # the smallest non-square size the stride-32 models accept


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered_names():
    assert set(timm.list_models("vmamba*")) >= set(VARIANTS) | set(ALIASES)
    assert set(VARIANTS) | set(ALIASES) <= set(timm.list_models(module="vmamba"))


@pytest.mark.parametrize("name", VARIANTS)
def test_param_count_matches_paper(name):
    assert _num_params(timm.create_model(name)) == PUBLISHED[name][0]


@pytest.mark.parametrize("alias,target", ALIASES.items())
def test_aliases_are_the_papers_finals(alias, target):
    model, reference = timm.create_model(alias), timm.create_model(target)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    assert model.pretrained_cfg["url"] == reference.pretrained_cfg["url"]


@pytest.mark.parametrize("name", VARIANTS + tuple(ALIASES))
def test_pretrained_cfg(name):
    cfg = timm.create_model(name).pretrained_cfg
    assert cfg["url"].startswith("https://github.com/MzeroMiko/VMamba/releases/download/")
    assert cfg["url"].endswith(".pth")
    assert cfg["license"] == "mit" and cfg["num_classes"] == 1000
    assert cfg["input_size"] == (3, 224, 224) and cfg["crop_pct"] == 0.875
    assert cfg["interpolation"] == "bicubic"
    state = timm.create_model(name).state_dict()
    assert cfg["first_conv"] + ".weight" in state and cfg["classifier"] + ".weight" in state


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_flops_match_paper(name):
    flops = vmamba_zoo.count_flops(timm.create_model(name), (3, 224, 224))
    published = PUBLISHED[name][1] * 1e9
    assert abs(flops - published) / published < 0.005, f"{name}: {flops / 1e9:.6f} vs {published / 1e9:.6f} GFLOPs"


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_backward(name):
    model = timm.create_model(name, num_classes=42, drop_path_rate=0.1).train()
    out = model(torch.randn(SMALL_INPUT))
    assert out.shape == (SMALL_INPUT[0], 42) and torch.isfinite(out).all()
    out.mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"


@pytest.mark.parametrize("name", VARIANTS)
def test_eval_contract(name):
    model = timm.create_model(name).eval()
    x = torch.randn(SMALL_INPUT)
    batch, _, H, W = x.shape
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        assert features.shape == (batch, H // 32, W // 32, model.num_features)  # output_fmt NHWC
        assert model.output_fmt == "NHWC"
        pre_logits = model.forward_head(features, pre_logits=True)
        assert pre_logits.shape == (batch, model.head_hidden_size)
        torch.testing.assert_close(model.forward_head(features), logits)

        final, intermediates = model.forward_intermediates(x)
        torch.testing.assert_close(final, features)
        assert len(intermediates) == len(model.feature_info) == 4
        for feat, info in zip(intermediates, model.feature_info):
            assert feat.shape == (batch, info["num_chs"], H // info["reduction"], W // info["reduction"])
        assert [info["reduction"] for info in model.feature_info] == [4, 8, 16, 32]
        only = model.forward_intermediates(x, indices=[0, 2], intermediates_only=True, stop_early=True)
        assert len(only) == 2
        torch.testing.assert_close(only[1], intermediates[2])
        nhwc = model.forward_intermediates(x, indices=1, output_fmt="NHWC", intermediates_only=True)
        torch.testing.assert_close(nhwc[0].permute(0, 3, 1, 2), intermediates[3])

        model.set_grad_checkpointing(True)
        torch.testing.assert_close(model(x), logits)
        model.set_grad_checkpointing(False)

        model.reset_classifier(0)
        assert model(x).shape == (batch, model.num_features)
        model.reset_classifier(0, "")
        assert model(x).shape == (batch, H // 32, W // 32, model.num_features)
        model.reset_classifier(17, "avg")
        assert model(x).shape == (batch, 17) and model.get_classifier().out_features == 17


@pytest.mark.parametrize("name", VARIANTS)
def test_features_only(name):
    model = timm.create_model(name, features_only=True).eval()
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        features = model(x)
    assert [f.shape for f in features] == [
        (x.shape[0], c, x.shape[2] // r, x.shape[3] // r)
        for c, r in zip(model.feature_info.channels(), model.feature_info.reduction())
    ]
    assert all(f.is_contiguous() for f in features)  # NCHW, ready for FPN / UPerNet
    subset = timm.create_model(name, features_only=True, out_indices=(1, 2)).eval()
    assert subset.feature_info.channels() == model.feature_info.channels()[1:3]
    assert len(subset.model.stages) == 3  # the unused last stage is pruned


def test_grad_checkpointing_backward():
    model = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 2, 1), num_classes=5).train()
    x = torch.randn(SMALL_INPUT)
    torch.manual_seed(0)
    model(x).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    torch.manual_seed(0)
    model(x).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-5, msg=n)


@pytest.mark.parametrize("name", ("vmamba_tiny_v0", "vmamba_tiny_s1l8"))
@pytest.mark.parametrize("in_chans", (1, 4))
def test_in_chans_and_num_classes(name, in_chans):
    model = timm.create_model(name, in_chans=in_chans, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, in_chans, 64, 32)).shape == (1, 3)


@pytest.mark.parametrize("size", ((32, 32), (64, 96), (96, 64), (160, 32)))
def test_any_size_divisible_by_32(size):
    model = timm.create_model("vmamba_tiny_s2l5", depths=(1, 1, 1, 1)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 1000)


def test_drop_path_rate():
    model = timm.create_model("vmamba_small_s1l20", drop_path_rate=0.3)
    rates = [b.drop_path.drop_prob for s in model.stages for b in s.blocks if hasattr(b.drop_path, "drop_prob")]
    assert rates[-1] == pytest.approx(0.3) and rates == sorted(rates) and len(rates) == sum((2, 2, 20, 2)) - 1
    assert not any(hasattr(b.drop_path, "drop_prob") for s in timm.create_model("vmamba_tiny").stages for b in s.blocks)


@pytest.mark.parametrize(
    "shape,message",
    [
        ((1, 4, 64, 64), "in_chans=3"),
        ((1, 3, 64, 48), "divisible by 32"),
        ((1, 3, 50, 64), "divisible by 32"),
        ((3, 64, 64), "4-D"),
        ((1, 1, 3, 64, 64), "4-D"),
    ],
)
def test_bad_input_is_a_clear_error(shape, message):
    model = timm.create_model("vmamba_tiny_v0", depths=(1, 1, 1, 1)).eval()
    features = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1), features_only=True).eval()
    for call in (model, model.forward_features, features, model.forward_intermediates):
        with pytest.raises(ValueError, match=message):
            call(torch.randn(shape))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="stem"):
        VMamba(stem="hexagonal")
    with pytest.raises(ValueError, match="downsample"):
        VMamba(downsample="pool")
    with pytest.raises(ValueError, match="same length"):
        VMamba(depths=(1, 1), dims=(8, 16, 32))


def test_own_state_dict_round_trip(tmp_path):
    model = timm.create_model("vmamba_tiny_s2l5", depths=(1, 1, 2, 1)).eval()
    path = tmp_path / "ours.pth"
    torch.save(model.state_dict(), path)
    loaded = timm.create_model(
        "vmamba_tiny_s2l5", depths=(1, 1, 2, 1), pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", ("vmamba_tiny_v0", "vmamba_tiny_s1l8"))
def test_torch_backend_matches_default(name, monkeypatch):
    model = timm.create_model(name, depths=(1, 1, 2, 1)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        default = model(x)
        monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "torch")
        reference = model(x)
    torch.testing.assert_close(default, reference, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_close_to_float32():
    model = timm.create_model("vmamba_tiny").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.dtype == torch.bfloat16
    error = (low.float() - reference).abs().max() / reference.abs().max()
    assert error < 0.05, f"bf16 autocast relative error {error:.3g}"


@pytest.mark.slow
def test_torch_compile_matches_eager():
    model = timm.create_model("vmamba_tiny").eval()
    x = torch.randn(1, 3, 64, 64)
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-3, atol=1e-4)
