"""Small runnable versions of the repository's detection and segmentation configs on the
built-in synthetic data (``vmamba_zoo.data``): what ``make demo`` and the end-to-end tests train.

The recipe is the real config's (model type, heads, optimizer); the backbone keeps its family
and generation but is shrunk (``depths``/``dims``), images are small and the schedule is short.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmengine.config import Config

from vmamba_zoo.data import use_synthetic_ade20k, use_synthetic_coco

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DETECTION_CONFIG = "detection/vmamba/mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py"
SEGMENTATION_CONFIG = "segmentation/vmamba/upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py"


def _load(config: str) -> Config:
    path = CONFIG_DIR / config
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the configs live in the repository, next to vmamba_zoo/")
    return Config.fromfile(str(path))


def _shrink_backbone(cfg: Config, depths: tuple[int, ...], dims: int) -> list[int]:
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.depths = tuple(depths)
    cfg.model.backbone.dims = dims
    cfg.model.backbone.drop_path_rate = 0.0
    return [dims * 2**i for i in range(len(depths))]


def _short_schedule(cfg: Config, work_dir: str, lr: float, warmup_iters: int, log_interval: int) -> None:
    cfg.work_dir = os.fspath(work_dir)
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.visualization = dict(type=cfg.default_hooks.visualization.type)
    cfg.param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=warmup_iters)]
    cfg.randomness = dict(seed=0)


def synthetic_detection_config(
    data_root: str,
    work_dir: str,
    epochs: int = 2,
    batch_size: int = 2,
    img_scale: tuple[int, int] = (128, 128),
    depths: tuple[int, ...] = (1, 1, 1, 1),
    dims: int = 16,
    lr: float = 1e-3,
    config: str = DETECTION_CONFIG,
) -> Config:
    """The repository's VMamba-T Mask R-CNN 1x config on :func:`~vmamba_zoo.data.make_synthetic_coco`
    data: a small VMamba, ``epochs`` epochs, evaluation (COCO bbox/segm mAP) after the last."""
    cfg = _load(config)
    channels = _shrink_backbone(cfg, depths, dims)
    cfg.model.neck.in_channels = channels[-len(cfg.model.neck.in_channels):]
    use_synthetic_coco(cfg, data_root, img_scale=img_scale, batch_size=batch_size)
    # a few objects per small image: far fewer proposals and sampled RoIs than COCO's
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    cfg.model.train_cfg.rcnn.sampler.num = 64
    cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    cfg.model.test_cfg.rcnn.max_per_img = 20
    _short_schedule(cfg, work_dir, lr, warmup_iters=4, log_interval=2)
    cfg.train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=epochs, val_interval=epochs)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1, by_epoch=True)
    return cfg


def synthetic_segmentation_config(
    data_root: str,
    work_dir: str,
    iters: int = 4,
    batch_size: int = 2,
    crop_size: tuple[int, int] = (64, 64),
    depths: tuple[int, ...] = (1, 1, 1, 1),
    dims: int = 16,
    lr: float = 1e-3,
    config: str = SEGMENTATION_CONFIG,
) -> Config:
    """The repository's VMamba-T UperNet config on :func:`~vmamba_zoo.data.make_synthetic_ade20k`
    data: a small VMamba, ``iters`` iterations, evaluation (mIoU) after the last."""
    cfg = _load(config)
    channels = _shrink_backbone(cfg, depths, dims)
    cfg.model.decode_head.in_channels = channels
    cfg.model.decode_head.channels = 32
    cfg.model.auxiliary_head.in_channels = channels[cfg.model.auxiliary_head.in_index]
    cfg.model.auxiliary_head.channels = 16
    use_synthetic_ade20k(cfg, data_root, crop_size=crop_size, batch_size=batch_size)
    _short_schedule(cfg, work_dir, lr, warmup_iters=2, log_interval=1)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=max(iters // 2, 1), by_epoch=False)
    return cfg
