"""The scenes of the synthetic detection and segmentation sets: one shape and colour per class,
placed at random on a noisy background (so that a small model learns something in a few steps),
and the train/val splits drawn from one seeded generator."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLASSES = ("square", "triangle", "disc")
PALETTE = [(220, 40, 40), (40, 200, 60), (40, 80, 230)]


@dataclass(frozen=True)
class SceneStyle:
    """What the scenes of one synthetic set look like.

    Args:
        num_classes: the first ``num_classes`` of :data:`CLASSES` occur.
        max_objects: each image holds 1 to ``max_objects`` shapes.
        radius: the range of a shape's radius, as fractions of the image's shorter side.
        overlap: whether shapes may overlap (otherwise their enclosing circles stay apart).
    """

    num_classes: int = len(CLASSES)
    max_objects: int = 3
    radius: tuple[float, float] = (0.12, 0.25)
    overlap: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.num_classes <= len(CLASSES):
            raise ValueError(f"num_classes must be in [1, {len(CLASSES)}], got {self.num_classes}")
        if self.max_objects < 1:
            raise ValueError(f"max_objects must be at least 1, got {self.max_objects}")
        low, high = self.radius
        if not 0 < low <= high <= 0.5:
            raise ValueError(f"radius must be a range within (0, 0.5], got {self.radius}")

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES[: self.num_classes]


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
    rng: np.random.Generator, height: int, width: int, style: SceneStyle = SceneStyle(),
) -> list[tuple[int, list[tuple[float, float]]]]:
    """1 to ``style.max_objects`` shapes (class, outline) of random class, size and position, each
    wholly inside the image. Without ``style.overlap`` a shape that would touch an earlier one is
    drawn again (a few tries, then left out), so an image may hold fewer shapes."""
    shapes: list[tuple[int, list[tuple[float, float]]]] = []
    circles: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(1, style.max_objects + 1))):
        for _attempt in range(20):
            category = int(rng.integers(style.num_classes))
            radius = float(rng.uniform(*style.radius) * min(height, width))
            cx = float(rng.uniform(radius, width - radius))
            cy = float(rng.uniform(radius, height - radius))
            outline = shape_polygon(category, cx, cy, radius)
            reach = max(math.hypot(x - cx, y - cy) for x, y in outline)
            if style.overlap or all(math.hypot(cx - x, cy - y) > reach + r for x, y, r in circles):
                shapes.append((category, outline))
                circles.append((cx, cy, reach))
                break
    return shapes


def write_train_val(
    root: str | os.PathLike,
    write_split: Callable[[str, str, int, tuple[int, int], SceneStyle, np.random.Generator], object],
    split_names: tuple[str, str],
    num_train: int,
    num_val: int,
    size: tuple[int, int],
    style: SceneStyle,
    seed: int,
) -> str:
    """Call ``write_split(root, split, num_images, size, style, rng)`` for the train and the val
    split, in that order, with one generator seeded by ``seed``; returns ``root``."""
    root = os.fspath(root)
    if num_train < 1 or num_val < 1:
        raise ValueError(f"need at least one train and one val image, got {num_train} / {num_val}")
    rng = np.random.default_rng(seed)
    for split, count in zip(split_names, (num_train, num_val)):
        write_split(root, split, count, size, style, rng)
    return root
