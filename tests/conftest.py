"""Fixtures shared by the test files.

* ``upstream_code(family)`` / ``official``: the authors' code, loaded from the mirrors under
  ``$VMAMBA_ZOO_UPSTREAM`` (tests/upstream.py; the selective scan replaced by its float32
  reference recurrence); tests that need it skip, naming the variable, when it is unset.
* ``golden(variant)``: the recorded fixture of a released variant (tests/fidelity.py: the weight
  recipe, inputs, the authors' outputs and counts).
* ``original_checkpoint(variant, state_dict=None)``: a file in the authors' release format.
* ``backend`` (indirect parametrisation) takes a backend name, or ``"cpu:<path>"`` to run the
  ``cpu`` backend with its kernels on that path; ``cpu_isa`` runs a test once per path this CPU
  supports (once, as None, without the extension). Both restore the path that was active before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import torch

from fidelity import Fixture, write_original_checkpoint


@pytest.fixture(scope="session")
def upstream_code() -> Iterator[Callable[[str], object]]:
    """``upstream_code(family)``: the loaded authors' code (``upstream.Upstream``). One family is
    loaded at a time (their stand-in modules share names); asking for another unloads the last."""
    import upstream

    current: dict[str, object] = {}
    stack = contextlib.ExitStack()

    def get(family: str):
        reason = upstream.missing_reason(family)
        if reason:
            pytest.skip(reason)
        if family not in current:
            stack.close()
            current.clear()
            current[family] = stack.enter_context(upstream.load(family))
        return current[family]

    with stack:
        yield get


@pytest.fixture(scope="module")
def official(request, upstream_code):
    """The authors' model module of the test module's ``FAMILY``."""
    return upstream_code(request.module.FAMILY).module


@pytest.fixture
def golden() -> Callable[[str], Fixture]:
    return Fixture.load


@pytest.fixture
def original_checkpoint(tmp_path) -> Callable[..., Path]:
    """``original_checkpoint(variant, state_dict=None, name='release.pth')``: the fixture's
    weights (or ``state_dict``, with original key names) in the authors' release file format."""

    def write(variant: str, state_dict: Mapping[str, torch.Tensor] | None = None, name: str = "release.pth") -> Path:
        fixture = Fixture.load(variant)
        weights = fixture.checkpoint_state_dict() if state_dict is None else state_dict
        return write_original_checkpoint(tmp_path / name, weights, fixture.checkpoint_format)

    return write

def supported_cpu_isas() -> list[str]:
    """The kernel paths of the built extension this CPU can run ([] without the extension)."""
    try:
        from vmamba_zoo import _C
    except ImportError:
        return []
    return _C.supported_cpu_isas()


@contextlib.contextmanager
def _cpu_isa(name: str):
    from vmamba_zoo import _C

    previous = _C.active_cpu_isa()
    _C.set_cpu_isa(name)
    try:
        yield name
    finally:
        _C.set_cpu_isa(previous)


@pytest.fixture
def backend(request):
    name, _, isa = request.param.partition(":")
    if not isa:
        yield name
        return
    with _cpu_isa(isa):
        yield name


@pytest.fixture(params=supported_cpu_isas() or [None])
def cpu_isa(request):
    if request.param is None:
        yield None
        return
    with _cpu_isa(request.param) as name:
        yield name
