"""A small, learnable ImageFolder written to disk, for tests and the demo (no download).

Layout (what torchvision's ``ImageFolder`` and mmpretrain's ``CustomDataset`` read)::

    root/train/<class>/<index>.png
    root/val/<class>/<index>.png

Each class has its own colour and stripe orientation, drawn under random brightness, position
jitter and pixel noise, so that even a tiny model trained for a few iterations gets better than
chance, while no two images are identical. The same arguments always give the same files.
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["make_synthetic_imagefolder"]


def _class_palette(num_classes: int) -> np.ndarray:
    """One well-separated RGB colour per class (evenly spaced hues, full saturation)."""
    return np.array([colorsys.hsv_to_rgb(c / num_classes, 1.0, 1.0) for c in range(num_classes)]) * 255.0


def _draw(rng: np.random.Generator, colour: np.ndarray, orientation: int, size: int) -> np.ndarray:
    """An image of ``colour`` stripes (horizontal, vertical or diagonal by ``orientation``)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    period = size / rng.uniform(3.0, 5.0)
    phase = rng.uniform(0.0, period)
    coordinate = (ys, xs, xs + ys, xs - ys)[orientation % 4]
    stripes = (((coordinate + phase) // (period / 2)) % 2)[..., None]
    brightness = rng.uniform(0.6, 1.0)
    image = stripes * colour * brightness + (1 - stripes) * colour * 0.25
    image = image + rng.normal(0.0, 12.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_synthetic_imagefolder(
    root: str | os.PathLike,
    num_classes: int = 3,
    images_per_class: int | Sequence[int] = (8, 4),
    image_size: int = 48,
    splits: Sequence[str] = ("train", "val"),
    class_names: Sequence[str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a synthetic ImageFolder under ``root`` and return ``root`` as a ``Path``.

    Args:
        root: output folder (created; existing files of the same names are overwritten).
        num_classes: number of class folders.
        images_per_class: images per class, one number for every split or one per split.
        image_size: side of the square RGB PNGs.
        splits: split folder names.
        class_names: folder names (sorted order = label order, as ImageFolder assigns them);
            default ``class_000``, ``class_001``, ...
        seed: seed of the generator; the split index is mixed in so splits differ.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 pixels, got {image_size}")
    counts = [images_per_class] * len(splits) if isinstance(images_per_class, int) else list(images_per_class)
    if len(counts) != len(splits) or min(counts) < 1:
        raise ValueError(
            f"images_per_class must be a positive int or one positive int per split {tuple(splits)}, "
            f"got {images_per_class}"
        )
    names = list(class_names) if class_names is not None else [f"class_{c:03d}" for c in range(num_classes)]
    if len(names) != num_classes or len(set(names)) != num_classes:
        raise ValueError(f"class_names must be {num_classes} distinct names, got {names}")
    if sorted(names) != names:
        raise ValueError("class_names must be given in sorted order (ImageFolder labels folders in sorted order)")

    root = Path(root)
    palette = _class_palette(num_classes)
    for split_index, (split, count) in enumerate(zip(splits, counts)):
        rng = np.random.default_rng([seed, split_index])
        for label, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                pixels = _draw(rng, palette[label], label, image_size)
                Image.fromarray(pixels, mode="RGB").save(folder / f"{index:04d}.png")
    return root
