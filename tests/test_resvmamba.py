"""What only Res-VMamba does: its release (241 classes), the stage-skip projections (fixed,
pinned or redrawn per call), and how a 1000-row head loads. The contract every model keeps is
tests/test_model_contract.py; the comparison with the authors' code tests/test_fidelity.py."""

from __future__ import annotations

import pytest
import timm
import torch

from vmamba_zoo.models.resvmamba import ResVMamba

SMALL = dict(depths=(1, 1, 1, 1))  # reduced depth keeps the tests fast
PROJECTION_SHAPES = [((192, 96, 1, 1), (192,)), ((384, 192, 1, 1), (384,)), ((768, 384, 1, 1), (768,))]


def _small(**kwargs) -> ResVMamba:
    torch.manual_seed(0)
    return timm.create_model("resvmamba_small", **{**SMALL, **kwargs})


def test_projections_are_not_parameters_nor_checkpoint_entries():
    model = _small()
    assert model.num_classes == 241
    assert not any("residual_projections" in k for k in model.state_dict())
    assert not any("residual_projections" in n for n, _ in model.named_parameters())
    assert [(tuple(p.weight.shape), tuple(p.bias.shape)) for p in model.residual_projections] == PROJECTION_SHAPES


def test_pretrained_cfg_names_the_release():
    cfg = _small().pretrained_cfg
    assert cfg["url"] == "https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth"
    assert cfg["num_classes"] == 241


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


def test_prune_keeps_the_needed_skips():
    model = _small().eval()
    model.prune_intermediate_layers([0, 1])
    assert len(model.stages) == 2 and len(model.residual_projections) == 1


def test_head_rows_beyond_241_are_dropped_only_from_a_1000_row_head(tmp_path):
    source = _small(num_classes=1000)
    path = tmp_path / "ckpt.pth"
    torch.save({"model": source.state_dict()}, path)
    model = timm.create_model("resvmamba_small", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **SMALL)
    torch.testing.assert_close(model.head.fc.weight, source.head.fc.weight[:241])
    torch.testing.assert_close(model.head.fc.bias, source.head.fc.bias[:241])
