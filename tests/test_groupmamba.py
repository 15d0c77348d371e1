"""timm's model contract on every GroupMamba variant (in the style of timm's tests/test_models.py),
the published parameter / FLOP counts, the distillation head and the model-boundary input checks.

The official-logits comparison lives in test_groupmamba_official.py."""

from __future__ import annotations

import pytest
import timm
import torch

import vmamba_zoo
from vmamba_zoo.models.groupmamba import GroupMamba, GroupMambaLayer

VARIANTS = ("groupmamba_tiny", "groupmamba_small", "groupmamba_base")
# groupmamba.md §11: parameters, state-dict entries and fvcore GFLOPs (224², eval) of the official models
PUBLISHED = {
    "groupmamba_tiny": (23_361_917, 1266, 4.705847116),
    "groupmamba_small": (34_781_555, 1693, 7.280967832),
    "groupmamba_base": (57_150_838, 2120, 14.186455816),
}
SHALLOW = dict(depths=(1, 1, 1, 1))  # the variants' widths with one block per stage, for speed
SMALL_INPUT = (2, 3, 32, 64)


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered_names():
    assert set(VARIANTS) <= set(timm.list_models(module="groupmamba"))


@pytest.mark.parametrize("name", VARIANTS)
def test_param_count_matches_paper(name):
    model = timm.create_model(name)
    assert _num_params(model) == PUBLISHED[name][0]
    assert len(model.state_dict()) == PUBLISHED[name][1]


@pytest.mark.parametrize("name", VARIANTS)
def test_pretrained_cfg(name):
    model = timm.create_model(name, **SHALLOW)
    cfg = model.pretrained_cfg
    assert cfg["url"].startswith("https://huggingface.co/Abdelrahman-shaker/GroupMamba-")
    assert cfg["url"].endswith("_ema.pth")
    assert cfg["license"] == "mit" and cfg["num_classes"] == 1000 and cfg["paper_ids"] == "arXiv:2407.13772"
    assert cfg["input_size"] == (3, 224, 224) and cfg["crop_pct"] == 0.875 and cfg["interpolation"] == "bicubic"
    state = model.state_dict()
    assert cfg["first_conv"] + ".weight" in state
    assert all(c + ".weight" in state for c in cfg["classifier"])


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_flops_match_official_count(name):
    flops = vmamba_zoo.count_flops(timm.create_model(name), (3, 224, 224))
    reference = PUBLISHED[name][2] * 1e9
    assert abs(flops - reference) / reference < 0.005, f"{name}: {flops / 1e9:.6f} vs {reference / 1e9:.6f}"


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_backward(name):
    model = timm.create_model(name, num_classes=42, drop_path_rate=0.1, **SHALLOW).train()
    out = model(torch.randn(SMALL_INPUT))
    assert out.shape == (SMALL_INPUT[0], 42) and torch.isfinite(out).all()
    out.mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"


