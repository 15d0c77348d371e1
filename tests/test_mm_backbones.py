"""The MMEngine backbones (vmamba_zoo.mm): registration, outputs, freezing, weight loading.

Models are the real families at reduced depth and width (the timm constructors take ``depths``
/ ``dims``), so that every check runs in well under a second.
"""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

import vmamba_zoo.mm as vmm  # noqa: E402
from vmamba_zoo.checkpoint import CheckpointMismatchError  # noqa: E402
from vmamba_zoo.published import FAMILIES  # noqa: E402

TINY_VMAMBA = dict(arch="vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16)


def tiny_vmamba(**kwargs) -> vmm.VMamba:
    return vmm.VMamba(**{**TINY_VMAMBA, **kwargs})


def test_registered_in_mmdet_and_mmseg():
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG

    for name in (family.mm_backbone for family in FAMILIES.values()):
        assert DET.get(name) is getattr(vmm, name)
        assert SEG.get(name) is getattr(vmm, name)
    # another test's Runner may have left a different default scope (e.g. mmpretrain) behind
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmdet"):
        backbone = DET.build(dict(type="VMamba", **TINY_VMAMBA, out_indices=(1, 2)))
    assert isinstance(backbone, vmm.VMamba) and backbone.out_channels == [32, 64]


@pytest.mark.parametrize(
    "size, expected",
    [((64, 64), [(16, 16), (8, 8), (4, 4), (2, 2)]), ((112, 137), [(28, 35), (14, 18), (7, 9), (4, 5)])],
)
def test_outputs_nchw_ceil_shapes(size, expected):
    backbone = tiny_vmamba().eval()
    outs = backbone(torch.randn(2, 3, *size))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(2, c, h, w) for c, (h, w) in zip((16, 32, 64, 128), expected)]
    assert all(o.is_contiguous() for o in outs)


def test_out_indices_norms_and_pruning():
    backbone = tiny_vmamba(out_indices=(1, 2))
    names = {n.split(".")[0] for n, _ in backbone.named_parameters()}
    assert names == {"model", "outnorm1", "outnorm2"}  # norms only for returned stages
    assert len(backbone.model.stages) == 3  # stage 3 is not computed at all
    assert [o.shape[1] for o in backbone(torch.randn(1, 3, 64, 64))] == [32, 64]
    # every parameter is used: DDP needs no find_unused_parameters
    backbone.train()
    sum(o.mean() for o in backbone(torch.randn(2, 3, 64, 64))).backward()
    assert [n for n, p in backbone.named_parameters() if p.grad is None] == []


def test_out_norm_is_channel_layernorm_of_the_stage_output():
    backbone = tiny_vmamba(out_indices=(0,)).eval()
    x = torch.randn(1, 3, 64, 64)
    raw = backbone.model.forward_intermediates(x, indices=[0], intermediates_only=True)[0]
    norm = backbone.outnorm0
    expected = nn.functional.layer_norm(raw.permute(0, 2, 3, 1), (16,), norm.weight, norm.bias, 1e-5)
    expected = expected.permute(0, 3, 1, 2)
    torch.testing.assert_close(backbone(x)[0], expected)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="vmamba_"):
        vmm.VMamba(arch="groupmamba_tiny")
    with pytest.raises(ValueError, match="not a registered timm model"):
        vmm.VMamba(arch="vmamba_huge")
    with pytest.raises(ValueError, match="out of range"):
        tiny_vmamba(out_indices=(0, 4))
    with pytest.raises(ValueError, match="frozen_stages"):
        tiny_vmamba(frozen_stages=5)
    with pytest.raises(ValueError, match="init_cfg"):
        tiny_vmamba(init_cfg=dict(type="Kaiming"))
    with pytest.raises(TypeError):
        tiny_vmamba(no_such_argument=1)  # reaches the timm constructor, which refuses it


@pytest.mark.parametrize("frozen_stages", [0, 2, 4])
def test_frozen_stages(frozen_stages):
    backbone = tiny_vmamba(frozen_stages=frozen_stages).train()
    frozen = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    assert all(n.startswith("model.stem.") for n in frozen if "stages" not in n and "outnorm" not in n)
    assert any(n.startswith("model.stem.") for n in frozen)
    for i in range(4):
        stage_frozen = [not p.requires_grad for p in backbone.model.stages[i].parameters()]
        assert all(stage_frozen) == (i < frozen_stages) and any(stage_frozen) == (i < frozen_stages)
        assert backbone.model.stages[i].training == (i >= frozen_stages)
        assert getattr(backbone, f"outnorm{i}").weight.requires_grad == (i >= frozen_stages)
    if frozen_stages == 4:
        assert not any(p.requires_grad for p in backbone.parameters())


def test_norm_eval_keeps_batchnorm_in_eval():
    backbone = vmm.EfficientVMamba("efficientvmamba_tiny", depths=(1, 1, 1, 1), norm_eval=True).train()
    batch_norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert batch_norms and not any(m.training for m in batch_norms)
    assert backbone.training


