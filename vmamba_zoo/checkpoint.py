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
:func:`local_file` is the one rule for a checkpoint given as a path or a URL, and the one download
cache (``$VMAMBA_ZOO_WEIGHTS``, see :func:`cache_dir`).

A file is checked before its tensors are trusted: an empty file, a web page saved in place of the
file, a zip archive whose members fail their CRC (bit flips, a partial copy), bytes that are no
checkpoint, a pickled whole model, non-string keys and integer tensors for float parameters each
raise :class:`CheckpointFileError` (or :class:`CheckpointMismatchError` for the last) naming the
file and the problem.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import types
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence

import torch
from timm.models import adapt_input_conv, resolve_pretrained_cfg
from torch import nn

__all__ = [
    "CACHE_ENV",
    "CheckpointDownloadError",
    "CheckpointFileError",
    "CheckpointMismatchError",
    "cache_dir",
    "cache_path",
    "extract_state_dict",
    "google_drive_file_id",
    "load_checkpoint_file",
    "load_pretrained_checkpoint",
    "load_state_dict_strict",
    "local_file",
    "pretrained_file_overlay",
    "rename_prefixes",
    "summarise_keys",
    "verify_checkpoint_file",
]

_STATE_DICT_KEYS = ("model", "state_dict", "model_ema", "state_dict_ema")


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit the model it is loaded into."""


class CheckpointFileError(RuntimeError):
    """A checkpoint file that cannot be read or trusted (the message names the file and why)."""


class CheckpointDownloadError(RuntimeError):
    """A checkpoint URL that could not be fetched (the message says how to proceed offline)."""


def _allowed_globals() -> dict[str, object]:
    from torch import _weights_only_unpickler

    return _weights_only_unpickler._get_allowed_globals()


class _Inert(dict):
    """Placeholder for a pickled object of a class we refuse to import.

    It accepts whatever the pickle stream feeds it (constructor args, dict items, state) and
    stores it as data. It derives from dict because yacs' CfgNode is a dict subclass.
    """

    pickled_class = ""  # the qualified name of the class it stands for

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
            return type(f"Inert[{qualified}]", (_Inert,), {"__module__": __name__, "pickled_class": qualified})

    module = types.ModuleType("vmamba_zoo_restricted_pickle")
    module.Unpickler = RestrictedUnpickler
    module.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()
    return module


def verify_checkpoint_file(path: str | os.PathLike) -> None:
    """Check a checkpoint file before unpickling it: not empty, not a web page, and, for zip
    archives (``torch.save``'s format), every member's CRC-32 intact. Raises
    :class:`CheckpointFileError` naming the file (and the damaged member) otherwise."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointFileError(
            f"checkpoint file {path} is empty (0 bytes): the download or copy did not finish; delete it "
            "and fetch it again"
        )
    with open(path, "rb") as f:
        head = f.read(512)
    if head.lstrip().startswith(b"<"):  # markup (HTML, XML): never the start of a zip or a pickle
        raise CheckpointFileError(
            f"checkpoint file {path} is a web page (HTML), not a checkpoint: the URL names a download "
            "page (a Google Drive '/view' link, a sign-in or quota page) rather than the file. Download "
            "the file by hand in a browser, delete this one, and pass the downloaded file: "
            "timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=PATH))"
        )
    if not head.startswith(b"PK\x03\x04"):
        # the legacy (pre-1.6) format: a bare pickle stream (protocol 2 or later), no checksums
        if not (head[:1] == b"\x80" and 2 <= head[1] <= 5):
            raise CheckpointFileError(
                f"checkpoint file {path} is not a PyTorch checkpoint: it is neither a zip archive "
                f"(torch.save's format) nor a pickle stream (the legacy format); it starts with {head[:8]!r}"
            )
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CheckpointFileError(
            f"checkpoint file {path} is a damaged zip archive ({exc}): probably cut short in transfer; "
            "delete it and fetch it again"
        ) from None
    with archive:
        for member in archive.infolist():
            try:
                with archive.open(member) as stream:  # zipfile checks the CRC-32 at the member's end
                    while stream.read(1 << 24):
                        pass
            except (zipfile.BadZipFile, OSError) as exc:
                what = " (a tensor's storage)" if "/data/" in member.filename else ""
                raise CheckpointFileError(
                    f"checkpoint file {path} is damaged: member {member.filename!r}{what} fails its "
                    f"check ({exc}); the file was corrupted on disk or in transfer: delete it and "
                    "fetch it again"
                ) from None


