"""GroupMamba against the authors' own code: same weights, same logits.

The official model files are extracted from the local mirror of Amshaker/GroupMamba at test time
(into a temporary directory, never committed) and run on the CPU, with their CUDA selective scan
replaced by the float32 sequential recurrence below. Deterministic random weights are saved in
the official release format and loaded through ``timm.create_model(..., pretrained=True,
pretrained_cfg_overlay=dict(file=PATH))``.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F

import vmamba_zoo  # noqa: F401  (registers the models)
from vmamba_zoo.checkpoint import CheckpointMismatchError
from vmamba_zoo.models.groupmamba import checkpoint_filter_fn

MIRROR = Path(os.environ.get("GROUPMAMBA_MIRROR", "/work/.mirror/Amshaker+GroupMamba/repo"))
_FILES = ("groupmamba.py", "ss2d.py", "csms6s.py")
_PACKAGE = "_official_groupmamba"
VARIANTS = ("groupmamba_tiny", "groupmamba_small", "groupmamba_base")


def reference_selective_scan(u, delta, A, B, C, D=None, delta_bias=None, delta_softplus=False):
    """The S6 recurrence, one position at a time, in float32 (what the CUDA kernel computes)."""
    u, delta, B, C = (t.float() for t in (u, delta, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, channels, length = u.shape
    per_group = channels // B.shape[1]
    B = B.repeat_interleave(per_group, dim=1)  # (batch, channels, N, L)
    C = C.repeat_interleave(per_group, dim=1)
    decay = torch.exp(delta[:, :, None, :] * A.float()[None, :, :, None])
    drive = delta[:, :, None, :] * B * u[:, :, None, :]
    h = u.new_zeros(batch, channels, A.shape[1])
    ys = []
    for t in range(length):
        h = decay[..., t] * h + drive[..., t]
        ys.append((h * C[..., t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + D.float()[:, None] * u
    return y


def _fake_scan_extension() -> types.ModuleType:
    module = types.ModuleType("selective_scan_cuda_core")

    def fwd(u, delta, A, B, C, D, delta_bias, delta_softplus, nrows):
        return reference_selective_scan(u, delta, A, B, C, D, delta_bias, delta_softplus), None

    module.fwd = fwd
    return module


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The official ``groupmamba`` module, imported from files extracted from the mirror."""
    if not MIRROR.is_dir():
        pytest.skip(f"the GroupMamba mirror is not available at {MIRROR} (set GROUPMAMBA_MIRROR)")
    root = tmp_path_factory.mktemp("upstream")
    package = root / _PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in _FILES:
        source = subprocess.run(
            ["git", f"--git-dir={MIRROR}", "show", f"HEAD:classification/models/{name}"],
            check=True, capture_output=True, text=True,
        ).stdout
        (package / name).write_text(source)

    registry = importlib.import_module("timm.models.registry")
    cudnn_flags = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    saved_register = registry.register_model
    sys.modules["selective_scan_cuda_core"] = _fake_scan_extension()
    sys.path.insert(0, str(root))
    # their builders must not replace ours in timm's registry
    registry.register_model = lambda fn: fn
    try:
        module = importlib.import_module(f"{_PACKAGE}.groupmamba")
    finally:
        registry.register_model = saved_register
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn_flags
        sys.path.remove(str(root))
    yield module
    for name in [n for n in sys.modules if n == _PACKAGE or n.startswith(_PACKAGE + ".")]:
        del sys.modules[name]
    del sys.modules["selective_scan_cuda_core"]


def _randomize(model: torch.nn.Module, seed: int) -> None:
    """Deterministic weights with no trivial values (no all-ones norms, zero biases, A = -1 ...)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + noise.abs())
            else:
                tensor.add_(0.1 * noise)


def _official_model(official, variant: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = getattr(official, variant)(distillation=True, num_classes=1000)
    _randomize(model, seed)
    return model.eval()


def _save_release(model: torch.nn.Module, path: Path) -> Path:
    """The released format: a flat state dict of the EMA model."""
    torch.save(model.state_dict(), path)
    return path


def _save_training_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    """What the training script saves: weights next to optimizer state and a yacs config."""
    from yacs.config import CfgNode

    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "lr_scheduler": {"last_epoch": 300},
            "max_accuracy": 83.3,
            "epoch": 299,
            "config": CfgNode({"MODEL": CfgNode({"NAME": "groupmamba_tiny"})}),
        },
        path,
    )
    return path


def _compare(official_model, ours, x, label: str) -> None:
    """Same logits up to float32 rounding (relative to the logits' scale)."""
    with torch.no_grad():
        expected = official_model(x)
        actual = ours(x)
    assert actual.shape == expected.shape
    diff = (actual - expected).abs().max().item()
    scale = expected.abs().max().item()
    print(f"{label}: max abs diff vs official {diff:.3g} (max |logit| {scale:.3g})")
    assert diff <= 5e-5 * max(1.0, scale)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_release_logits_match_official(official, variant, tmp_path):
    reference = _official_model(official, variant)
    path = _save_release(reference, tmp_path / f"{variant}_ema.pth")
    ours = timm.create_model(variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    _compare(reference, ours, x, f"{variant} 64x64")


@pytest.mark.slow
def test_tiny_224_training_checkpoint_matches_official(official, tmp_path):
    reference = _official_model(official, "groupmamba_tiny", seed=3)
    path = _save_training_checkpoint(reference, tmp_path / "ckpt_epoch_299.pth")
    ours = timm.create_model("groupmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    _compare(reference, ours, x, "groupmamba_tiny 224x224")


@pytest.mark.slow
def test_distilled_training_output_matches_official_train_mode(official, tmp_path):
    reference = _official_model(official, "groupmamba_tiny").train()
    path = _save_release(reference, tmp_path / "groupmamba_tiny_ema.pth")
    ours = timm.create_model("groupmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    ours.set_distilled_training(True)
    ours.train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert isinstance(actual, tuple) and len(actual) == 2
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


def test_checkpoint_mismatch_names_the_key(official, tmp_path):
    state_dict = _official_model(official, "groupmamba_tiny").state_dict()
    cases = {
        "missing": ("block3.2.attn.mamba_g3.A_logs", None),
        "unexpected": ("block1.0.attn.extra_weight", torch.zeros(3)),
        "mis-shaped": ("block2.1.attn.mamba_g2.x_proj_weight", torch.zeros(1, 5, 32)),
    }
    for kind, (key, value) in cases.items():
        broken = dict(state_dict)
        if value is None:
            del broken[key]
        else:
            broken[key] = value
        path = tmp_path / f"{kind}.pth"
        torch.save(broken, path)
        with pytest.raises(CheckpointMismatchError, match=kind) as info:
            timm.create_model("groupmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
        # the error names the key, in our layout
        ours = next(iter(checkpoint_filter_fn({key: torch.zeros(1)}, None)))
        assert ours in str(info.value)
