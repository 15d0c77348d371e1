"""Safe, strict loading of checkpoints in the original authors' formats."""

from __future__ import annotations

import argparse
import os

import pytest
import torch
from torch import nn

from vmamba_zoo.checkpoint import (
    CheckpointMismatchError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
)


class FakeCfgNode(dict):
    """Stands in for yacs' CfgNode: a dict subclass that weights_only loading refuses."""


class RunsCodeWhenUnpickled:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _official_like(tmp_path, weights, **extra):
    path = tmp_path / "ckpt.pth"
    torch.save(
        {
            "model": weights,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "lr_scheduler": {"last_epoch": 3},
            "epoch": 299,
            "config": FakeCfgNode(MODEL=FakeCfgNode(NAME="vssm")),
            "args": argparse.Namespace(batch_size=128),
            **extra,
        },
        path,
    )
    return path


def test_original_format_loads_without_running_its_code(tmp_path):
    weights = {"layer.weight": torch.randn(3, 2), "layer.bias": torch.randn(3)}
    marker = tmp_path / "code-ran"
    path = _official_like(tmp_path, weights, payload=RunsCodeWhenUnpickled(str(marker)))
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)  # what timm's default loader would do
    checkpoint = load_checkpoint_file(path)
    assert not marker.exists(), "an object's reduce function was executed"
    state_dict = extract_state_dict(checkpoint)
    assert state_dict.keys() == weights.keys()
    for key in weights:
        torch.testing.assert_close(state_dict[key], weights[key])
    assert not isinstance(checkpoint["config"], FakeCfgNode)  # kept as inert data only


def test_plain_state_dict_and_ema_and_prefixes(tmp_path):
    weights = {"module.w": torch.ones(2)}
    path = tmp_path / "plain.pth"
    torch.save(weights, path)
    assert list(extract_state_dict(load_checkpoint_file(path))) == ["w"]
    ema_only = {"model_ema": {"w": torch.zeros(2)}, "epoch": 1}
    assert torch.equal(extract_state_dict(ema_only)["w"], torch.zeros(2))
    both = {"model": {"w": torch.ones(2)}, "model_ema": {"w": torch.zeros(2)}}
    assert torch.equal(extract_state_dict(both)["w"], torch.ones(2))
    assert torch.equal(extract_state_dict(both, key="model_ema")["w"], torch.zeros(2))
    with pytest.raises(CheckpointMismatchError, match="no 'state' entry"):
        extract_state_dict(both, key="state")
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "missing.pth")


def test_strict_loading_names_every_problem():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 4))
    good = model.state_dict()
    load_state_dict_strict(model, good)
    bad = dict(good)
    bad.pop("0.bias")
    bad["extra.weight"] = torch.zeros(1)
    bad["1.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointMismatchError) as excinfo:
        load_state_dict_strict(model, bad)
    message = str(excinfo.value)
    assert "missing keys (1): 0.bias" in message
    assert "unexpected keys (1): extra.weight" in message
    assert "1.weight (checkpoint (5, 3) vs model (4, 3))" in message
