"""A tiny synthetic COCO instance-segmentation set, and how to point an mmdet config at it.

Each image holds a few filled shapes on a noisy background; the class decides the shape and
colour (so that a detector can learn something in a few iterations), and every instance carries
a box, an area and a polygon mask in the COCO ``instances_*.json`` format::

    root/train/000000.png ...   root/annotations/instances_train.json
    root/val/000000.png ...     root/annotations/instances_val.json
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("square", "triangle", "disc")
PALETTE = [(220, 40, 40), (40, 200, 60), (40, 80, 230)]


def _polygon(category: int, cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    if category == 0:  # axis-aligned square
        return [(cx - radius, cy - radius), (cx + radius, cy - radius),
                (cx + radius, cy + radius), (cx - radius, cy + radius)]
    if category == 1:  # upward triangle
        return [(cx, cy - radius), (cx + radius, cy + radius), (cx - radius, cy + radius)]
    # disc as a 16-gon
    angles = [2 * math.pi * k / 16 for k in range(16)]
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


def _polygon_area(points: Sequence[tuple[float, float]]) -> float:
    xs, ys = np.array(points).T
    return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)


def _write_split(
    root: str, split: str, num_images: int, size: tuple[int, int], max_objects: int, rng: np.random.Generator
) -> str:
    height, width = size
    os.makedirs(os.path.join(root, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(num_images):
        pixels = rng.integers(90, 140, size=(height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, max_objects + 1))):
            category = int(rng.integers(len(CLASSES)))
            radius = float(rng.uniform(0.12, 0.25) * min(height, width))
            cx = float(rng.uniform(radius, width - radius))
            cy = float(rng.uniform(radius, height - radius))
            points = [(round(x, 1), round(y, 1)) for x, y in _polygon(category, cx, cy, radius)]
            draw.polygon(points, fill=PALETTE[category])
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            annotations.append(dict(
                id=len(annotations) + 1,
                image_id=image_id,
                category_id=category + 1,
                bbox=[min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                area=_polygon_area(points),
                segmentation=[[c for point in points for c in point]],
                iscrowd=0,
            ))
        file_name = f"{image_id:06d}.png"
        image.save(os.path.join(root, split, file_name))
        images.append(dict(id=image_id, file_name=file_name, height=height, width=width))
    # later shapes may cover earlier ones; the masks stay as drawn (COCO tolerates overlaps)
    categories = [dict(id=i + 1, name=name, supercategory="shape") for i, name in enumerate(CLASSES)]
    ann_file = os.path.join(root, "annotations", f"instances_{split}.json")
    os.makedirs(os.path.dirname(ann_file), exist_ok=True)
    with open(ann_file, "w") as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return ann_file


def make_synthetic_coco(
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
    _write_split(root, "train", num_train, size, max_objects, rng)
    _write_split(root, "val", num_val, size, max_objects, rng)
    return root


def use_synthetic_coco(cfg, root: str, img_scale: tuple[int, int] = (128, 128), batch_size: int = 2) -> None:
    """Point an mmdet config (Mask R-CNN or RetinaNet style, a ``mmengine.Config``) at the set
    written by :func:`make_synthetic_coco`: datasets, small-image pipelines, evaluators and the
    heads' class count. ``img_scale`` is (width, height) as mmdet's ``Resize`` takes it."""
    with_mask = "mask_head" in cfg.model.get("roi_head", {})
    metainfo = dict(classes=CLASSES, palette=PALETTE)
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
        cfg.model.roi_head.bbox_head.num_classes = len(CLASSES)
        if with_mask:
            cfg.model.roi_head.mask_head.num_classes = len(CLASSES)
    if "bbox_head" in cfg.model:
        cfg.model.bbox_head.num_classes = len(CLASSES)