def test_with_cp_matches():
    torch.manual_seed(0)
    plain = tiny_vmamba().train()
    checkpointed = tiny_vmamba(with_cp=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(plain(x), checkpointed(x)):
        torch.testing.assert_close(a, b)


class _PickledConfig:
    """Stands in for the yacs CfgNode the original releases pickle next to the weights."""

    def __reduce__(self):
        return (exec, ("raise SystemExit('config object code ran')",))


def _original_classification_checkpoint(path, **kwargs):
    full = timm.create_model(TINY_VMAMBA["arch"], depths=TINY_VMAMBA["depths"], dims=TINY_VMAMBA["dims"], **kwargs)
    torch.save({"model": full.state_dict(), "config": _PickledConfig(), "epoch": 300}, path)
    return full


def test_init_cfg_pretrained_loads_classification_checkpoint(tmp_path):
    path = tmp_path / "cls.pth"
    full = _original_classification_checkpoint(path)
    backbone = tiny_vmamba(init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    norms = {k: v.clone() for k, v in backbone.state_dict().items() if k.startswith("outnorm")}
    backbone.init_weights()
    for key, value in full.state_dict().items():
        if key.startswith(("stem", "stages")):
            torch.testing.assert_close(backbone.model.state_dict()[key], value)
    for key, value in norms.items():  # new in the backbone, as in the originals
        torch.testing.assert_close(backbone.state_dict()[key], value)


def test_init_cfg_checkpoint_that_does_not_fit_names_keys(tmp_path):
    path = tmp_path / "cls.pth"
    _original_classification_checkpoint(path)
    backbone = vmm.VMamba(arch="vmamba_tiny_s1l8", depths=(1, 1, 2, 1), dims=16,
                          init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    with pytest.raises(CheckpointMismatchError, match=r"missing keys.*stages\.2\.blocks\.1"):
        backbone.init_weights()
    wide = vmm.VMamba(arch="vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=24,
                      init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    with pytest.raises(CheckpointMismatchError, match="mis-shaped keys"):
        wide.init_weights()
    extra = tmp_path / "extra.pth"
    weights = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16).state_dict()
    weights["stages.0.extra.weight"] = torch.zeros(1)
    torch.save({"model": weights}, extra)
    with pytest.raises(CheckpointMismatchError, match=r"stages\.0\.extra\.weight"):
        tiny_vmamba().load_checkpoint(str(extra))


def test_init_cfg_loads_our_detector_checkpoint_with_prefix(tmp_path):
    source = tiny_vmamba()
    detector_like = nn.Module()
    detector_like.backbone = source
    detector_like.neck = nn.Linear(2, 2)
    torch.save({"state_dict": detector_like.state_dict(), "meta": {}}, tmp_path / "det.pth")
    backbone = tiny_vmamba(init_cfg=dict(type="Pretrained", checkpoint=str(tmp_path / "det.pth"), prefix="backbone."))
    backbone.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(backbone.state_dict()[key], value)


_V2_STEM = {"stem.conv1.": "patch_embed.0.", "stem.norm1.": "patch_embed.2.",
            "stem.conv2.": "patch_embed.5.", "stem.norm2.": "patch_embed.7."}


def _to_original_vmamba_key(key: str) -> str:
    """Our VMamba v2 key -> the original Backbone_VSSM key (the upstream classification/models/vmamba.py Backbone_VSSM)."""
    for ours, theirs in _V2_STEM.items():
        if key.startswith(ours):
            return theirs + key[len(ours):]
    if key.startswith("stages."):
        _, stage, rest = key.split(".", 2)
        if rest.startswith("downsample."):
            part = rest[len("downsample."):]
            part = {"conv": "1", "norm": "3"}[part.split(".")[0]] + part[part.index("."):]
            return f"layers.{int(stage) - 1}.downsample.{part}"
        return f"layers.{stage}.{rest}"
    return key


def test_load_from_original_detector_layout(tmp_path):
    """A whole-detector checkpoint of the original repository (backbone keys without our
    ``model.`` level, in VMamba's own names, saved by mmengine with its message hub) loads
    through mmengine's ``load_checkpoint`` (what ``load_from`` uses) with every key matching."""
    from mmengine.logging import MessageHub
    from mmengine.runner import load_checkpoint

    torch.manual_seed(0)
    source = nn.Module()
    source.backbone, source.neck = tiny_vmamba(), nn.Conv2d(16, 4, 1)
    original = {}
    for key, value in source.state_dict().items():
        if key.startswith("backbone.model."):
            key = "backbone." + _to_original_vmamba_key(key[len("backbone.model."):])
        original[key] = value
    assert any(k.startswith("backbone.layers.0.downsample.") for k in original)
    hub = MessageHub.get_instance("original_release")
    hub.update_scalar("train/loss", 0.5)
    path = tmp_path / "mask_rcnn_epoch_12.pth"
    torch.save({"meta": {"epoch": 12}, "state_dict": original, "message_hub": hub.state_dict()}, path)
    target = nn.Module()
    target.backbone, target.neck = tiny_vmamba(), nn.Conv2d(16, 4, 1)
    load_checkpoint(target, str(path), strict=True)  # strict: raises on any missing / unexpected key
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)
    original["backbone.layers.0.blocks.0.unknown"] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError, match="unknown"):
        target.load_state_dict(original)
