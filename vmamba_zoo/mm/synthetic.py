"""MMEngine configs on the built-in synthetic data (``vmamba_zoo.data``): ``use_synthetic_coco`` /
``use_synthetic_ade20k`` point any mmdet / mmseg config at the synthetic sets, and
``synthetic_detection_config`` / ``synthetic_segmentation_config`` are small runnable versions of
the repository's detection and segmentation configs: what ``make demo`` and the end-to-end tests
train.

The recipe is the real config's (model type, heads, optimizer); the backbone keeps its family
and generation but is shrunk (``depths``/``dims``), the detector's FPN and heads are narrower
(``fpn_channels``), images are small and the schedule is short.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mmengine.config import Config

from vmamba_zoo.data.scenes import PALETTE

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DETECTION_CONFIG = "detection/vmamba/mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py"
SEGMENTATION_CONFIG = "segmentation/vmamba/upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py"


def synthetic_coco_classes(root: str) -> tuple[str, ...]:
    """The class names of the set written by :func:`vmamba_zoo.data.make_synthetic_coco` under
    ``root``, in category-id order."""
    with open(os.path.join(root, "annotations", "instances_train.json")) as f:
        categories = json.load(f)["categories"]
    return tuple(c["name"] for c in sorted(categories, key=lambda c: c["id"]))


def use_synthetic_coco(cfg, root: str, img_scale: tuple[int, int] = (128, 128), batch_size: int = 2) -> None:
    """Point an mmdet config (Mask R-CNN or RetinaNet style, a ``mmengine.Config``) at the set
    written by :func:`vmamba_zoo.data.make_synthetic_coco`: datasets, small-image pipelines,
    evaluators and the heads' class count. ``img_scale`` is (width, height) as mmdet's
    ``Resize`` takes it."""
    with_mask = "mask_head" in cfg.model.get("roi_head", {})
    classes = synthetic_coco_classes(root)
    metainfo = dict(classes=classes, palette=PALETTE[: len(classes)])
    train_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations", with_bbox=True, with_mask=with_mask),
        dict(type="Resize", scale=img_scale, keep_ratio=True),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PackDetInputs"),
    ]
    test_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=img_scale, keep_ratio=True),
        dict(type="LoadAnnotations", with_bbox=True, with_mask=with_mask),
        dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
    ]

    def dataset(split: str, pipeline: list, test_mode: bool) -> dict:
        return dict(
            type="CocoDataset", data_root=root, ann_file=f"annotations/instances_{split}.json",
            data_prefix=dict(img=f"{split}/"), metainfo=metainfo, pipeline=pipeline, test_mode=test_mode,
            filter_cfg=None if test_mode else dict(filter_empty_gt=True, min_size=4), backend_args=None,
        )

    cfg.train_dataloader = dict(
        batch_size=batch_size, num_workers=0, persistent_workers=False,
        sampler=dict(type="DefaultSampler", shuffle=True), batch_sampler=dict(type="AspectRatioBatchSampler"),
        dataset=dataset("train", train_pipeline, False),
    )
    cfg.val_dataloader = dict(
        batch_size=1, num_workers=0, persistent_workers=False, drop_last=False,
        sampler=dict(type="DefaultSampler", shuffle=False), dataset=dataset("val", test_pipeline, True),
    )
    cfg.test_dataloader = cfg.val_dataloader
    metrics = ["bbox", "segm"] if with_mask else ["bbox"]
    cfg.val_evaluator = dict(
        type="CocoMetric", ann_file=os.path.join(root, "annotations", "instances_val.json"), metric=metrics,
        format_only=False, backend_args=None,
    )
    cfg.test_evaluator = cfg.val_evaluator
    if "roi_head" in cfg.model:
        cfg.model.roi_head.bbox_head.num_classes = len(classes)
        if with_mask:
            cfg.model.roi_head.mask_head.num_classes = len(classes)
    if "bbox_head" in cfg.model:
        cfg.model.bbox_head.num_classes = len(classes)


def use_synthetic_ade20k(cfg, root: str, crop_size: tuple[int, int] = (64, 64), batch_size: int = 2) -> None:
    """Point an mmseg ADE20K config (a ``mmengine.Config``) at the set written by
    :func:`vmamba_zoo.data.make_synthetic_ade20k`, with small-image pipelines (``crop_size`` is
    (h, w)) and plain BN in the heads (SyncBN needs a process group)."""
    height, width = crop_size
    train_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations", reduce_zero_label=True),
        dict(type="RandomResize", scale=(2 * width, height), ratio_range=(0.5, 2.0), keep_ratio=True),
        dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PackSegInputs"),
    ]
    test_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=(2 * width, height), keep_ratio=True),
        dict(type="LoadAnnotations", reduce_zero_label=True),
        dict(type="PackSegInputs"),
    ]

    def dataset(split: str, pipeline: list) -> dict:
        return dict(
            type="ADE20KDataset", data_root=root, pipeline=pipeline,
            data_prefix=dict(img_path=f"images/{split}", seg_map_path=f"annotations/{split}"),
        )

    cfg.train_dataloader = dict(
        batch_size=batch_size, num_workers=0, persistent_workers=False,
        sampler=dict(type="InfiniteSampler", shuffle=True), dataset=dataset("training", train_pipeline),
    )
    cfg.val_dataloader = dict(
        batch_size=1, num_workers=0, persistent_workers=False,
        sampler=dict(type="DefaultSampler", shuffle=False), dataset=dataset("validation", test_pipeline),
    )
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU"])
    cfg.test_evaluator = cfg.val_evaluator
    cfg.crop_size = crop_size
    cfg.model.data_preprocessor.size = crop_size
    for head in ("decode_head", "auxiliary_head"):
        if head in cfg.model and cfg.model[head] is not None:
            cfg.model[head].norm_cfg = dict(type="BN", requires_grad=True)


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


def _short_schedule(
    cfg: Config, work_dir: str, lr: float, warmup_iters: int, log_interval: int, seed: int = 0
) -> None:
    cfg.work_dir = os.fspath(work_dir)
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.visualization = dict(type=cfg.default_hooks.visualization.type)
    cfg.param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=warmup_iters)]
    cfg.randomness = dict(seed=seed)


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
    fpn_channels: int = 64,
    val_interval: int | None = None,
    warmup_iters: int = 4,
    seed: int = 0,
) -> Config:
    """The repository's VMamba-T Mask R-CNN 1x config on :func:`~vmamba_zoo.data.make_synthetic_coco`
    data: a small VMamba, FPN and heads ``fpn_channels`` wide (COCO's 256 channels make the RoI
    heads most of a CPU step on small images), ``epochs`` epochs of AdamW at ``lr`` (linear
    warm-up, then cosine decay to 5%), evaluation (COCO bbox/segm mAP) every ``val_interval``
    epochs (default: after the last) and the randomness seeded by ``seed``."""
    cfg = _load(config)
    channels = _shrink_backbone(cfg, depths, dims)
    cfg.model.neck.in_channels = channels[-len(cfg.model.neck.in_channels):]
    _narrow_heads(cfg, fpn_channels)
    use_synthetic_coco(cfg, data_root, img_scale=img_scale, batch_size=batch_size)
    # a few objects per small image: far fewer anchors, proposals and sampled RoIs than COCO's
    cfg.model.train_cfg.rpn.sampler.num = 64
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    cfg.model.train_cfg.rcnn.sampler.num = 64
    cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    cfg.model.test_cfg.rcnn.max_per_img = 20
    _short_schedule(cfg, work_dir, lr, warmup_iters=warmup_iters, log_interval=2, seed=seed)
    cfg.param_scheduler.append(dict(
        type="CosineAnnealingLR", by_epoch=True, begin=0, end=epochs, eta_min_ratio=0.05,
        convert_to_iter_based=True,
    ))
    cfg.train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=epochs, val_interval=val_interval or epochs)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1, by_epoch=True)
    return cfg


def _narrow_heads(cfg: Config, width: int) -> None:
    """FPN, RPN and RoI heads ``width`` channels wide, the box head's FCs 4x that (COCO's ratio)."""
    cfg.model.neck.out_channels = width
    cfg.model.rpn_head.update(in_channels=width, feat_channels=width)
    roi_head = cfg.model.roi_head
    roi_head.bbox_roi_extractor.out_channels = width
    roi_head.bbox_head.update(in_channels=width, fc_out_channels=4 * width)
    if "mask_head" in roi_head:
        roi_head.mask_roi_extractor.out_channels = width
        roi_head.mask_head.update(in_channels=width, conv_out_channels=width)


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
