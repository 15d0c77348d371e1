"""A tiny synthetic set in the ADE20K layout (mmseg's ``ADE20KDataset`` reads it unchanged;
``vmamba_zoo.mm.synthetic`` points an mmseg config at it)::

    root/images/training/000000.jpg      root/annotations/training/000000.png
    root/images/validation/000000.jpg    root/annotations/validation/000000.png

Label maps use ADE20K's convention: 0 is "other" (ignored, ``reduce_zero_label``), value k is
class k - 1. The background is class 0 ("wall"), the shapes of :mod:`.scenes` are classes 1-3
with their colours; a 2-pixel frame of 0 exercises the ignore index.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw

from .scenes import PALETTE, SceneStyle, noisy_background, random_shapes, write_train_val

__all__ = ["make_synthetic_ade20k"]


def _write_split(
    root: str, split: str, num_images: int, size: tuple[int, int], style: SceneStyle, rng: np.random.Generator
) -> None:
    height, width = size
    image_dir = os.path.join(root, "images", split)
    label_dir = os.path.join(root, "annotations", split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(label_dir, exist_ok=True)
    for index in range(num_images):
        image = Image.fromarray(noisy_background(rng, height, width))
        label = Image.new("L", (width, height), 1)
        draw_image, draw_label = ImageDraw.Draw(image), ImageDraw.Draw(label)
        for category, points in random_shapes(rng, height, width, style):
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
    style = SceneStyle(max_objects=max_objects)
    return write_train_val(
        root, _write_split, ("training", "validation"), num_train, num_val, size, style, seed
    )