@pytest.mark.parametrize("name", VARIANTS)
def test_eval_contract(name):
    model = timm.create_model(name, **SHALLOW).eval()
    x = torch.randn(SMALL_INPUT)
    batch, _, H, W = x.shape
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        assert model.output_fmt == "NHWC"
        assert features.shape == (batch, H // 32, W // 32, model.num_features)
        pre_logits = model.forward_head(features, pre_logits=True)
        assert pre_logits.shape == (batch, model.head_hidden_size)
        torch.testing.assert_close(model.forward_head(features), logits)

        final, intermediates = model.forward_intermediates(x)
        torch.testing.assert_close(final, features)
        assert len(intermediates) == len(model.feature_info) == 4
        assert [info["reduction"] for info in model.feature_info] == [4, 8, 16, 32]
        for feat, info in zip(intermediates, model.feature_info):
            assert feat.shape == (batch, info["num_chs"], H // info["reduction"], W // info["reduction"])
        only = model.forward_intermediates(x, indices=[0, 2], intermediates_only=True, stop_early=True)
        assert len(only) == 2
        torch.testing.assert_close(only[1], intermediates[2])
        nhwc = model.forward_intermediates(x, indices=1, output_fmt="NHWC", intermediates_only=True)
        torch.testing.assert_close(nhwc[0].permute(0, 3, 1, 2), intermediates[3])
        normed = model.forward_intermediates(x, indices=1, norm=True, intermediates_only=True)
        torch.testing.assert_close(normed[0], model.head.norm(features).permute(0, 3, 1, 2))

        model.set_grad_checkpointing(True)
        torch.testing.assert_close(model(x), logits)
        model.set_grad_checkpointing(False)

        model.reset_classifier(0)
        torch.testing.assert_close(model(x), pre_logits)
        model.reset_classifier(0, "")
        assert model(x).shape == (batch, H // 32, W // 32, model.num_features)
        model.reset_classifier(17, "avg")
        assert model(x).shape == (batch, 17) and model.get_classifier().out_features == 17


@pytest.mark.parametrize("name", VARIANTS)
def test_features_only(name):
    torch.manual_seed(0)
    model = timm.create_model(name, features_only=True, **SHALLOW).eval()
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        features = model(x)
    assert [f.shape for f in features] == [
        (x.shape[0], c, x.shape[2] // r, x.shape[3] // r)
        for c, r in zip(model.feature_info.channels(), model.feature_info.reduction())
    ]
    assert all(f.is_contiguous() for f in features)
    torch.manual_seed(0)  # the same weights
    subset = timm.create_model(name, features_only=True, out_indices=(0, 2), **SHALLOW).eval()
    assert subset.feature_info.channels() == [model.feature_info.channels()[i] for i in (0, 2)]
    assert len(subset.model.stages) == 3
    with torch.no_grad():
        torch.testing.assert_close(subset(x)[1], features[2])
    # every remaining parameter is used (DDP would fail on unused ones)
    for net in (model, subset):
        sum(f.mean() for f in net.train()(x)).backward()
        assert not [n for n, p in net.named_parameters() if p.grad is None]


def test_distillation_heads():
    """Eval (and train by default) returns the mean of both heads; distilled training the pair."""
    model = timm.create_model("groupmamba_tiny", **SHALLOW).eval()
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        pre_logits = model.forward_head(model.forward_features(x), pre_logits=True)
        expected = (model.head.fc(pre_logits) + model.head.fc_dist(pre_logits)) / 2
        torch.testing.assert_close(model(x), expected)
        model.set_distilled_training(True)
        torch.testing.assert_close(model(x), expected)  # eval mode: still the mean
        model.train()
        logits, logits_dist = model(x)
        assert logits.shape == logits_dist.shape == (x.shape[0], 1000)
        model.set_distilled_training(False)
        assert isinstance(model(x), torch.Tensor)


def test_grouped_scan_equals_four_separate_group_scans():
    """The one grouped computation equals each group's SS2D run on its own channels and route."""
    torch.manual_seed(0)
    layer = GroupMambaLayer(32).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
        x = torch.randn(2, 4, 6, 32)  # non-square map
        grouped = layer._grouped_ssm(x)
        separate = []
        for k, (group, mode) in enumerate(zip(layer._groups(), ("row", "col", "row_flip", "col_flip"))):
            xg, z = group.in_proj(x[..., 8 * k:8 * (k + 1)]).chunk(2, dim=-1)
            xg = torch.nn.functional.silu(group.conv2d(xg.permute(0, 3, 1, 2)))
            y = group.out_norm(group.scan_map(xg.permute(0, 2, 3, 1), mode))
            separate.append(group.out_proj(y * torch.nn.functional.silu(z)))
    torch.testing.assert_close(grouped, torch.cat(separate, dim=-1), rtol=1e-5, atol=1e-6)


def test_grad_checkpointing_backward():
    model = timm.create_model("groupmamba_tiny", depths=(1, 2, 1, 1), num_classes=5).train()
    x = torch.randn(SMALL_INPUT)
    model(x).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-5, msg=n)


@pytest.mark.parametrize("in_chans", (1, 4))
def test_in_chans_and_num_classes(in_chans, tmp_path):
    source = timm.create_model("groupmamba_tiny", **SHALLOW)
    path = tmp_path / "ours.pth"
    torch.save(source.state_dict(), path)
    model = timm.create_model(
        "groupmamba_tiny", in_chans=in_chans, num_classes=3, pretrained=True,
        pretrained_cfg_overlay=dict(file=str(path)), **SHALLOW,
    ).eval()
    assert model.stem.conv[0].weight.shape[1] == in_chans
    with torch.no_grad():
        assert model(torch.randn(1, in_chans, 64, 32)).shape == (1, 3)


@pytest.mark.parametrize("size", ((32, 32), (64, 96), (96, 64), (160, 32)))
def test_any_size_divisible_by_32(size):
    model = timm.create_model("groupmamba_small", **SHALLOW).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 1000)


def test_drop_path_rate():
    model = timm.create_model("groupmamba_tiny", drop_path_rate=0.05)
    rates = [b.drop_path.drop_prob for s in model.stages for b in s.blocks if hasattr(b.drop_path, "drop_prob")]
    assert rates[-1] == pytest.approx(0.05) and rates == sorted(rates) and len(rates) == sum((3, 4, 9, 3)) - 1


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
    model = timm.create_model("groupmamba_tiny", **SHALLOW).eval()
    features = timm.create_model("groupmamba_tiny", features_only=True, **SHALLOW).eval()
    for call in (model, model.forward_features, features, model.forward_intermediates):
        with pytest.raises(ValueError, match=message):
            call(torch.randn(shape))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible by 4"):
        GroupMamba(embed_dims=(64, 128, 346, 448))
    with pytest.raises(ValueError, match="same length"):
        GroupMamba(depths=(1, 1), embed_dims=(8, 16, 32))
    with pytest.raises(ValueError, match="global_pool"):
        GroupMamba(global_pool="max", **SHALLOW)


def test_own_state_dict_round_trip(tmp_path):
    model = timm.create_model("groupmamba_tiny", **SHALLOW).eval()
    path = tmp_path / "ours.pth"
    torch.save(model.state_dict(), path)
    loaded = timm.create_model(
        "groupmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **SHALLOW
    ).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_torch_backend_matches_default(monkeypatch):
    model = timm.create_model("groupmamba_tiny", **SHALLOW).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        default = model(x)
        monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "torch")
        reference = model(x)
    torch.testing.assert_close(default, reference, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_close_to_float32():
    model = timm.create_model("groupmamba_tiny", **SHALLOW).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    error = (low.float() - reference).abs().max() / reference.abs().max()
    assert error < 0.05, f"bf16 autocast relative error {error:.3g}"
