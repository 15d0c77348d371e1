"""Res-VMamba against the authors' code where a golden fixture cannot stand in (needs
$VMAMBA_ZOO_UPSTREAM; see tests/upstream.py): the projections drawn per call from the global
generator, as the original draws them, and a 1000-row head cut to 241 classes. The released model
itself is compared through its fixture (tests/test_fidelity.py)."""

from __future__ import annotations

import pytest
import timm
import torch

from fidelity import build_tensors, write_original_checkpoint

FAMILY = "resvmamba"
SEED = 1234


def _official_model(upstream_code, num_classes: int, depths=(2, 2, 27, 2)):
    """The authors' model with deterministic weights far from its initialisation."""
    import upstream

    code = upstream_code(FAMILY)
    model = code.build("resvmamba_small", num_classes=num_classes, depths=list(depths))
    recipes = {k: upstream.derive_recipe(k, t) for k, t in model.state_dict().items()}
    weights, _ = build_tensors(1, recipes)
    model.load_state_dict(weights)
    return model.eval(), weights


def _official_logits(model, x, seed: int) -> torch.Tensor:
    import upstream

    with torch.no_grad(), upstream.on_cpu():
        torch.manual_seed(seed)  # the original draws its three 1x1 convs from the global generator
        return model(x)[:, :241]


def _projections_drawn_like_the_original(seed):
    """The three convs the official forward creates right after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    convs = [torch.nn.Conv2d(c, 2 * c, kernel_size=1) for c in (96, 192, 384)]
    return [(conv.weight.detach(), conv.bias.detach()) for conv in convs]


@pytest.mark.slow
def test_a_1000_row_head_gives_the_first_241_logits(upstream_code, tmp_path):
    reference, weights = _official_model(upstream_code, 1000)
    path = write_original_checkpoint(tmp_path / "ckpt_epoch_166.pth", weights, "resvmamba")
    model = timm.create_model("resvmamba_small", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    model.set_residual_projections(_projections_drawn_like_the_original(SEED))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        actual = model(x)
    torch.testing.assert_close(actual, _official_logits(reference, x, SEED), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_per_call_random_mode_reproduces_the_original(upstream_code, tmp_path, monkeypatch, backend):
    """With ``per_call_random_projections=True`` and the same seed, both draw the same convs."""
    monkeypatch.setenv("VMAMBA_ZOO_BACKEND", backend if backend != "auto" else "")
    depths = (1, 1, 1, 1)
    reference, weights = _official_model(upstream_code, 241, depths)
    path = write_original_checkpoint(tmp_path / "ckpt.pth", weights, "resvmamba")
    model = timm.create_model(
        "resvmamba_small", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), depths=depths,
        per_call_random_projections=True,
    ).eval()  # fmt: skip
    x = torch.randn(1, 3, 64, 64)
    expected = _official_logits(reference, x, SEED)
    with torch.no_grad():
        torch.manual_seed(SEED)
        actual = model(x)
        torch.manual_seed(SEED + 1)
        other = model(x)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(other, actual), "per-call mode must redraw the projections"
