"""Our VMamba models against the official code (MzeroMiko/VMamba, classification/models/vmamba.py).

The official model file is extracted from the local mirror at test time (never committed) and run
on the CPU: its selective-scan wrapper (csms6s.py) falls back to its own pure-torch loop when no
CUDA extension imports; its Triton cross-scan module cannot run on CPU tensors, so it is replaced
by the small torch functions below (written from the spec's index formulas, not from the repo).
Deterministic random weights are saved in the official release format (weights under ``model``,
optimizer state, epoch and a yacs ``CfgNode`` that ``weights_only=True`` refuses), loaded through
``timm.create_model(..., pretrained=True, pretrained_cfg_overlay=dict(file=PATH))`` and the logits
compared in float32 on the CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest
import timm
import torch

import vmamba_zoo  # noqa: F401
from vmamba_zoo.checkpoint import CheckpointMismatchError

MIRROR = Path("/work/.mirror/MzeroMiko+VMamba/repo")
OFFICIAL_FILES = ("classification/models/vmamba.py", "classification/models/csms6s.py")

# our timm name -> official builder
BUILDERS = {
    "vmamba_tiny_v0": "vanilla_vmamba_tiny",
    "vmamba_small_v0": "vanilla_vmamba_small",
    "vmamba_base_v0": "vanilla_vmamba_base",
    "vmamba_tiny_s2l5": "vmamba_tiny_s2l5",
    "vmamba_small_s2l15": "vmamba_small_s2l15",
    "vmamba_base_s2l15": "vmamba_base_s2l15",
    "vmamba_tiny_s1l8": "vmamba_tiny_s1l8",
    "vmamba_small_s1l20": "vmamba_small_s1l20",
    "vmamba_base_s1l20": "vmamba_base_s1l20",
    "vmamba_tiny": "vmamba_tiny_s1l8",
    "vmamba_small": "vmamba_small_s2l15",
    "vmamba_base": "vmamba_base_s2l15",
}
FAST = ("vmamba_tiny_v0", "vmamba_tiny_s1l8")


def _cross_scan_stub(x, in_channel_first=True, out_channel_first=True, one_by_one=False, scans=0, force_torch=False):
    """(B, C, H, W) -> (B, 4, C, L): row-major, column-major, then both reversed."""
    assert in_channel_first and out_channel_first and not one_by_one and scans == 0
    rows, cols = x.flatten(2), x.transpose(2, 3).flatten(2)
    return torch.stack([rows, cols, rows.flip(-1), cols.flip(-1)], dim=1)


def _cross_merge_stub(ys, in_channel_first=True, out_channel_first=True, one_by_one=False, scans=0, force_torch=False):
    """(B, 4, C, H, W) -> (B, C, L): each route mapped back to row-major order, summed."""
    assert in_channel_first and out_channel_first and not one_by_one and scans == 0
    batch, _, channels, H, W = ys.shape
    ys = ys.flatten(3)
    rows = ys[:, 0] + ys[:, 2].flip(-1)
    cols = (ys[:, 1] + ys[:, 3].flip(-1)).view(batch, channels, W, H).transpose(2, 3).flatten(2)
    return rows + cols


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    if not (MIRROR / "HEAD").exists():
        pytest.skip(f"official VMamba mirror not found at {MIRROR}")
    root = tmp_path_factory.mktemp("official_vmamba")
    for path in OFFICIAL_FILES:
        source = subprocess.run(
            ["git", "--git-dir", str(MIRROR), "show", f"HEAD:{path}"], capture_output=True, check=True
        ).stdout
        (root / Path(path).name).write_bytes(source)
    stubs = {
        "csm_triton": dict(cross_scan_fn=_cross_scan_stub, cross_merge_fn=_cross_merge_stub),
        "mamba2": {},
        "mamba2.ssd_minimal": dict(selective_scan_chunk_fn=None),  # mamba2 variants are not released
    }
    saved = {name: sys.modules.get(name) for name in (*stubs, "csms6s", "vmamba_official")}
    for name, attrs in stubs.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
    sys.path.insert(0, str(root))
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = importlib.util.spec_from_file_location("vmamba_official", root / "vmamba.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(root))
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def _randomize(model: torch.nn.Module, seed: int) -> None:
    """Deterministic weights far from the init, so every parameter matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith(("A_logs", "dt_projs_bias")) or param.dim() == 1:  # also norms, biases, Ds
                param.add_(0.1 * noise)
            else:
                param.copy_(noise * param.std().clamp(min=0.02))


def save_official_checkpoint(model: torch.nn.Module, path: Path, with_ema: bool = False) -> None:
    """Save like VMamba's ``save_checkpoint_ema``: a yacs CfgNode (argparse.Namespace when yacs is
    not installed; weights_only refuses both) and optimizer state included."""
    try:
        from yacs.config import CfgNode

        config = CfgNode(dict(MODEL=CfgNode(dict(NAME="vssm", DROP_PATH_RATE=0.2)), TRAIN=CfgNode(dict(EPOCHS=300))))
    except ImportError:
        config = argparse.Namespace(model="vssm", drop_path_rate=0.2, epochs=300)
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "weight_decay": 0.05, "params": [0, 1]}]},
        "lr_scheduler": {"last_epoch": 262},
        "max_accuracy": 82.6,
        "epoch": 262,
        "config": config,
    }
    if with_ema:
        checkpoint["model_ema"] = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    torch.save(checkpoint, path)


