"""Spatial-Mamba against the authors' own code: same weights, same logits, in eval and train mode.

The official model files are extracted from the local mirror of EdwardChasel/Spatial-Mamba at test
time (into a temporary directory, never committed) and run on the CPU with two stand-ins for
their CUDA extensions: the hidden-state selective scan (a float32 sequential recurrence below)
and the inference depthwise conv (a dense cross-correlation with replicate padding, which is what
``kernels/dwconv2d`` computes). Deterministic random weights are saved in the official training
checkpoint format (with a yacs config) and loaded through ``timm.create_model(..., pretrained=True,
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
from vmamba_zoo.models.spatialmamba import StateFusion, checkpoint_filter_fn

MIRROR = Path(os.environ.get("SPATIALMAMBA_MIRROR", "/work/.mirror/EdwardChasel+Spatial-Mamba/repo"))
_FILES = ("spatialmamba.py", "utils.py")
_PACKAGE = "_official_spatialmamba"
# the authors' yaml configs (spatialmamba.md §1.1)
CONFIGS = {
    "spatialmamba_tiny": dict(depths=[2, 4, 8, 4], dims=64),
    "spatialmamba_small": dict(depths=[2, 4, 21, 5], dims=64),
    "spatialmamba_base": dict(depths=[2, 4, 21, 5], dims=96),
}


def reference_scan_states(u, delta, A, B, delta_bias=None, delta_softplus=False):
    """Every hidden state of the S6 recurrence, one position at a time, in float32."""
    u, delta, B = u.float(), delta.float(), B.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, channels, length = u.shape
    B = B.repeat_interleave(channels // B.shape[1], dim=1)  # (batch, channels, N, L)
    decay = torch.exp(delta[:, :, None, :] * A.float()[None, :, :, None])
    drive = delta[:, :, None, :] * B * u[:, :, None, :]
    h = u.new_zeros(batch, channels, A.shape[1])
    states = []
    for t in range(length):
        h = decay[..., t] * h + drive[..., t]
        states.append(h)
    return torch.stack(states, dim=-1)


def _fake_extensions() -> dict[str, types.ModuleType]:
    scan = types.ModuleType("selective_scan_cuda_oflex_rh")

    def fwd(u, delta, A, B, D, delta_bias, delta_softplus, nrows, out_float):
        states = reference_scan_states(u, delta, A, B, delta_bias, delta_softplus)
        chunk_prefix = states.new_zeros(u.shape[0], u.shape[1], 1, 2 * A.shape[1])
        return states, chunk_prefix

    scan.fwd = fwd

    class DepthwiseFunction:
        @staticmethod
        def apply(x, weight, bias, pad_h, pad_w, _flag):
            padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="replicate")
            return F.conv2d(padded, weight, bias, groups=x.shape[1])

    dwconv_package = types.ModuleType("Dwconv")
    dwconv_layer = types.ModuleType("Dwconv.dwconv_layer")
    dwconv_layer.DepthwiseFunction = DepthwiseFunction
    dwconv_package.dwconv_layer = dwconv_layer
    return {"selective_scan_cuda_oflex_rh": scan, "Dwconv": dwconv_package, "Dwconv.dwconv_layer": dwconv_layer}


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The official ``spatialmamba`` module, imported from files extracted from the mirror."""
    if not MIRROR.is_dir():
        pytest.skip(f"the Spatial-Mamba mirror is not available at {MIRROR} (set SPATIALMAMBA_MIRROR)")
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
    fakes = _fake_extensions()
    sys.modules.update(fakes)
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(f"{_PACKAGE}.spatialmamba")
    finally:
        sys.path.remove(str(root))
    yield module
    for name in [n for n in sys.modules if n == _PACKAGE or n.startswith(_PACKAGE + ".")] + list(fakes):
        del sys.modules[name]


