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
"""

from __future__ import annotations

import pickle

import numpy as np
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from vmamba_zoo.checkpoint import load_checkpoint_file, local_file

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
