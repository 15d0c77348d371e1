"""What only Spatial-Mamba does: its releases' configs, the structure-aware state fusion (its
train and eval paths), its FLOP conventions, and its constructor checks. The contract every model
keeps is tests/test_model_contract.py; the comparison with the authors' code tests/test_fidelity.py
(and tests/test_spatialmamba_official.py for the fusion module itself)."""

from __future__ import annotations

import pytest
import timm
import torch

import vmamba_zoo
from vmamba_zoo import published
from vmamba_zoo.models.spatialmamba import SpatialMamba, StateFusion, StructureAwareSSM

VARIANTS = [name for name in published.MODELS if published.MODELS[name].family == "spatialmamba"]
SHALLOW = dict(depths=(1, 1, 1, 1))
SMALL_INPUT = (2, 3, 32, 64)


@pytest.mark.parametrize("name", VARIANTS)
def test_pretrained_cfg_names_the_release(name):
    cfg = timm.create_model(name, **SHALLOW).pretrained_cfg
    assert cfg["url"].startswith("https://drive.google.com/file/d/")
    assert cfg["license"] == "apache-2.0" and cfg["num_classes"] == 1000 and cfg["paper_ids"] == "arXiv:2410.15091"
    assert any("train_mode=True" in note for note in cfg["notes"])


def test_final_norm_is_applied_by_forward_features():
    model = timm.create_model("spatialmamba_tiny", **SHALLOW).eval()
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        features = model.forward_features(x)
        normed = model.forward_intermediates(x, indices=1, norm=True, intermediates_only=True)
    torch.testing.assert_close(normed[0], features.permute(0, 3, 1, 2))


def test_train_and_eval_fusion_agree_in_the_model():
    """Only the fusion differs between the modes here (BatchNorm is pinned to eval)."""
    model = timm.create_model("spatialmamba_tiny", **SHALLOW).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, StateFusion):
                for p in (module.kernel_3, module.kernel_3_1, module.kernel_3_2, module.alpha):
                    p.copy_(torch.randn_like(p) / 9)
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        eval_out = model(x)
        for module in model.modules():
            if isinstance(module, StateFusion):
                module.train()
        train_fusion_out = model(x)
    torch.testing.assert_close(train_fusion_out, eval_out, rtol=1e-4, atol=1e-5)


def test_state_fusion_eval_kernel_follows_new_weights():
    """The eval path uses the current weights on every call (the original caches its merged
    kernel at the first eval forward, forever)."""
    torch.manual_seed(0)
    fusion = StateFusion(4).eval()
    h = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        before = fusion(h)
        fusion.alpha.mul_(-2.0)
        fusion.kernel_3_1.add_(0.5)
        after = fusion(h)
        expected = fusion.train()(h)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-5)


def test_state_fusion_eval_path_is_differentiable():
    fusion = StateFusion(3).eval()
    h = torch.randn(1, 3, 6, 5, requires_grad=True)
    fusion(h).square().sum().backward()
    assert h.grad is not None and fusion.alpha.grad is not None and fusion.kernel_3_2.grad is not None


def test_eval_flops_count_the_merged_fusion_kernel():
    """count_flops' default (eval) convention sees the 11x11 fusion; train mode the three 3x3s."""
    model = timm.create_model("spatialmamba_tiny", **SHALLOW)
    train, evaluation = (vmamba_zoo.count_flops(model, (3, 64, 64), train_mode=m) for m in (True, False))
    assert evaluation > train


def test_d_state_must_be_one():
    with pytest.raises(ValueError, match="d_state=1"):
        StructureAwareSSM(16, d_state=4)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="same length"):
        SpatialMamba(depths=(1, 1), dims=(8, 16, 32))
