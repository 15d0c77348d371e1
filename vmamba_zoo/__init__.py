"""vmamba_zoo: the visual-Mamba backbones behind timm, MMEngine (mmdet, mmseg) and fvcore.

``import vmamba_zoo`` registers every model with timm (``timm.create_model('vmamba_tiny')``).
"""

from . import models  # noqa: F401  (registers the timm models)
from .flops import count_flops

__version__ = "0.1.0"

__all__ = ["count_flops", "__version__"]
