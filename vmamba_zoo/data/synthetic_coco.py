"""A tiny synthetic COCO instance-segmentation set (``vmamba_zoo.mm.synthetic`` points an mmdet
config at it).

Each image holds a few filled shapes on a noisy background (:mod:`.scenes`: the class decides the
shape and colour, so that a detector can learn something in a few iterations), and every instance
carries a box, an area and a polygon mask in the COCO ``instances_*.json`` format::

    root/train/000000.png ...   root/annotations/instances_train.json
    root/val/000000.png ...     root/annotations/instances_val.json
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .scenes import PALETTE, SceneStyle, noisy_background, random_shapes, write_train_val

__all__ = ["make_synthetic_coco"]


def _polygon_area(points: Sequence[tuple[float, float]]) -> float:
    xs, ys = np.array(points).T
    return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)


def _write_split(
    root: str, split: str, num_images: int, size: tuple[int, int], style: SceneStyle, rng: np.random.Generator
) -> str:
    height, width = size
    os.makedirs(os.path.join(root, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(num_images):
        image = Image.fromarray(noisy_background(rng, height, width))
        draw = ImageDraw.Draw(image)
        for category, outline in random_shapes(rng, height, width, style):
            points = [(round(x, 1), round(y, 1)) for x, y in outline]
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
    # with style.overlap, later shapes may cover earlier ones; the masks stay as drawn (COCO
    # tolerates overlaps)
    categories = [dict(id=i + 1, name=name, supercategory="shape") for i, name in enumerate(style.classes)]
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
    style: SceneStyle | None = None,
) -> str:
    """Write the set under ``root`` (created if needed) and return ``root``. ``style`` (classes,
    object count and size, overlaps) replaces the default style with ``max_objects``."""
    style = style or SceneStyle(max_objects=max_objects)
    return write_train_val(root, _write_split, ("train", "val"), num_train, num_val, size, style, seed)