def load_checkpoint_file(
    path: str | os.PathLike,
    map_location: str | torch.device | None = "cpu",
    extra_globals: Mapping[str, object] | None = None,
    extra_lookup: Callable[[str, str], object | None] | None = None,
) -> object:
    """Load a ``.pth`` file without executing code from it (see the module docstring), after
    :func:`verify_checkpoint_file`.

    ``extra_globals`` / ``extra_lookup`` admit further classes as real objects (the MMEngine
    loader admits its own ``HistoryBuffer`` and numpy types this way)."""
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    verify_checkpoint_file(path)
    try:
        try:
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError:
            pickle_module = _restricted_pickle_module(extra_globals, extra_lookup)
            checkpoint = torch.load(path, map_location=map_location, weights_only=False,
                                    pickle_module=pickle_module)
    except Exception as exc:  # a damaged stream fails in many ways (EOFError, KeyError, MemoryError...)
        raise CheckpointFileError(
            f"checkpoint file {path} could not be read as a PyTorch checkpoint "
            f"({type(exc).__name__}: {str(exc) or 'the data ends early'})"
        ) from None
    _check_whole_model(checkpoint, path)
    return checkpoint


def _check_whole_model(checkpoint: object, path: str) -> None:
    """A pickled ``nn.Module`` arrives as an inert placeholder: say what it was."""
    for value in (checkpoint, *(checkpoint.values() if isinstance(checkpoint, dict) else ())):
        pickled = getattr(value, "pickled_class", "")
        state = value.get("__state__") if isinstance(value, _Inert) else None
        if pickled and (pickled.startswith("torch.nn.") or (isinstance(state, dict) and "_parameters" in state)):
            raise CheckpointFileError(
                f"checkpoint file {path} holds a whole pickled model ({pickled}), not its weights; "
                "loading it would run that class's code, which we refuse. Save and load "
                "model.state_dict() instead (torch.save(model.state_dict(), PATH))"
            )


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
    not_names = [k for k in tensors if not isinstance(k, str)]
    if not_names:
        raise CheckpointMismatchError(
            f"checkpoint weights must be keyed by parameter names (strings); {len(not_names)} of "
            f"{len(tensors)} keys are not, e.g. {not_names[0]!r} ({type(not_names[0]).__name__})"
        )
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
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    allow_missing: tuple[str, ...] = (),
    source: str | os.PathLike | None = None,
) -> None:
    """Load every tensor or raise :class:`CheckpointMismatchError` naming the missing,
    unexpected, mis-shaped and mistyped keys (``allow_missing`` keys may be absent; ``source``,
    the file, is named in the message). Mistyped: a non-floating tensor (integer, bool) for a
    floating parameter or buffer, which ``load_state_dict`` would silently cast to float."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and k not in allow_missing]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} (checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)})"
        for k, v in state_dict.items()
        if k in expected and v.shape != expected[k].shape
    ]
    mistyped = [
        f"{k} ({v.dtype} vs model {expected[k].dtype})"
        for k, v in state_dict.items()
        if k in expected and expected[k].is_floating_point() and not v.is_floating_point()
    ]
    if missing or unexpected or misshaped or mistyped:
        where = f"checkpoint {os.fspath(source)}" if source is not None else "checkpoint"
        lines = [f"{where} does not fit {type(model).__name__}:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {summarise_keys(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {summarise_keys(unexpected)}")
        if misshaped:
            lines.append(f"  mis-shaped keys ({len(misshaped)}): {summarise_keys(misshaped)}")
        if mistyped:
            lines.append(f"  non-floating tensors for floating-point weights ({len(mistyped)}), not cast: "
                         f"{summarise_keys(mistyped)}")
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
    load_state_dict_strict(model, state_dict, allow_missing, source=path)


def _keys_as_they_are(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    return state_dict


CACHE_ENV = "VMAMBA_ZOO_WEIGHTS"
_DRIVE_PAGE = re.compile(r"^https?://drive\.google\.com/(?:file/d/([\w-]+)|open\?id=([\w-]+))")
# torch hub's convention: a file named ``name-<hex>.ext`` carries a prefix of its SHA-256
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")


def google_drive_file_id(url: str) -> str | None:
    """The file ID of a Google Drive page URL (``.../file/d/<id>/view``, ``open?id=<id>``), else None.
    Such a URL serves a web page, not the file."""
    match = _DRIVE_PAGE.match(url)
    return (match.group(1) or match.group(2)) if match else None


def cache_dir(root: str | os.PathLike | None = None) -> str:
    """Where downloaded checkpoints are kept: ``root`` if given (timm's ``cache_dir`` argument),
    else ``$VMAMBA_ZOO_WEIGHTS``, else ``<torch hub dir>/checkpoints/vmamba_zoo``. The layout is
    ``<dir>/<hash of the URL>/<file name>`` (see :func:`cache_path`): the same on every machine, so a
    directory filled once on a machine with network can be copied to an air-gapped cluster."""
    if root is not None:
        return os.path.expanduser(os.fspath(root))
    if os.environ.get(CACHE_ENV):
        return os.path.expanduser(os.environ[CACHE_ENV])
    return os.path.join(torch.hub.get_dir(), "checkpoints", "vmamba_zoo")


def cache_path(url: str, root: str | os.PathLike | None = None) -> str:
    """The cached file of ``url`` (whether present or not): one directory per URL, so that two
    URLs ending in the same file name never share a file. A Google Drive page is kept under its
    file ID."""
    file_id = google_drive_file_id(url)
    if file_id:
        filename = f"{file_id}.pth"
    else:
        filename = os.path.basename(urllib.parse.unquote(urllib.parse.urlparse(url).path)) or "checkpoint"
    url_hash = hashlib.sha256(url.encode()).hexdigest()[:16]
    return os.path.join(cache_dir(root), url_hash, filename)


def _offline_help(url: str, local: str) -> str:
    return (
        f"To proceed without this download: fetch the file by hand (on any machine), then either pass "
        f"it to timm: timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=PATH)) "
        f"(MMEngine configs: the file's path as the checkpoint), or save it as {local} "
        f"(the download cache; set {CACHE_ENV}=DIR to use a cache directory filled on another machine, "
        "laid out as DIR/<hash of the URL>/<file name>)."
    )


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def local_file(
    path_or_url: str | os.PathLike, sha256: str | None = None, root: str | os.PathLike | None = None
) -> str:
    """A local file for a checkpoint named by a path or a URL.

    A path (no URL scheme) is returned as it is, ``~`` expanded; ``file://`` URLs name a local
    path too. ``http://`` and ``https://`` URLs are downloaded once, to :func:`cache_path` (under
    ``root``, else :func:`cache_dir`'s default). A failed download raises
    :class:`CheckpointDownloadError` naming the URL and how to proceed offline; a Google Drive page
    (which serves a web page, not the file) is never downloaded: the same error names its file ID.
    Any other scheme is a ValueError.

    ``sha256`` (a hex digest or a prefix of one, at least 8 digits) is checked for every file,
    downloaded, cached or local; a URL whose file name carries a hash prefix in torch hub's
    ``name-<hex>.ext`` convention is checked on download. A mismatch raises
    :class:`CheckpointFileError` (and a download that fails it is not kept).
    """
    text = os.fspath(path_or_url)
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{8,64}", sha256):
        raise ValueError(f"sha256 must be 8 to 64 hex digits, got {sha256!r}")
    parsed = urllib.parse.urlparse(text)
    scheme = parsed.scheme.lower()
    if not scheme or (len(scheme) == 1 and os.name == "nt"):  # a path (or a Windows drive letter)
        local = os.path.expanduser(text)
    elif scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URLs must name a local file (no host), got {text!r}")
        local = urllib.request.url2pathname(parsed.path)
    elif scheme not in ("http", "https"):
        raise ValueError(
            f"checkpoint {text!r}: unsupported URL scheme {parsed.scheme!r} (use a local path, file://, http:// "
            "or https://)"
        )
    else:
        local = cache_path(text, root)
        if not os.path.isfile(local):
            _download(text, local, sha256)  # checks sha256 itself
            return local
    if sha256 is not None and os.path.isfile(local):
        actual = _sha256(local)
        if not actual.startswith(sha256.lower()):
            raise CheckpointFileError(
                f"checkpoint file {local} has SHA-256 {actual}, expected {sha256.lower()}...: the file is "
                "damaged or not the one expected; delete it and fetch it again"
            )
    return local


def _download(url: str, local: str, sha256: str | None) -> None:
    file_id = google_drive_file_id(url)
    if file_id:
        raise CheckpointDownloadError(
            f"{url} is a Google Drive page (file ID {file_id}), which serves a web page, not the file. "
            f"Download it by hand in a browser (or with a Google Drive client, using file ID {file_id}). "
            + _offline_help(url, local)
        )
    name_hash = _HASH_IN_NAME.search(os.path.basename(local))
    hash_prefix = sha256.lower() if sha256 else (name_hash.group(1) if name_hash else None)
    os.makedirs(os.path.dirname(local), exist_ok=True)
    try:
        # writes a temporary file, checks hash_prefix, then renames: no partial file in the cache
        torch.hub.download_url_to_file(url, local, hash_prefix=hash_prefix, progress=True)
    except RuntimeError as exc:  # torch hub's hash mismatch
        raise CheckpointFileError(f"download of {url} does not match its expected SHA-256 ({exc}); not kept") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CheckpointDownloadError(f"could not download {url} ({reason}). " + _offline_help(url, local)) from None


def pretrained_file_overlay(
    variant: str,
    pretrained_cfg: str | Mapping[str, object] | None = None,
    pretrained_cfg_overlay: Mapping[str, object] | None = None,
    root: str | os.PathLike | None = None,
) -> dict[str, object]:
    """``pretrained_cfg_overlay`` with ``file`` set to the local copy of the release URL when timm
    would fetch one: the zoo's models fetch their weights through :func:`local_file` (per-URL
    cache, ``$VMAMBA_ZOO_WEIGHTS``, errors that say how to proceed offline) instead of timm's
    download, which caches by file name. A ``file`` or ``state_dict`` the caller set is kept."""
    overlay = dict(pretrained_cfg_overlay or {})
    cfg = resolve_pretrained_cfg(variant, pretrained_cfg=pretrained_cfg, pretrained_cfg_overlay=overlay).to_dict()
    if cfg.get("file") or cfg.get("state_dict") or cfg.get("source") or not cfg.get("url"):
        return overlay
    overlay["file"] = local_file(cfg["url"], root=root)
    return overlay
