"""What only EfficientVMamba does: its releases' configs and checkpoint layouts, its constructor
checks, and its scan on every backend. The contract every model keeps is
tests/test_model_contract.py; the comparison with the authors' code tests/test_fidelity.py."""

from __future__ import annotations

import argparse

import pytest
import timm
import torch

from vmamba_zoo import published
from vmamba_zoo.models.efficientvmamba import EfficientVMamba

VARIANTS = [name for name in published.MODELS if published.MODELS[name].family == "efficientvmamba"]


@pytest.mark.parametrize("name", VARIANTS)
def test_pretrained_cfg_names_the_release(name):
    cfg = timm.create_model(name, depths=(1, 1, 1, 1)).pretrained_cfg
    assert cfg["url"].startswith("https://huggingface.co/TerryPei/EfficientVMamba-")
    assert cfg["url"].endswith(".ckpt")
    assert cfg["num_classes"] == 1000 and cfg["license"] == "apache-2.0"


def test_mismatched_dims_and_depths_are_rejected():
    with pytest.raises(ValueError, match="same length"):
        EfficientVMamba(dims=(48, 96), depths=(2, 2, 4, 2))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_training_checkpoint_gives_the_authors_logits_on_every_backend(backend, golden, tmp_path, monkeypatch):
    """The training script's layout (weights under ``model``, an argparse namespace the
    weights-only loader refuses), on the reference scan and on the default backend."""
    monkeypatch.setenv("VMAMBA_ZOO_BACKEND", backend if backend != "auto" else "")
    fixture = golden("efficientvmamba_tiny")
    path = tmp_path / "ckpt.pth"
    torch.save(
        {
            "model": fixture.checkpoint_state_dict(),
            "optimizer": {"state": {}, "param_groups": [{"lr": 2e-3}]},
            "epoch": 299,
            "args": argparse.Namespace(model="timm_efficient_vssm_tiny", drop_path_rate=0.1),
        },
        path,
    )
    model = timm.create_model("efficientvmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    for case in fixture.cases:
        if case.kind == "logits":
            with torch.no_grad():
                logits = model.eval()(case.input.build())
            expected = torch.from_numpy(fixture.case_outputs(case)[0])
            torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
