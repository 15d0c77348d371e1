"""Small synthetic data sets written on the fly, so that demos and tests need no download."""

from .synthetic_ade20k import make_synthetic_ade20k, use_synthetic_ade20k
from .synthetic_coco import make_synthetic_coco, use_synthetic_coco

__all__ = ["make_synthetic_coco", "use_synthetic_coco", "make_synthetic_ade20k", "use_synthetic_ade20k"]
