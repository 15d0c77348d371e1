"""A tiny synthetic set in the ADE20K layout (mmseg's ``ADE20KDataset`` reads it unchanged), and
how to point an mmseg config at it::

    root/images/training/000000.jpg      root/annotations/training/000000.png
    root/images/validation/000000.jpg    root/annotations/validation/000000.png

Label maps use ADE20K's convention: 0 is "other" (ignored, ``reduce_zero_label``), value k is
class k - 1. The background is class 0 ("wall"), the shapes of :mod:`.synthetic_coco` are
classes 1-3 with their colours; a 2-pixel frame of 0 exercises the ignore index.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw

from .synthetic_coco import PALETTE, _polygon

NUM_SHAPE_CLASSES = len(PALETTE)


def _write_split(
    root: str, split: str, num_images: int, size: tuple[int, int], max_objects: int, rng: np.random.Generator
) -> None:
    height, width = size
    image_dir = os.path.join(root, "images", split)
    label_dir = os.path.join(root, "annotations", split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(label_dir, exist_ok=True)
    for index in range(num_images):
        image = Image.fromarray(rng.integers(90, 140, size=(height, width, 3), dtype=np.uint8))
        label = Image.new("L", (width, height), 1)
        draw_image, draw_label = ImageDraw.Draw(image), ImageDraw.Draw(label)
        for _ in range(int(rng.integers(1, max_objects + 1))):
            category = int(rng.integers(NUM_SHAPE_CLASSES))
            radius = float(rng.uniform(0.12, 0.25) * min(height, width))
            cx, cy = float(rng.uniform(radius, width - radius)), float(rng.uniform(radius, height - radius))
            points = _polygon(category, cx, cy, radius)
            draw_image.polygon(points, fill=PALETTE[category])
            draw_label.polygon(points, fill=category + 2)
        draw_label.rectangle([0, 0, width - 1, height - 1], outline=0, width=2)
        image.save(os.path.join(image_dir, f"{index:06d}.jpg"), quality=95)
        label.save(os.path.join(label_dir, f"{index:06d}.png"))


def make_synthetic_ade20k(
    root: str | os.PathLike,
    num_train: int = 8,
    num_val: int = 4,
    size: tuple[int, int] = (128, 128),
    max_objects: int = 3,
    seed: int = 0,
) -> str:
    """Write the set under ``root`` (created if needed) and return ``root``."""
    root = os.fspath(root)
    if num_train < 1 or num_val < 1:
        raise ValueError(f"need at least one train and one val image, got {num_train} / {num_val}")
    rng = np.random.default_rng(seed)
    _write_split(root, "training", num_train, size, max_objects, rng)
    _write_split(root, "validation", num_val, size, max_objects, rng)
    return root


def use_synthetic_ade20k(cfg, root: str, crop_size: tuple[int, int] = (64, 64), batch_size: int = 2) -> None:
    """Point an mmseg ADE20K config (a ``mmengine.Config``) at the set written by
    :func:`make_synthetic_ade20k`, with small-image pipelines (``crop_size`` is (h, w)) and
    plain BN in the heads (SyncBN needs a process group)."""
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