def _compare(official, name: str, tmp_path: Path, size: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    reference = getattr(official, BUILDERS[name])().eval()
    _randomize(reference, seed)
    path = tmp_path / f"{name}.pth"
    save_official_checkpoint(reference, path, with_ema=True)
    with pytest.raises(pickle.UnpicklingError):  # the release format is refused by the weights-only loader
        torch.load(path, weights_only=True)

    ours = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        expected = reference(x)
        actual = ours(x)
    assert actual.shape == expected.shape == (2, 1000)
    diff = (actual - expected).abs().max().item()
    scale = expected.abs().max().item()
    print(f"{name}: max |ours - official| = {diff:.3g} (logit scale {scale:.3g}, input {size}x{size})")
    assert diff <= 1e-4 * max(1.0, scale), f"{name}: logits differ by {diff}"
    return diff


@pytest.mark.parametrize("name", FAST)
def test_official_logits_fast(official, name, tmp_path):
    _compare(official, name, tmp_path, size=64)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in BUILDERS if n not in FAST])
def test_official_logits_all_variants(official, name, tmp_path):
    _compare(official, name, tmp_path, size=64)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAST)
def test_official_logits_224(official, name, tmp_path):
    _compare(official, name, tmp_path, size=224, seed=3)


def test_official_checkpoint_mismatch_is_an_error(official, tmp_path):
    torch.manual_seed(0)
    reference = official.vmamba_tiny_s1l8().eval()
    state = reference.state_dict()

    def load(modified: dict) -> str:
        path = tmp_path / "bad.pth"
        torch.save({"model": modified, "epoch": 1}, path)
        with pytest.raises(CheckpointMismatchError) as info:
            timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
        return str(info.value)

    missing = dict(state)
    del missing["layers.2.blocks.3.op.Ds"]
    assert "stages.2.blocks.3.op.Ds" in load(missing)

    extra = dict(state, **{"layers.1.blocks.0.op.x_proj_bias": torch.zeros(4, 14)})
    assert "stages.1.blocks.0.op.x_proj_bias" in load(extra)

    misshaped = dict(state, **{"layers.0.blocks.1.op.A_logs": torch.zeros(384, 16)})
    message = load(misshaped)
    assert "stages.0.blocks.1.op.A_logs" in message and "(384, 16)" in message

    # a v0 checkpoint is not a v2 model
    vanilla = official.vanilla_vmamba_tiny().state_dict()
    path = tmp_path / "v0.pth"
    torch.save({"model": vanilla}, path)
    with pytest.raises(CheckpointMismatchError, match="missing keys"):
        timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_official_checkpoint_new_head_and_in_chans(official, tmp_path):
    torch.manual_seed(0)
    reference = official.vmamba_tiny_s1l8().eval()
    path = tmp_path / "ckpt.pth"
    save_official_checkpoint(reference, path)
    model = timm.create_model(
        "vmamba_tiny_s1l8", pretrained=True, num_classes=7, in_chans=1, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    torch.testing.assert_close(
        model.stages[1].blocks[0].op.x_proj_weight, reference.layers[1].blocks[0].op.x_proj_weight
    )
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 7)
    features = timm.create_model(
        "vmamba_tiny_s1l8", pretrained=True, features_only=True, pretrained_cfg_overlay=dict(file=str(path))
    )
    assert [f.shape[1] for f in features(torch.randn(1, 3, 64, 64))] == [96, 192, 384, 768]


@pytest.mark.slow
def test_official_legacy_key_names_and_conv_shaped_linears(official, tmp_path):
    """VMamba's own loader accepts its earliest key names and 1x1-conv-shaped Linear2d weights."""
    torch.manual_seed(0)
    reference = official.vanilla_vmamba_tiny().eval()
    _randomize(reference, 5)
    legacy = {}
    for key, value in reference.state_dict().items():
        key = key.replace(".op.", ".self_attention.").replace("patch_embed.0.", "patch_embed.proj.")
        key = key.replace("patch_embed.2.", "patch_embed.norm.").replace("classifier.", "")
        if key.endswith((".norm.weight", ".norm.bias")):
            key = key.replace("blocks.0.norm.", "blocks.0.ln_1.")
        if key.endswith("in_proj.weight"):
            value = value[:, :, None, None]
        legacy[key] = value
    assert "norm.weight" in legacy and "layers.0.blocks.0.ln_1.weight" in legacy
    path = tmp_path / "legacy.pth"
    torch.save({"model": legacy}, path)
    ours = timm.create_model("vmamba_tiny_v0", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-5)