def _randomize(model: torch.nn.Module, seed: int) -> None:
    """Deterministic weights with no trivial values (fusion kernels and alpha included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + noise.abs())
            elif "state_fusion.kernel" in name:
                tensor.copy_(noise / 9)  # the ones-init would sum 27 states
            else:
                tensor.add_(0.1 * noise)


def _official_model(official, variant: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = official.SpatialMamba(num_classes=1000, d_state=1, drop_path_rate=0.0, **CONFIGS[variant])
    _randomize(model, seed)
    return model.eval()


def _save_training_checkpoint(model: torch.nn.Module, path: Path, **extra) -> Path:
    """What ``main.py`` saves: weights next to optimizer / scaler state and a yacs config."""
    from yacs.config import CfgNode

    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "lr_scheduler": {"last_epoch": 300},
            "max_accuracy": 83.5,
            "scaler": {"scale": 65536.0},
            "epoch": 299,
            "config": CfgNode({"MODEL": CfgNode({"TYPE": "spatial_mamba"})}),
            **extra,
        },
        path,
    )
    return path


def _load_ours(variant: str, path: Path) -> torch.nn.Module:
    return timm.create_model(variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()


def _compare(expected: torch.Tensor, actual: torch.Tensor, label: str) -> None:
    """Same logits up to float32 rounding (relative to the logits' scale)."""
    assert actual.shape == expected.shape
    diff = (actual - expected).abs().max().item()
    scale = expected.abs().max().item()
    print(f"{label}: max abs diff vs official {diff:.3g} (max |logit| {scale:.3g})")
    assert diff <= 5e-5 * max(1.0, scale)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(CONFIGS))
def test_logits_match_official(official, variant, tmp_path):
    reference = _official_model(official, variant)
    ema = _official_model(official, variant, seed=1)  # must not be what gets loaded
    path = _save_training_checkpoint(reference, tmp_path / "ckpt_epoch_299.pth", model_ema=ema.state_dict())
    ours = _load_ours(variant, path)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _compare(reference(x), ours(x), f"{variant} 64x64 eval")


@pytest.mark.slow
def test_tiny_224_matches_official(official, tmp_path):
    reference = _official_model(official, "spatialmamba_tiny", seed=3)
    ours = _load_ours("spatialmamba_tiny", _save_training_checkpoint(reference, tmp_path / "best_ckpt.pth"))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        _compare(reference(x), ours(x), "spatialmamba_tiny 224x224 eval")


@pytest.mark.slow
def test_train_mode_matches_official(official, tmp_path):
    """Train mode: batch-statistics BatchNorm and the three dilated fusion convs, both sides."""
    reference = _official_model(official, "spatialmamba_tiny", seed=5)
    ours = _load_ours("spatialmamba_tiny", _save_training_checkpoint(reference, tmp_path / "ckpt.pth"))
    reference.train()
    ours.train()
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        _compare(reference(x), ours(x), "spatialmamba_tiny 64x96 train")


def test_state_fusion_train_eval_and_official(official):
    """Both fusion paths agree with each other and with the official module's two paths."""
    torch.manual_seed(0)
    dim = 6
    ours, theirs = StateFusion(dim), official.StateFusion(dim)
    _randomize(ours, seed=7)
    theirs.load_state_dict(ours.state_dict())
    h = torch.randn(2, dim, 12, 9)
    with torch.no_grad():
        train_out = ours.train()(h)
        eval_out = ours.eval()(h)
        torch.testing.assert_close(eval_out, train_out, rtol=1e-5, atol=1e-5)
        # ours scales the kernels by alpha before convolving (one op for both modes): float rounding
        torch.testing.assert_close(train_out, theirs.train()(h), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(eval_out, theirs.eval()(h), rtol=1e-5, atol=1e-5)


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


def test_checkpoint_mismatch_names_the_key(official, tmp_path):
    state_dict = _official_model(official, "spatialmamba_tiny").state_dict()
    cases = {
        "missing": ("layers.2.blocks.3.self_attention.state_fusion.alpha", None),
        "unexpected": ("layers.0.blocks.0.self_attention.extra", torch.zeros(2)),
        "mis-shaped": ("layers.1.downsample.conv.2.conv.weight", torch.zeros(256, 512, 3, 3)),
    }
    for kind, (key, value) in cases.items():
        broken = dict(state_dict)
        if value is None:
            del broken[key]
        else:
            broken[key] = value
        path = _save_training_checkpoint_from_state(broken, tmp_path / f"{kind}.pth")
        with pytest.raises(CheckpointMismatchError, match=kind) as info:
            timm.create_model("spatialmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
        ours = next(iter(checkpoint_filter_fn({key: torch.zeros(1)}, None)))
        assert ours in str(info.value)


def _save_training_checkpoint_from_state(state_dict, path: Path) -> Path:
    torch.save({"model": state_dict, "epoch": 1}, path)
    return path
