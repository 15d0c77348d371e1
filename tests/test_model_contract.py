"""timm's model contract on every registered zoo model (in the style of timm's tests/test_models.py).

Most checks build each model with one block per stage (its real widths, stems, downsamplings and
heads): what the contract checks does not depend on depth. The full models are built for the
parameter counts (and, in ``slow``, the FLOP counts) of the published table. What one family does
differently is tested in its own file (tests/test_<family>.py); the comparison with the authors'
code is tests/test_fidelity.py.
"""

from __future__ import annotations

import pytest
import timm
import torch
from timm.models import adapt_input_conv

import vmamba_zoo
from fidelity import Fixture
from vmamba_zoo import published
from vmamba_zoo.checkpoint import CheckpointMismatchError

MODELS = sorted(published.MODELS)  # the released variants; aliases are checked against their targets
SHALLOW = dict(depths=(1, 1, 1, 1))
SMALL_INPUT = (2, 3, 32, 64)  # the smallest non-square size the stride-32 models accept


def _shallow(name: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(name, **{**SHALLOW, **kwargs})


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _unused_parameters(model: torch.nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]


def test_registered_names():
    registered = set(timm.list_models(module=list(published.FAMILIES)))
    assert registered == set(published.MODELS) | set(published.ALIASES)


@pytest.mark.parametrize("alias,target", published.ALIASES.items())
def test_aliases_are_the_papers_finals(alias, target):
    model, reference = timm.create_model(alias, **SHALLOW), timm.create_model(target, **SHALLOW)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert model.pretrained_cfg["url"] == reference.pretrained_cfg["url"]
    assert _num_params(timm.create_model(alias)) == published.MODELS[target].reference_params


@pytest.mark.parametrize("name", MODELS)
def test_param_count_matches_published(name):
    assert _num_params(timm.create_model(name)) == published.MODELS[name].reference_params


# relative distance allowed between our count and the authors' (fvcore on their code): their
# AdaptiveAvgPool2d counts one FLOP per pooled element where timm's mean pooling counts none, and
# fvcore rounds their einsums to 4 significant digits
FLOPS_RTOL = 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_flops_match_published(name):
    """fvcore at 224², counted the way the authors count (Spatial-Mamba: on the training-mode model)."""
    fixture = Fixture.load(name)
    flops = vmamba_zoo.count_flops(timm.create_model(name), (3, 224, 224), train_mode=fixture.flops_train_mode)
    reference = published.MODELS[name].reference_gflops * 1e9
    assert abs(flops - reference) / reference < FLOPS_RTOL, (
        f"{name}: {flops / 1e9:.6f} vs {reference / 1e9:.6f} GFLOPs"
    )


@pytest.mark.parametrize("name", MODELS + list(published.ALIASES))
def test_pretrained_cfg(name):
    model = _shallow(name)
    cfg = model.pretrained_cfg
    assert cfg["url"].startswith("https://") and cfg["license"]
    assert cfg["num_classes"] == model.num_classes
    assert cfg["input_size"] == (3, 224, 224) and cfg["crop_pct"] == 0.875 and cfg["interpolation"] == "bicubic"
    state = model.state_dict()
    assert cfg["first_conv"] + ".weight" in state
    classifiers = (cfg["classifier"],) if isinstance(cfg["classifier"], str) else cfg["classifier"]
    assert all(c + ".weight" in state for c in classifiers)


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward(name):
    model = _shallow(name, num_classes=42, drop_path_rate=0.1).train()
    out = model(torch.randn(SMALL_INPUT))
    assert out.shape == (SMALL_INPUT[0], 42) and torch.isfinite(out).all()
    out.mean().backward()
    assert not _unused_parameters(model), f"parameters without gradient: {_unused_parameters(model)[:5]}"


@pytest.mark.parametrize("name", MODELS)
def test_eval_contract(name):
    model = _shallow(name).eval()
    x = torch.randn(SMALL_INPUT)
    batch, _, H, W = x.shape
    with torch.no_grad():
        logits = model(x)
        assert logits.shape == (batch, model.num_classes) and torch.isfinite(logits).all()
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
        assert normed[0].shape == intermediates[3].shape
        with pytest.raises(ValueError, match="output_fmt"):
            model.forward_intermediates(x, output_fmt="NLC")

        model.set_grad_checkpointing(True)
        torch.testing.assert_close(model(x), logits)
        model.set_grad_checkpointing(False)

        model.reset_classifier(0)
        torch.testing.assert_close(model(x), pre_logits)
        model.reset_classifier(0, "")
        assert model(x).shape == (batch, H // 32, W // 32, model.num_features)
        model.reset_classifier(17, "avg")
        assert model(x).shape == (batch, 17) and model.get_classifier().out_features == 17


@pytest.mark.parametrize("name", MODELS)
def test_features_only(name):
    model = _shallow(name, features_only=True).eval()
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        features = model(x)
        # the stage outputs of the classifier with the same weights (Res-VMamba: its skip path too)
        expected = _shallow(name).eval().forward_intermediates(x, intermediates_only=True)
    assert [f.shape for f in features] == [
        (x.shape[0], c, x.shape[2] // r, x.shape[3] // r)
        for c, r in zip(model.feature_info.channels(), model.feature_info.reduction())
    ]
    assert all(f.is_contiguous() for f in features)  # NCHW, ready for FPN / UPerNet
    for a, b in zip(features, expected):
        torch.testing.assert_close(a, b)
    subset = _shallow(name, features_only=True, out_indices=(0, 2)).eval()
    assert subset.feature_info.channels() == [model.feature_info.channels()[i] for i in (0, 2)]
    assert len(subset.model.stages) == 3  # the unused last stage is pruned
    with torch.no_grad():
        torch.testing.assert_close(subset(x)[1], features[2])
    # every remaining parameter is used (DDP would fail on unused ones)
    for net in (model, subset):
        sum(f.mean() for f in net.train()(x)).backward()
        assert not _unused_parameters(net), _unused_parameters(net)[:5]


@pytest.mark.parametrize("name", MODELS)
def test_prune_intermediate_layers(name):
    model = _shallow(name).eval()
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        expected = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
        assert model.prune_intermediate_layers([0, 1]) == [0, 1]
        assert len(model.stages) == 2 and model.num_classes == 0
        actual = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
    for a, b in zip(actual, expected):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_grad_checkpointing_backward(name):
    model = _shallow(name, depths=(1, 2, 1, 1), num_classes=5, drop_path_rate=0.0).train()
    x = torch.randn(SMALL_INPUT)
    model(x).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-5, msg=n)


@pytest.mark.parametrize("name", MODELS)
def test_in_chans_num_classes_and_pretrained_adaptation(name, tmp_path):
    source = _shallow(name)
    state = source.state_dict()
    path = tmp_path / "ours.pth"
    torch.save(state, path)
    first_conv = source.pretrained_cfg["first_conv"]
    for in_chans in (1, 4):
        model = _shallow(
            name, in_chans=in_chans, num_classes=3, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
        ).eval()
        weight = source.get_submodule(first_conv).weight
        torch.testing.assert_close(model.get_submodule(first_conv).weight, adapt_input_conv(in_chans, weight))
        assert model.get_classifier().out_features == 3  # a new task keeps its fresh head
        kept = {k: v for k, v in model.state_dict().items() if k in state and v.shape == state[k].shape}
        assert set(state) - set(kept) <= {f"{first_conv}.weight"} | {k for k in state if k.startswith("head.")}
        torch.testing.assert_close(kept, {k: state[k] for k in kept})
        with torch.no_grad():
            assert model(torch.randn(1, in_chans, 64, 32)).shape == (1, 3)


@pytest.mark.parametrize("name", MODELS)
def test_any_size_divisible_by_32(name):
    model = _shallow(name).eval()
    with torch.no_grad():
        for size in ((32, 32), (64, 96), (96, 64), (160, 32)):
            assert model(torch.randn(1, 3, *size)).shape == (1, model.num_classes)


@pytest.mark.parametrize("name", MODELS)
def test_bad_input_is_a_clear_error(name):
    model = _shallow(name).eval()
    features = _shallow(name, features_only=True).eval()
    cases = [
        ((1, 4, 64, 64), "in_chans=3"),
        ((1, 3, 64, 48), "divisible by 32"),
        ((1, 3, 50, 64), "divisible by 32"),
        ((3, 64, 64), "4-D"),
        ((1, 1, 3, 64, 64), "4-D"),
    ]
    for shape, message in cases:
        for call in (model, model.forward_features, features, model.forward_intermediates):
            with pytest.raises(ValueError, match=message):
                call(torch.randn(shape))


@pytest.mark.parametrize("name", MODELS)
def test_own_checkpoint_round_trip_and_mismatch(name, tmp_path):
    model = _shallow(name).eval()
    state = model.state_dict()
    path = tmp_path / "ours.pth"
    torch.save(state, path)
    loaded = _shallow(name, seed=1, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)

    missing = next(k for k in state if k.startswith("stages.1."))
    misshaped = next(k for k, v in state.items() if k.startswith("stages.2.") and v.dim() >= 2)
    bad = dict(state)
    del bad[missing]
    bad["stages.0.extra.weight"] = torch.zeros(3)
    bad[misshaped] = torch.zeros(7, *state[misshaped].shape[1:])
    torch.save(bad, path)
    with pytest.raises(CheckpointMismatchError) as info:
        _shallow(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    message = str(info.value)
    assert f"missing keys (1): {missing}" in message
    assert "unexpected keys (1): stages.0.extra.weight" in message
    assert f"{misshaped} (checkpoint {(7, *state[misshaped].shape[1:])}" in message


@pytest.mark.parametrize("name", MODELS)
def test_drop_path_rate_is_linear_over_blocks(name):
    depths = (1, 2, 3, 1)
    model = _shallow(name, depths=depths, drop_path_rate=0.3)
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for s in model.stages for b in s.blocks]
    assert rates == pytest.approx(torch.linspace(0, 0.3, sum(depths)).tolist())
    assert not any(hasattr(b.drop_path, "drop_prob") for s in _shallow(name, drop_path_rate=0.0).stages for b in s.blocks)


@pytest.mark.parametrize("name", MODELS)
def test_torch_backend_matches_default(name, monkeypatch):
    model = _shallow(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        default = model(x)
        monkeypatch.setenv("VMAMBA_ZOO_BACKEND", "torch")
        reference = model(x)
    torch.testing.assert_close(default, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast_close_to_float32(name):
    model = _shallow(name).eval()
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
