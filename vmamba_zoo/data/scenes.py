"""The scenes of the synthetic detection and segmentation sets: one shape and colour per class,
placed at random on a noisy background (so that a small model learns something in a few steps),
and the train/val splits drawn from one seeded generator."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

CLASSES = ("square", "triangle", "disc")
PALETTE = [(220, 40, 40), (40, 200, 60), (40, 80, 230)]


def shape_polygon(category: int, cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    """The outline of class ``category``'s shape centred at (cx, cy) with the given radius."""
    if category == 0:  # axis-aligned square
        return [(cx - radius, cy - radius), (cx + radius, cy - radius),
                (cx + radius, cy + radius), (cx - radius, cy + radius)]
    if category == 1:  # upward triangle
        return [(cx, cy - radius), (cx + radius, cy + radius), (cx - radius, cy + radius)]
    # disc as a 16-gon
    angles = [2 * math.pi * k / 16 for k in range(16)]
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


def noisy_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A grey RGB image with uniform pixel noise (uint8, HxWx3)."""
    return rng.integers(90, 140, size=(height, width, 3), dtype=np.uint8)


def random_shapes(
    rng: np.random.Generator, height: int, width: int, max_objects: int,
) -> list[tuple[int, list[tuple[float, float]]]]:
    """1 to ``max_objects`` shapes (class, outline) of random class, size (12-25% of the shorter
    side) and position, each wholly inside the image."""
    shapes = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        category = int(rng.integers(len(CLASSES)))
        radius = float(rng.uniform(0.12, 0.25) * min(height, width))
        cx = float(rng.uniform(radius, width - radius))
        cy = float(rng.uniform(radius, height - radius))
        shapes.append((category, shape_polygon(category, cx, cy, radius)))
    return shapes


def write_train_val(
    root: str | os.PathLike,
    write_split: Callable[[str, str, int, tuple[int, int], int, np.random.Generator], object],
    split_names: tuple[str, str],
    num_train: int,
    num_val: int,
    size: tuple[int, int],
    max_objects: int,
    seed: int,
) -> str:
    """Call ``write_split(root, split, num_images, size, max_objects, rng)`` for the train and the
    val split, in that order, with one generator seeded by ``seed``; returns ``root``."""
    root = os.fspath(root)
    if num_train < 1 or num_val < 1:
        raise ValueError(f"need at least one train and one val image, got {num_train} / {num_val}")
    rng = np.random.default_rng(seed)
    for split, count in zip(split_names, (num_train, num_val)):
        write_split(root, split, count, size, max_objects, rng)
    return root
