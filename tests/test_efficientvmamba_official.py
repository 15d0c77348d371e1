"""EfficientVMamba gives the official code's logits on the official checkpoint format.

The official model file is extracted at test time from the local mirror of
TerryPei/EfficientVMamba (never stored in this repository); its CUDA selective scan is replaced by
the pure-torch recurrence below. Random but deterministic weights are saved in the official
formats, loaded through ``timm.create_model(..., pretrained=True, pretrained_cfg_overlay=...)``
and both models are compared on the same input (float32, CPU, eval).
"""

from __future__ import annotations

import argparse
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

MIRROR = Path("/work/.mirror/TerryPei+EfficientVMamba/repo")
FILES = {
    "classification/models/vmamba_efficient.py": "vmamba_efficient.py",
    "classification/lib/models/operations.py": "lib/models/operations.py",
    "classification/lib/models/mdconv.py": "lib/models/mdconv.py",
}
# variant -> (dims, depths) of the official EfficientVSSM that the release was trained as
VARIANTS = {
    "efficientvmamba_tiny": (48, [2, 2, 4, 2]),
    "efficientvmamba_small": (64, [2, 2, 4, 2]),
    "efficientvmamba_base": (96, [2, 2, 9, 2]),
}

pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"official EfficientVMamba mirror not found at {MIRROR}")


def reference_selective_scan(u, delta, A, B, C, D, delta_bias, delta_softplus):
    """The S6 recurrence, written out sequentially in float32 (the official kernel's maths)."""
    batch, channels, length = u.shape
    groups = B.shape[1]
    delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    B = B.repeat_interleave(channels // groups, dim=1)  # (batch, channels, N, L)
    C = C.repeat_interleave(channels // groups, dim=1)
    h = u.new_zeros(batch, channels, A.shape[1])
    ys = []
    for t in range(length):
        h = torch.exp(delta[:, :, t, None] * A) * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, :, :, t]
        ys.append((h * C[:, :, :, t]).sum(-1))
    return torch.stack(ys, dim=-1) + D[:, None] * u


def _fake_kernel_module():
    core = types.SimpleNamespace(
        fwd=lambda u, delta, A, B, C, D, delta_bias, softplus, nrows: (
            reference_selective_scan(u, delta, A, B, C, D, delta_bias, softplus),
            None,
        )
    )
    return types.SimpleNamespace(selective_scan_cuda_core=core)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The official ``classification/models/vmamba_efficient.py`` module, importable on CPU."""
    root = tmp_path_factory.mktemp("official_efficientvmamba")
    for source, target in FILES.items():
        text = subprocess.run(
            ["git", f"--git-dir={MIRROR}", "show", f"HEAD:{source}"], check=True, capture_output=True, text=True
        ).stdout
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        (root / target).write_text(text)
    for package in ("lib", "lib/models"):  # empty packages: only operations.py is needed
        (root / package / "__init__.py").write_text("")
    saved_modules = dict(sys.modules)
    sys.modules["selective_scan_vmamba_pt202"] = _fake_kernel_module()
    sys.path.insert(0, str(root))
    try:
        import vmamba_efficient

        yield vmamba_efficient
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - set(saved_modules):
            del sys.modules[name]


def _official_model(official, variant):
    dims, depths = VARIANTS[variant]
    torch.manual_seed(0)
    model = official.EfficientVSSM(
        dims=dims, depths=depths, mlp_ratio=0.0, downsample_version="v1", drop_path_rate=0.1
    )
    # deterministic, non-trivial weights everywhere (incl. BN statistics)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            else:
                tensor.add_(0.05 * noise)
    return model.eval()


def _save_official(path, state_dict, layout):
    if layout == "hf":  # the released .ckpt files: EMA of a DDP model under 'state_dict'
        torch.save({"state_dict": {f"module.module.{k}": v for k, v in state_dict.items()}}, path)
    else:  # a training-script checkpoint with an object weights_only refuses
        torch.save(
            {
                "model": state_dict,
                "optimizer": {"state": {}, "param_groups": [{"lr": 2e-3}]},
                "epoch": 299,
                "args": argparse.Namespace(model="timm_efficient_vssm_tiny", drop_path_rate=0.1),
            },
            path,
        )


def _compare(official, variant, tmp_path, size, layout="hf"):
    reference = _official_model(official, variant)
    path = tmp_path / f"{variant}.ckpt"
    _save_official(path, reference.state_dict(), layout)
    model = timm.create_model(variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference(x)
        actual = model(x)
    diff = (actual - expected).abs().max().item()
    print(f"{variant} @{size}: max abs diff {diff:.3e} (logit scale {expected.abs().max().item():.2f})")
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    return diff


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_official_logits_64(official, variant, tmp_path):
    _compare(official, variant, tmp_path, 64)


@pytest.mark.slow
def test_official_logits_224_tiny(official, tmp_path):
    _compare(official, "efficientvmamba_tiny", tmp_path, 224, layout="model")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_official_logits_per_backend(official, tmp_path, monkeypatch, backend):
    monkeypatch.setenv("VMAMBA_ZOO_BACKEND", backend if backend != "auto" else "")
    _compare(official, "efficientvmamba_tiny", tmp_path, 64, layout="model")


def test_official_state_dict_keys_map_exactly(official, tmp_path):
    """Every official key (all 261 / 371, incl. BN buffers) lands on a model key of equal shape."""
    for variant, (dims, depths) in VARIANTS.items():
        reference = official.EfficientVSSM(dims=dims, depths=depths, mlp_ratio=0.0, downsample_version="v1")
        path = tmp_path / f"{variant}.pth"
        _save_official(path, reference.state_dict(), "model")
        timm.create_model(variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


@pytest.mark.parametrize(
    "corrupt, named",
    [
        (lambda sd: sd.pop("layers.2.3.conv_dw.1.running_var"), "stages.2.blocks.2.bn2.running_var"),
        (lambda sd: sd.__setitem__("layers.0.blocks.0.op.extra", torch.zeros(1)), "stages.0.blocks.0.op.extra"),
        (
            lambda sd: sd.__setitem__("layers.1.blocks.1.op.A_logs", torch.zeros(10, 16)),
            "stages.1.blocks.1.op.A_logs",
        ),
    ],
    ids=["missing", "unexpected", "misshaped"],
)
def test_mismatched_checkpoint_is_an_error_naming_the_key(official, tmp_path, corrupt, named):
    dims, depths = VARIANTS["efficientvmamba_tiny"]
    state_dict = official.EfficientVSSM(dims=dims, depths=depths, mlp_ratio=0.0, downsample_version="v1").state_dict()
    corrupt(state_dict)
    path = tmp_path / "bad.pth"
    _save_official(path, state_dict, "model")
    with pytest.raises(CheckpointMismatchError, match=named.replace(".", r"\.")):
        timm.create_model("efficientvmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
