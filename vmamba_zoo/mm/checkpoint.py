"""Loading MMEngine checkpoints (``load_from``, ``--resume``) safely under torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``, which torch 2.14 treats as
``weights_only=True``; that refuses the checkpoints mmengine itself writes (the message hub
holds ``HistoryBuffer`` objects, numpy arrays and scalars), so resuming fails — as does loading
the authors' released detector/segmentor checkpoints, written by mmengine too. Rather than
switching the check off for the whole process (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``), the
local and http(s) schemes of mmengine's ``CheckpointLoader`` are replaced by a loader that:

1. tries ``torch.load(weights_only=True)`` (plain weight files);
2. otherwise unpickles with an allowlist: torch's weights-only globals, numpy arrays / dtypes /
   scalars, and mmengine's ``HistoryBuffer`` (whose statistics methods are pickled as
   ``getattr(HistoryBuffer, name)``; only that exact lookup is allowed). Any other class
   becomes an inert placeholder: no constructor or ``__setstate__`` of a foreign class runs.

:func:`allow_mmengine_checkpoint_objects` installs it; ``import vmamba_zoo.mm`` calls it.

Whole-model weights (``load_from``, ``--resume``, ``tools/test.py CHECKPOINT``) go through
:func:`load_whole_model`: strict unless asked otherwise, because MMEngine's own loading is not
(a file whose weights it cannot find leaves a randomly initialised model, with a warning only).
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader
from torch import nn

from vmamba_zoo.checkpoint import (
    CheckpointMismatchError,
    extract_state_dict,
    load_checkpoint_file,
    local_file,
    summarise_keys,
)

_NUMPY_GLOBALS = {
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    "numpy._core.multiarray._reconstruct": np._core.multiarray._reconstruct,
    "numpy.core.multiarray._reconstruct": np._core.multiarray._reconstruct,
    "numpy._core.multiarray.scalar": np._core.multiarray.scalar,
    "numpy.core.multiarray.scalar": np._core.multiarray.scalar,
}


def _history_buffer_getattr(owner, name: str):
    """The one ``getattr`` a pickled HistoryBuffer needs: its class's statistics methods."""
    names = {"min", "max", "mean", "current", *HistoryBuffer._statistics_methods}
    if owner is not HistoryBuffer or name not in names:
        raise pickle.UnpicklingError(f"refusing getattr({owner!r}, {name!r}) in a checkpoint")
    return getattr(owner, name)


def _numpy_dtype_class(module: str, name: str) -> type | None:
    """numpy's dtype classes (e.g. ``numpy.dtypes.Float64DType``), pickled by newer numpy."""
    if module == "numpy.dtypes" and isinstance(getattr(np.dtypes, name, None), type):
        return getattr(np.dtypes, name)
    return None


_MMENGINE_GLOBALS = {
    **_NUMPY_GLOBALS,
    "mmengine.logging.history_buffer.HistoryBuffer": HistoryBuffer,
    "builtins.getattr": _history_buffer_getattr,
    "__builtin__.getattr": _history_buffer_getattr,
}


def load_mmengine_checkpoint(filename: str, map_location=None) -> object:
    """Load a checkpoint file written by MMEngine (or a plain weight file) without running
    code from it (see the module docstring)."""
    return load_checkpoint_file(filename, map_location, _MMENGINE_GLOBALS, _numpy_dtype_class)


# named load_from_* as mmengine's own loaders (it logs the name after that prefix)
def load_from_local(filename: str, map_location=None) -> object:
    return load_mmengine_checkpoint(filename, map_location)


def load_from_http(url: str, map_location=None) -> object:
    return load_mmengine_checkpoint(local_file(url), map_location)


def allow_mmengine_checkpoint_objects() -> None:
    """Route mmengine's local-file and http(s) checkpoint loading through
    :func:`load_mmengine_checkpoint` (idempotent)."""
    CheckpointLoader.register_scheme(prefixes="", loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=("http://", "https://"), loader=load_from_http, force=True)


@dataclass
class LoadReport:
    """What :func:`load_whole_model` did: how many of the model's tensors the file filled, and
    the keys it could not place."""

    loaded: int
    total: int
    missing: list[str]
    unexpected: list[str]
    misshaped: list[str]
    counters_absent: int = 0  # BatchNorm num_batches_tracked, not in the file (kept as they were)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped)

    def summary(self) -> str:
        text = (
            f"{self.loaded} of the model's {self.total} tensors loaded; {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected, {len(self.misshaped)} of another shape"
        )
        return text + (f", {self.counters_absent} BatchNorm counters absent" if self.counters_absent else "")


_SIZE_MISMATCH = re.compile(r"size mismatch for (\S+): copying a param with shape (.*?) from checkpoint, "
                            r"the shape in current model is (.*?)\.(?:\n|$)")
_COUNTER = "num_batches_tracked"


def load_whole_model(
    model: nn.Module,
    checkpoint: Mapping,
    strict: bool = True,
    revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
    source: str = "checkpoint",
) -> LoadReport:
    """Load a whole detector / segmentor / classifier checkpoint into ``model``.

    The weights are found under ``state_dict`` (MMEngine's files), ``model`` (the authors'
    releases) or at the top level (:func:`vmamba_zoo.checkpoint.extract_state_dict`); the
    backbones' ``load_state_dict`` pre-hooks map the original repositories' key layouts. Strict
    (the default): a missing, unexpected or differently shaped tensor is a
    :class:`CheckpointMismatchError` naming the keys, raised before the model is used. Not
    strict: whatever fits is loaded, tensors of another shape are skipped, and the report counts
    the rest. BatchNorm's ``num_batches_tracked`` counters may be absent (MMEngine's rule too)."""
    state_dict = extract_state_dict(checkpoint)
    for pattern, replacement in revise_keys:
        state_dict = {re.sub(pattern, replacement, k): v for k, v in state_dict.items()}
    state_dict = OrderedDict(state_dict)
    # the model's own module versions: BatchNorm then reports an absent counter as missing
    # instead of inventing one, so that the counts below add up
    expected = model.state_dict()
    state_dict._metadata = expected._metadata
    found: dict[str, list[str]] = {}

    def record(module, incompatible) -> None:  # runs last, after every child's pre-hooks
        found.update(missing=list(incompatible.missing_keys), unexpected=list(incompatible.unexpected_keys))

    handle = model.register_load_state_dict_post_hook(record)
    misshaped: list[str] = []
    try:
        model.load_state_dict(state_dict, strict=False)
    except RuntimeError as exc:  # torch still copies every other tensor, then raises
        misshaped = [f"{k} (checkpoint {a} vs model {b})" for k, a, b in _SIZE_MISMATCH.findall(str(exc))]
        if not misshaped:
            raise
    finally:
        handle.remove()
    missing = [k for k in found["missing"] if not k.endswith(_COUNTER)]
    counters = len(found["missing"]) - len(missing)
    loaded = len(expected) - len(found["missing"]) - len(misshaped)
    report = LoadReport(loaded, len(expected), missing, found["unexpected"], misshaped, counters)
    if strict and not report.complete:
        lines = [f"{source} does not fit {type(model).__name__} ({report.summary()}):"]
        for what, keys in (("missing", missing), ("unexpected", report.unexpected), ("of another shape", misshaped)):
            if keys:
                lines.append(f"  {what} ({len(keys)}): {summarise_keys(keys)}")
        lines.append("  nothing was evaluated or trained; to load what fits, pass --non-strict "
                     "(or set strict_load = False in the config)")
        raise CheckpointMismatchError("\n".join(lines))
    return report
