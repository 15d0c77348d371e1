"""Every config under configs/detection and configs/segmentation parses, inherits the toolbox's
own base files, carries nothing of Swin, builds, and runs a training forward pass.

The backbone keeps its architecture's widths (so that neck / head channels are checked) but runs
at depth 1 per stage on 64x64 inputs, to keep this fast.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import timm
import torch

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

from mmengine.config import Config  # noqa: E402

from vmamba_zoo.published import FAMILIES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# every runnable config; files under _base_/ are shared fragments (their backbone is a placeholder)
CONFIGS = sorted(
    str(p.relative_to(ROOT))
    for kind in ("detection", "segmentation")
    for p in (ROOT / "configs" / kind).rglob("*.py")
    if "_base_" not in p.parts
)
FAMILY_BY_BACKBONE = {family.mm_backbone: key for key, family in FAMILIES.items()}


def test_every_family_has_detection_and_segmentation_configs():
    for family in FAMILIES:
        assert any(c.startswith(f"configs/detection/{family}/") for c in CONFIGS), family
        assert any(c.startswith(f"configs/segmentation/{family}/") for c in CONFIGS), family


def _load(path: str) -> Config:
    return Config.fromfile(str(ROOT / path))


@pytest.mark.parametrize("path", CONFIGS)
def test_config_contents(path):
    text = (ROOT / path).read_text()
    assert text.startswith("# "), "header comment with the paper's numbers"
    cfg = _load(path)
    assert "vmamba_zoo.mm" in cfg.custom_imports["imports"]
    backbone = cfg.model.backbone
    family = path.split("/")[2]
    assert FAMILY_BY_BACKBONE[backbone.type] == family
    assert backbone.arch.startswith(family + "_")
    allowed = {"type", "arch", "out_indices", "drop_path_rate", "init_cfg", "frozen_stages", "norm_eval", "with_cp"}
    assert set(backbone) <= allowed
    pretty = cfg.pretty_text.lower()
    for leftover in ("swin", "absolute_pos_embed", "relative_position_bias_table", "resnet", "torchvision://", "open-mmlab://"):
        assert leftover not in pretty, leftover
    name = Path(path).name
    if path.startswith("configs/detection/"):
        assert cfg.default_scope == "mmdet"
        assert name.endswith(("_1x_coco.py", "_ms-crop-3x_coco.py"))
        assert cfg.optim_wrapper.optimizer.type == "AdamW"
    else:
        assert cfg.default_scope == "mmseg"
        assert name.endswith("_4xb4-160k_ade20k-512x512.py")
        assert cfg.model.pretrained is None and cfg.model.decode_head.num_classes == 150
        assert cfg.train_dataloader.batch_size == 4 and cfg.train_cfg.max_iters == 160000


def _shallow_model(cfg: Config):
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, DefaultScope

    backbone = cfg.model.backbone
    if not timm.is_model(backbone.arch):
        pytest.skip(f"timm model {backbone.arch} is not registered (yet)")
    backbone.init_cfg = None
    backbone.depths = (1, 1, 1, 1)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return revert_sync_batchnorm(MODELS.build(cfg.model))


def _finite_total(losses: dict) -> float:
    total = 0.0
    for name, value in losses.items():
        if "loss" in name:
            value = sum(value) if isinstance(value, (list, tuple)) else value
            assert torch.isfinite(value).all(), name
            total += float(value)
    assert math.isfinite(total) and total > 0
    return total


_BUILT_MODELS: dict[str, str] = {}


@pytest.mark.parametrize("path", CONFIGS)
def test_config_builds_and_runs(path):
    cfg = _load(path)
    key = Config(dict(model=cfg.model)).pretty_text
    if key in _BUILT_MODELS:  # e.g. a 3x schedule of a 1x config: the very same model
        return
    torch.manual_seed(0)
    model = _shallow_model(cfg).train()
    if cfg.default_scope == "mmdet":
        from mmdet.testing import demo_mm_inputs

        with_mask = "roi_head" in cfg.model and "mask_head" in cfg.model.roi_head
        packed = demo_mm_inputs(1, [[3, 64, 64]], num_items=[2], num_classes=80, with_mask=with_mask)
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample

        samples = []
        for _ in range(2):  # batch norm after the 1x1 pooling needs two images
            sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
            sample.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 64, 64)))
            samples.append(sample)
        images = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in samples]
        packed = dict(inputs=images, data_samples=samples)
        model.data_preprocessor.size = (64, 64)
    data = model.data_preprocessor(packed, True)
    with torch.no_grad():
        _finite_total(model(**data, mode="loss"))
    _BUILT_MODELS[key] = path
