"""What only VMamba does: its releases' configs, its constructor checks, and the older checkpoint
layouts its own loader accepts. The contract every model keeps is tests/test_model_contract.py;
the comparison with the authors' code tests/test_fidelity.py."""

from __future__ import annotations

import pytest
import timm
import torch

from vmamba_zoo import published
from vmamba_zoo.models.vmamba import VMamba

VARIANTS = [name for name in published.MODELS if published.MODELS[name].family == "vmamba"]


@pytest.mark.parametrize("name", VARIANTS + list(published.ALIASES))
def test_pretrained_cfg_names_the_release(name):
    cfg = timm.create_model(name, depths=(1, 1, 1, 1)).pretrained_cfg
    assert cfg["url"].startswith("https://github.com/MzeroMiko/VMamba/releases/download/")
    assert cfg["url"].endswith(".pth")
    assert cfg["license"] == "mit" and cfg["num_classes"] == 1000


def test_no_drop_path_by_default():
    model = timm.create_model("vmamba_tiny", depths=(1, 1, 2, 1))
    assert not any(hasattr(b.drop_path, "drop_prob") for s in model.stages for b in s.blocks)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="stem"):
        VMamba(stem="hexagonal")
    with pytest.raises(ValueError, match="downsample"):
        VMamba(downsample="pool")
    with pytest.raises(ValueError, match="same length"):
        VMamba(depths=(1, 1), dims=(8, 16, 32))


def test_original_checkpoint_with_a_new_head_and_in_chans(golden, original_checkpoint):
    """A release file loads into another task: new head, one input channel, or features only."""
    fixture = golden("vmamba_tiny_s1l8")
    weights = fixture.checkpoint_state_dict()
    path = original_checkpoint("vmamba_tiny_s1l8", weights)
    overlay = dict(file=str(path))
    model = timm.create_model("vmamba_tiny_s1l8", pretrained=True, num_classes=7, in_chans=1, pretrained_cfg_overlay=overlay)
    torch.testing.assert_close(model.stages[1].blocks[0].op.x_proj_weight, weights["layers.1.blocks.0.op.x_proj_weight"])
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 1, 64, 64)).shape == (1, 7)
    features = timm.create_model("vmamba_tiny_s1l8", pretrained=True, features_only=True, pretrained_cfg_overlay=overlay)
    with torch.no_grad():
        assert [f.shape[1] for f in features(torch.randn(1, 3, 64, 64))] == [96, 192, 384, 768]


def _legacy(key: str, value: torch.Tensor) -> tuple[str, torch.Tensor]:
    """VMamba's earliest key names, and in_proj stored as a 1x1 conv (Linear2d's layout)."""
    key = key.replace(".op.", ".self_attention.").replace("patch_embed.0.", "patch_embed.proj.")
    key = key.replace("patch_embed.2.", "patch_embed.norm.").replace("classifier.", "")
    if key.endswith((".norm.weight", ".norm.bias")):
        key = key.replace("blocks.0.norm.", "blocks.0.ln_1.")
    if key.endswith("in_proj.weight"):
        value = value[:, :, None, None]
    return key, value


@pytest.mark.slow
def test_legacy_key_names_and_conv_shaped_linears(golden, original_checkpoint):
    """The authors' loader renames its earliest keys and reshapes 1x1-conv-shaped Linear2d
    weights; ours does too, and gives the authors' logits."""
    fixture = golden("vmamba_tiny_v0")
    legacy = dict(_legacy(k, v) for k, v in fixture.checkpoint_state_dict().items())
    assert "norm.weight" in legacy and "layers.0.blocks.0.ln_1.weight" in legacy
    path = original_checkpoint("vmamba_tiny_v0", legacy)
    model = timm.create_model("vmamba_tiny_v0", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    case = fixture.cases[0]
    with torch.no_grad():
        logits = model(case.input.build())
    expected = torch.from_numpy(fixture.case_outputs(case)[0])
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
