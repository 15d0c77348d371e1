"""timm's own model test-suite, run on the zoo's models.

The registry-driven tests of ``tests/test_models.py`` from the sdist of the installed timm
(``pip download --no-deps --no-binary :all: timm==<version>``, cached outside the clone in
``$VMAMBA_ZOO_CACHE`` or ``~/.cache/vmamba_zoo``; ``VMAMBA_ZOO_TIMM_TESTS`` names a folder that
already holds the file) are collected here unchanged, with the registry narrowed to our models:
every ``list_models`` / ``list_pretrained`` call of that file returns only the zoo models it would
have returned, and our modules join its ``FEAT_INTER_FILTERS`` (the modules whose models implement
``forward_intermediates``), as timm lists its own. Tests of named timm models (``resnet18``, ...),
tests that select none of ours and the two that download released weights
(:data:`DOWNLOADS_WEIGHTS`) are not collected. Nothing of timm's file is copied into the
repository (it is timm's, Apache-2.0).

``VMAMBA_ZOO_TIMM_MODELS`` picks the models: ``tiny`` (default: the smallest model of each
architecture, see :data:`TINY_MODELS`), ``all`` (every registered zoo model), or a
comma-separated list of names. Without the file and without a package registry to fetch it from,
the module is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import timm

import vmamba_zoo.models  # noqa: F401  (registers the zoo's models)
from vmamba_zoo import published
from vmamba_zoo.published import FAMILIES

pytestmark = pytest.mark.slow

# the families' smallest models (VMamba's two generations, which build different stems,
# downsamplers and blocks, with one each)
TINY_MODELS = tuple(published.representative_models())


def _zoo_models() -> list[str]:
    return timm.list_models(module=list(FAMILIES))


def _selected_models() -> set[str]:
    choice = os.environ.get("VMAMBA_ZOO_TIMM_MODELS", "tiny")
    zoo = _zoo_models()
    if choice == "tiny":
        return set(TINY_MODELS)
    if choice == "all":
        return set(zoo)
    names = {name.strip() for name in choice.split(",") if name.strip()}
    unknown = names - set(zoo)
    if unknown:
        raise ValueError(f"VMAMBA_ZOO_TIMM_MODELS names unknown zoo models: {sorted(unknown)}")
    return names


def _timm_test_file() -> Path:
    """``tests/test_models.py`` of the installed timm's sdist: the named or cached copy, else
    fetched from the package registry into the cache."""
    given = os.environ.get("VMAMBA_ZOO_TIMM_TESTS")
    if given:
        path = Path(given) / "test_models.py"
        if not path.is_file():
            raise FileNotFoundError(f"VMAMBA_ZOO_TIMM_TESTS={given} holds no test_models.py")
        return path
    version = timm.__version__
    cache = Path(os.environ.get("VMAMBA_ZOO_CACHE", Path.home() / ".cache" / "vmamba_zoo"))
    path = cache / f"timm-{version}-tests" / "test_models.py"
    if path.is_file():
        return path
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                   f"timm=={version}", "-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"timm's test file is not cached and `{' '.join(command[2:])}` failed: "
                        f"{result.stderr.strip()[-500:]}", allow_module_level=True)
        with tarfile.open(Path(tmp) / f"timm-{version}.tar.gz") as sdist:
            member = sdist.extractfile(f"timm-{version}/tests/test_models.py")
            staged = Path(tmp) / "test_models.py"
            staged.write_bytes(member.read())
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)
    return path


def _load_timm_tests(path: Path, selected: set[str]) -> ModuleType:
    """Import timm's test file with ``timm.list_models`` / ``timm.list_pretrained`` narrowed to
    ``selected`` while its decorators build the parametrisations."""
    list_models, list_pretrained = timm.list_models, timm.list_pretrained

    def keep(names: list[str]) -> list[str]:
        return [name for name in names if name.split(".")[0] in selected]

    def zoo_list_models(filter="", module="", *args, **kwargs):
        # the file passes its FEAT_INTER_FILTERS list as `module`: our families join it
        if isinstance(module, list) and module and not set(FAMILIES) <= set(module):
            module.extend(FAMILIES)
        return keep(list_models(filter, module, *args, **kwargs))

    def zoo_list_pretrained(*args, **kwargs):
        return keep(list_pretrained(*args, **kwargs))

    spec = importlib.util.spec_from_file_location("timm_test_models", path)
    module = importlib.util.module_from_spec(spec)
    timm.list_models, timm.list_pretrained = zoo_list_models, zoo_list_pretrained
    try:
        with warnings.catch_warnings():
            # the file's CI markers (base, cfg, fxforward, timeout, ...) are registered in timm's pyproject
            warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
            spec.loader.exec_module(module)
    finally:
        timm.list_models, timm.list_pretrained = list_models, list_pretrained
    return module


def _model_names(test) -> list[str] | None:
    """The ``model_name`` values a test is parametrised with (None: not parametrised by model)."""
    for mark in getattr(test, "pytestmark", ()):
        if mark.name == "parametrize" and mark.args[0] == "model_name":
            return list(mark.args[1])
    return None


# tests that download the released weights (create_model(pretrained=True)); nothing here
# downloads weights, loading our checkpoints is covered by tests/test_checkpoint.py
DOWNLOADS_WEIGHTS = ("test_model_load_pretrained", "test_model_features_pretrained")


def _collect(module: ModuleType, selected: set[str]) -> dict[str, object]:
    """The tests of ``module`` that select zoo models from the registry (except those that
    download weights), with the fixtures of that module they use."""
    collected = {}
    for name, test in vars(module).items():
        if not name.startswith("test_") or not callable(test) or name in DOWNLOADS_WEIGHTS:
            continue
        names = _model_names(test)
        if not names or any(n.split(".")[0] not in selected for n in names):
            continue  # a test of named timm models, or one that selects none of ours
        collected[name] = test
        for arg in inspect.signature(test).parameters:
            if hasattr(module, arg) and arg not in collected:
                collected[arg] = getattr(module, arg)  # a fixture defined in the file
    return collected


_SELECTED = _selected_models()
_TIMM_TESTS = _load_timm_tests(_timm_test_file(), _SELECTED)
globals().update(_collect(_TIMM_TESTS, _SELECTED))
