"""Small synthetic data sets written on the fly, so that demos and tests need no download
(``vmamba_zoo.mm.synthetic`` points MMEngine configs at them)."""

from .scenes import SceneStyle
from .synthetic_ade20k import make_synthetic_ade20k
from .synthetic_coco import make_synthetic_coco
from .synthetic_imagefolder import make_synthetic_imagefolder

__all__ = ["SceneStyle", "make_synthetic_coco", "make_synthetic_ade20k", "make_synthetic_imagefolder"]
