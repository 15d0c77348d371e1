"""MMEngine integration: ``custom_imports = dict(imports=['vmamba_zoo.mm'])`` registers the
backbones (one per family: ``VMamba``, ``EfficientVMamba``, ``GroupMamba``, ``SpatialMamba``,
``ResVMamba``; see backbones.py) in mmdet's and mmseg's ``MODELS`` (in whichever of the two is
installed; at least one must be), routes mmengine's checkpoint loading through a safe loader
that also reads the objects mmengine itself saves (torch's weights-only default refuses them;
see checkpoint.py), and registers the hooks that make ``--resume`` exact (``EpochSeedHook``,
``IterSeedHook``, ``zoo_seed_worker``; see seeding.py)."""

from __future__ import annotations

import importlib
import importlib.util


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


# The MMEngine stack is the [mm] extra, not part of the core install: say how to get it before
# anything below fails on a missing module.
_MISSING = [name for name in ("mmengine", "mmcv") if not _installed(name)]
if not (_installed("mmdet") or _installed("mmseg")):
    _MISSING.append("mmdet or mmsegmentation")
if _MISSING:
    raise ImportError(
        f"vmamba_zoo.mm needs the MMEngine stack ({', '.join(_MISSING)} not installed): "
        "pip install 'vmamba_zoo[mm]' after building mmcv 2.1.0 with its ops from the sdist "
        "(no wheel exists for this torch; tools/setup_env.sh builds and caches it, see the README's Set-up)"
    )

import vmamba_zoo  # noqa: E402,F401  (registers the timm models the backbones build)

from .backbones import BACKBONES, TimmMambaBackbone  # noqa: E402
from .checkpoint import allow_mmengine_checkpoint_objects  # noqa: E402
from .seeding import EpochSeedHook, IterSeedHook, zoo_seed_worker  # noqa: E402,F401  (registers them)

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
