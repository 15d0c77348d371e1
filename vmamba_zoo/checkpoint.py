"""Loading checkpoints exactly as the original authors released them, safely and strictly.

The released ``.pth`` files hold the weights under ``model`` (and/or ``model_ema``) next to
optimizer state and, often, a pickled yacs ``CfgNode`` or ``argparse.Namespace``, which
``torch.load(weights_only=True)`` refuses. :func:`load_checkpoint_file` first tries exactly
that; if the file holds other objects it unpickles them as inert placeholders (no constructor,
no ``__setstate__`` or ``__reduce__`` code of theirs ever runs), keeping only what torch's
weights-only loader itself allows as real objects.

Every consumer goes through this module: timm's pretrained path (each zoo model's
``load_pretrained``, which timm calls for every pretrained source), the MMEngine backbones and
classifiers (``vmamba_zoo.mm``). A model converts the original key names with the
``checkpoint_filter_fn`` its class names; :func:`load_pretrained_checkpoint` applies it.
:func:`local_file` is the one rule for a checkpoint given as a path or a URL.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import types
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence

import torch
from timm.models import adapt_input_conv
from torch import nn

__all__ = [
    "CheckpointMismatchError",
    "extract_state_dict",
    "load_checkpoint_file",
    "load_pretrained_checkpoint",
    "load_state_dict_strict",
    "local_file",
    "rename_prefixes",
    "summarise_keys",
]

_STATE_DICT_KEYS = ("model", "state_dict", "model_ema", "state_dict_ema")


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit the model it is loaded into."""


def _allowed_globals() -> dict[str, object]:
    from torch import _weights_only_unpickler

    return _weights_only_unpickler._get_allowed_globals()


class _Inert(dict):
    """Placeholder for a pickled object of a class we refuse to import.

    It accepts whatever the pickle stream feeds it (constructor args, dict items, state) and
    stores it as data. It derives from dict because yacs' CfgNode is a dict subclass.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        dict.__setitem__(self, "__state__", state)

    def __reduce__(self):  # never re-pickled as the original class
        return (dict, (dict(self),))


def _restricted_pickle_module(
    extra_globals: Mapping[str, object] | None = None,
    extra_lookup: Callable[[str, str], object | None] | None = None,
) -> types.ModuleType:
    """A pickle module whose unpickler resolves only torch's weights-only globals, plus
    ``extra_globals`` (qualified name -> object) and whatever ``extra_lookup(module, name)``
    returns; every other global becomes an inert placeholder class."""
    allowed = {**_allowed_globals(), **(extra_globals or {})}

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            qualified = f"{module}.{name}"
            if qualified in allowed:
                return allowed[qualified]
            found = extra_lookup(module, name) if extra_lookup else None
            if found is not None:
                return found
            return type(f"Inert[{qualified}]", (_Inert,), {"__module__": __name__})

    module = types.ModuleType("vmamba_zoo_restricted_pickle")
    module.Unpickler = RestrictedUnpickler
    module.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()
    return module


def load_checkpoint_file(
    path: str | os.PathLike,
    map_location: str | torch.device | None = "cpu",
    extra_globals: Mapping[str, object] | None = None,
    extra_lookup: Callable[[str, str], object | None] | None = None,
) -> object:
    """Load a ``.pth`` file without executing code from it (see the module docstring).

    ``extra_globals`` / ``extra_lookup`` admit further classes as real objects (the MMEngine
    loader admits its own ``HistoryBuffer`` and numpy types this way)."""
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        pass
    pickle_module = _restricted_pickle_module(extra_globals, extra_lookup)
    return torch.load(path, map_location=map_location, weights_only=False, pickle_module=pickle_module)


def extract_state_dict(checkpoint: object, key: str | None = None) -> dict[str, torch.Tensor]:
    """The weights inside a loaded checkpoint: under ``key`` if given, else the first of
    ``model``, ``state_dict``, ``model_ema``, ``state_dict_ema``, else the mapping itself."""
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatchError(f"checkpoint is a {type(checkpoint).__name__}, not a mapping of weights")
    if key is not None:
        if key not in checkpoint:
            raise CheckpointMismatchError(f"checkpoint has no {key!r} entry; it has {sorted(checkpoint)}")
        state_dict = checkpoint[key]
    else:
        found = next((k for k in _STATE_DICT_KEYS if isinstance(checkpoint.get(k), Mapping)), None)
        state_dict = checkpoint[found] if found else checkpoint
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointMismatchError(f"no tensors found in checkpoint entries {sorted(state_dict)[:10]}")
    # DataParallel / DDP prefixes
    return {k[7:] if k.startswith("module.") else k: v for k, v in tensors.items()}


def rename_prefixes(
    state_dict: Mapping[str, torch.Tensor], rules: Sequence[tuple[re.Pattern, Callable[[re.Match], str]]]
) -> dict[str, torch.Tensor]:
    """Original key names to ours: the prefix matched by the first rule whose pattern matches is
    replaced by that rule's replacement(match); keys no rule matches are kept as they are (strict
    loading then names them)."""
    out = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            match = pattern.match(key)
            if match:
                key = replacement(match) + key[match.end():]
                break
        out[key] = value
    return out


def summarise_keys(keys: Sequence[str], limit: int = 20) -> str:
    """The first ``limit`` keys, comma-separated, and how many more there are (error messages)."""
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_state_dict_strict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], allow_missing: tuple[str, ...] = ()
) -> None:
    """Load every tensor or raise :class:`CheckpointMismatchError` naming the missing,
    unexpected and mis-shaped keys (``allow_missing`` keys may be absent)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and k not in allow_missing]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} (checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)})"
        for k, v in state_dict.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if missing or unexpected or misshaped:
        lines = [f"checkpoint does not fit {type(model).__name__}:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {summarise_keys(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {summarise_keys(unexpected)}")
        if misshaped:
            lines.append(f"  mis-shaped keys ({len(misshaped)}): {summarise_keys(misshaped)}")
        raise CheckpointMismatchError("\n".join(lines))
    model.load_state_dict(state_dict, strict=False)


