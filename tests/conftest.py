"""Fixtures shared by the op tests: the instruction-set paths of the CPU kernels.

``backend`` (indirect parametrisation) takes a backend name, or ``"cpu:<path>"`` to run the
``cpu`` backend with its kernels on that path; ``cpu_isa`` runs a test once per path this CPU
supports (once, as None, without the extension). Both restore the path that was active before.
"""

from __future__ import annotations

import contextlib

import pytest


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
