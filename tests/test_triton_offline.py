"""The Triton kernels compile for sm_80 and sm_90 without a GPU (tools/triton_offline.py): the
interpreter accepts code the GPU compiler rejects, so every kernel is compiled as the backends
launch it, at VMamba's shapes, and its register use is read from the cubin."""

import importlib.util
import os
import sys

import pytest

pytest.importorskip("triton")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    spec = importlib.util.spec_from_file_location("triton_offline", os.path.join(ROOT, "tools", "triton_offline.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["triton_offline"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("arch", [80, 90])
def test_kernels_compile_for_gpu_without_spills(arch, monkeypatch, capsys):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    offline = _load()
    shapes = [(N, L) for N in (1, 16) for L in (256, 784, 3136)]
    reports = offline.build_reports((arch,), shapes, [(56, 56), (7, 7)], log=lambda r: print(offline._row(r)))
    kernels = {(r.kernel, r.variant) for r in reports}
    assert {("selective_scan_fwd", "y float32"), ("selective_scan_bwd", "y bfloat16"),
            ("selective_scan_bwd", "states deterministic float32"), ("cross_merge", "cross2d bfloat16")} <= kernels
    assert all(0 < r.registers <= 255 for r in reports)
    spilled = [offline._row(r) for r in reports if r.spill_stack_bytes]
    assert not spilled, "register spills:\n" + "\n".join(spilled)


def test_offline_compile_refuses_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    with pytest.raises(RuntimeError, match="unset TRITON_INTERPRET"):
        _load().build_reports((90,), [(1, 64)], [])