def load_pretrained_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    filter_fn: Callable[[dict, nn.Module], dict] | None = None,
    key: str | None = None,
) -> None:
    """Load an original (or our own) checkpoint into ``model`` the way timm's pretrained
    loading would: filter/remap keys, adapt the first conv to ``in_chans``, drop the classifier
    when the model's class count differs, and fail loudly on anything else that does not fit.

    ``filter_fn`` defaults to the ``checkpoint_filter_fn`` the model's class names (every zoo
    model has one); a model without one (timm's own) takes the keys as they are."""
    if filter_fn is None:
        filter_fn = getattr(model, "checkpoint_filter_fn", None) or _keys_as_they_are
    state_dict = filter_fn(extract_state_dict(load_checkpoint_file(path), key), model)
    cfg = getattr(model, "pretrained_cfg", None) or {}
    allow_missing: tuple[str, ...] = ()

    first_conv = cfg.get("first_conv")
    if first_conv and f"{first_conv}.weight" in state_dict:
        weight = state_dict[f"{first_conv}.weight"]
        target = model.get_submodule(first_conv).weight
        if weight.shape[1] != target.shape[1]:
            state_dict[f"{first_conv}.weight"] = adapt_input_conv(target.shape[1], weight)

    classifier = cfg.get("classifier")
    if classifier and getattr(model, "num_classes", None) != cfg.get("num_classes"):
        # a new task (another class count, or no head): keep the fresh head(s), as timm does,
        # unless the checkpoint's head already fits the model (e.g. a 1000-class release loaded
        # into a 1000-class model whose default is another dataset). ``classifier`` may name
        # several heads (timm's convention for distilled models).
        classifiers = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        expected = model.state_dict()
        head_keys = [f"{c}.{s}" for c in classifiers for s in ("weight", "bias")]
        if not all(k in state_dict and k in expected and state_dict[k].shape == expected[k].shape
                   for k in head_keys if k in expected):
            allow_missing = tuple(head_keys)
            for key in allow_missing:
                state_dict.pop(key, None)
    load_state_dict_strict(model, state_dict, allow_missing)


def _keys_as_they_are(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    return state_dict


def local_file(path_or_url: str | os.PathLike) -> str:
    """A local file for a checkpoint named by a path or a URL.

    A path (no URL scheme) is returned as it is, ``~`` expanded; ``file://`` URLs name a local
    path too. ``http://`` and ``https://`` URLs are downloaded once, into
    ``<torch hub dir>/checkpoints/vmamba_zoo/<hash of the URL>/<file name>``, so that two URLs
    ending in the same file name never share a cached file. Any other scheme is a ValueError.
    """
    text = os.fspath(path_or_url)
    parsed = urllib.parse.urlparse(text)
    scheme = parsed.scheme.lower()
    if not scheme or (len(scheme) == 1 and os.name == "nt"):  # a path (or a Windows drive letter)
        return os.path.expanduser(text)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URLs must name a local file (no host), got {text!r}")
        return urllib.request.url2pathname(parsed.path)
    if scheme not in ("http", "https"):
        raise ValueError(
            f"checkpoint {text!r}: unsupported URL scheme {parsed.scheme!r} (use a local path, file://, http:// "
            "or https://)"
        )
    filename = os.path.basename(urllib.parse.unquote(parsed.path)) or "checkpoint"
    url_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
    local = os.path.join(torch.hub.get_dir(), "checkpoints", "vmamba_zoo", url_hash, filename)
    if not os.path.isfile(local):
        os.makedirs(os.path.dirname(local), exist_ok=True)
        torch.hub.download_url_to_file(text, local, progress=True)  # writes a temporary file, then renames
    return local
