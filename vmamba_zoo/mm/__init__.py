"""MMEngine integration: ``custom_imports = dict(imports=['vmamba_zoo.mm'])`` registers the
backbones (one per family: ``VMamba``, ``EfficientVMamba``, ``GroupMamba``, ``SpatialMamba``,
``ResVMamba``; see backbones.py) in mmdet's and mmseg's ``MODELS`` (in whichever of the two is
installed; at least one must be), and routes mmengine's checkpoint loading through a safe loader
that also reads the objects mmengine itself saves (torch's weights-only default refuses them;
see checkpoint.py)."""

from __future__ import annotations

import importlib

import vmamba_zoo  # noqa: F401  (registers the timm models the backbones build)

from .backbones import BACKBONES, TimmMambaBackbone
from .checkpoint import allow_mmengine_checkpoint_objects

globals().update({backbone.__name__: backbone for backbone in BACKBONES})  # vmamba_zoo.mm.VMamba, ...
__all__ = ["TimmMambaBackbone", *(backbone.__name__ for backbone in BACKBONES)]


def _register(toolbox: str) -> bool:
    try:
        registry = importlib.import_module(f"{toolbox}.registry").MODELS
    except ImportError:
        return False
    for backbone in BACKBONES:
        registry.register_module(module=backbone, force=True)
    return True


allow_mmengine_checkpoint_objects()
_registered = [toolbox for toolbox in ("mmdet", "mmseg") if _register(toolbox)]
if not _registered:
    raise ImportError("vmamba_zoo.mm registers backbones with mmdet or mmseg; neither is installed")
