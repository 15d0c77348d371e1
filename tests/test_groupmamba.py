"""What only GroupMamba does: its releases' configs and training checkpoints, the distillation
head, the grouped scan, the final norm in the head, and its constructor checks. The contract every
model keeps is tests/test_model_contract.py; the comparison with the authors' code
tests/test_fidelity.py."""

from __future__ import annotations

import pytest
import timm
import torch

from vmamba_zoo import published
from vmamba_zoo.models.groupmamba import GroupMamba, GroupMambaLayer

VARIANTS = [name for name in published.MODELS if published.MODELS[name].family == "groupmamba"]
SHALLOW = dict(depths=(1, 1, 1, 1))
SMALL_INPUT = (2, 3, 32, 64)


@pytest.mark.parametrize("name", VARIANTS)
def test_pretrained_cfg_names_the_release(name):
    cfg = timm.create_model(name, **SHALLOW).pretrained_cfg
    assert cfg["url"].startswith("https://huggingface.co/Abdelrahman-shaker/GroupMamba-")
    assert cfg["url"].endswith("_ema.pth")
    assert cfg["license"] == "non-commercial" and cfg["num_classes"] == 1000 and cfg["paper_ids"] == "arXiv:2407.13772"
    assert cfg["classifier"] == ("head.fc", "head.fc_dist")  # timm's convention for distilled models


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


def test_final_norm_is_the_heads():
    """The stage-4 map is not normed by forward_features: ``norm=True`` applies the head's norm."""
    model = timm.create_model("groupmamba_tiny", **SHALLOW).eval()
    x = torch.randn(SMALL_INPUT)
    with torch.no_grad():
        features = model.forward_features(x)
        normed = model.forward_intermediates(x, indices=1, norm=True, intermediates_only=True)
    torch.testing.assert_close(normed[0], model.head.norm(features).permute(0, 3, 1, 2))


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


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible by 4"):
        GroupMamba(embed_dims=(64, 128, 346, 448))
    with pytest.raises(ValueError, match="same length"):
        GroupMamba(depths=(1, 1), embed_dims=(8, 16, 32))
    with pytest.raises(ValueError, match="global_pool"):
        GroupMamba(global_pool="max", **SHALLOW)


@pytest.mark.slow
def test_training_checkpoint_gives_the_authors_logits(golden, tmp_path):
    """What the training script saves (weights under ``model``, optimizer state, a yacs config)
    loads like the released EMA file."""
    from yacs.config import CfgNode

    fixture = golden("groupmamba_tiny")
    path = tmp_path / "ckpt_epoch_299.pth"
    torch.save(
        {
            "model": fixture.checkpoint_state_dict(),
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "lr_scheduler": {"last_epoch": 300},
            "max_accuracy": 83.3,
            "epoch": 299,
            "config": CfgNode({"MODEL": CfgNode({"NAME": "groupmamba_tiny"})}),
        },
        path,
    )
    model = timm.create_model("groupmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    case = next(c for c in fixture.cases if c.name == "logits_224")
    with torch.no_grad():
        logits = model(case.input.build())
    expected = torch.from_numpy(fixture.case_outputs(case)[0])
    assert (logits - expected).abs().max() <= 5e-5 * max(1.0, expected.abs().max().item())
