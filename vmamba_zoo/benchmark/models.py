"""Which models a benchmark run measures: the zoo's registrations, timm's baselines by size class,
shell-style patterns over timm's registry, and how a model is built for a given input size."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import timm
from torch import nn

import vmamba_zoo  # noqa: F401  (registers our models with timm before any create_model)
from vmamba_zoo import published

BASELINE_SIZES: tuple[str, ...] = tuple(published.BASELINES_BY_SIZE)


def zoo_models() -> list[str]:
    """Every timm name registered by ``vmamba_zoo`` (found through the entrypoints' modules)."""
    from timm.models import model_entrypoint

    return [
        name for name in timm.list_models()
        if model_entrypoint(name).__module__.split(".")[0] == "vmamba_zoo"
    ]


def baseline_models(sizes: str | Iterable[str] = "all") -> list[str]:
    """The timm baselines of the given size classes (``"all"``, or a comma list / iterable of
    :data:`BASELINE_SIZES`), as listed in :data:`vmamba_zoo.published.BASELINES_BY_SIZE`."""
    if isinstance(sizes, str):
        sizes = list(BASELINE_SIZES) if sizes == "all" else [s.strip() for s in sizes.split(",") if s.strip()]
    sizes = list(sizes)
    if not sizes:
        raise ValueError(f"no baseline size given; choose all or {', '.join(BASELINE_SIZES)}")
    names: list[str] = []
    for size in sizes:
        if size not in published.BASELINES_BY_SIZE:
            raise ValueError(f"unknown baseline size {size!r}; choose all or {', '.join(BASELINE_SIZES)}")
        names += [m.name for m in published.BASELINES_BY_SIZE[size] if m.name not in names]
    return names


def expand_model_names(patterns: Sequence[str]) -> list[str]:
    """Model names with shell-style wildcards (``'vmamba_*'``) expanded over timm's registry."""
    names: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = timm.list_models(pattern)
            if not matches:
                raise ValueError(f"no registered timm model matches {pattern!r}")
        elif not timm.is_model(pattern):
            raise ValueError(
                f"{pattern!r} is not a registered timm model (ours are registered by "
                f"`import vmamba_zoo`; see timm.list_models())"
            )
        else:
            matches = [pattern]
        names += [m for m in matches if m not in names]
    return names


def create_model(name: str, img_size: int) -> nn.Module:
    """``timm.create_model(name)``, passing ``img_size`` to models with a fixed input size."""
    kwargs = {}
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is not None and cfg.fixed_input_size and cfg.input_size[-1] != img_size:
        kwargs["img_size"] = img_size
    return timm.create_model(name, **kwargs)
