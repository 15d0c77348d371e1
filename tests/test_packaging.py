"""Packaging: the core install works without the MM stack, the CPU kernels pick their
instruction-set path at run time (and keep each path's instructions to itself), and the built
wheel installs and runs in a fresh environment."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from vmamba_zoo import published

REPO = Path(__file__).resolve().parents[1]
MM_PACKAGES = ("mmengine", "mmcv", "mmdet", "mmseg", "mmpretrain", "cv2", "ftfy", "regex")
MM_MESSAGE = "pip install 'vmamba_zoo[mm]'"


def run_python(code: str, *, cwd: Path = REPO, env: dict | None = None, python: str = sys.executable,
               timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([python, "-c", textwrap.dedent(code)], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


# Hides the MM stack as if it were not installed (a meta-path finder ahead of the real ones).
HIDE_MM = f"""
import importlib.abc, sys
class HideMM(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {MM_PACKAGES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)", name=name)
        return None
sys.meta_path.insert(0, HideMM())
"""


def test_core_works_without_the_mm_stack(tmp_path):
    result = run_python(HIDE_MM + textwrap.dedent(f"""
        import runpy
        import timm, torch
        import vmamba_zoo
        from vmamba_zoo import count_flops
        from vmamba_zoo.ops import report

        model = timm.create_model("efficientvmamba_tiny", num_classes=10).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)
        assert count_flops(model, (3, 64, 64)) > 0
        report.main()
        sys.argv = ["tools/benchmark.py", "--model", "efficientvmamba_tiny", "-b", "1", "--img-size", "64",
                    "--threads", "1", "--warmup", "0", "--repeats", "1", "--min-repeat-time", "0", "--quiet",
                    "--metrics", "params,flops,throughput", "--format", "json", "--out", {str(tmp_path / 'b.json')!r}]
        try:
            runpy.run_path("tools/benchmark.py", run_name="__main__")
        except SystemExit as exc:
            assert not exc.code, exc.code
        for entry in ("vmamba_zoo.mm", "tools/train.py", "tools/test.py", "tools/get_flops.py"):
            sys.argv = [entry, "config.py", "checkpoint.pth"]
            try:
                if entry.endswith(".py"):
                    runpy.run_path(entry, run_name="__main__")
                else:
                    __import__(entry)
            except ImportError as exc:
                assert {MM_MESSAGE!r} in str(exc) and "mmcv 2.1.0" in str(exc), (entry, exc)
            else:
                raise AssertionError(entry + " ran without the MM stack")
        leaked = sorted(name for name in sys.modules if name.split(".")[0] in {MM_PACKAGES!r})
        assert not leaked, leaked
        print("core ok")
    """))
    assert result.returncode == 0 and "core ok" in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "b.json").stat().st_size > 0


# ------------------------------------------------------------------------- CPU kernel paths

ext = pytest.importorskip("vmamba_zoo._C", reason="the CPU extension is not built")


@pytest.mark.parametrize("isa", ext.supported_cpu_isas())
def test_environment_variable_picks_the_kernel_path(isa):
    result = run_python("""
        import torch
        from vmamba_zoo import _C
        from vmamba_zoo.ops import selective_scan, report
        print(_C.active_cpu_isa())
        u = torch.randn(1, 16, 9)
        y = selective_scan(u, u, -torch.rand(16, 1), torch.randn(1, 1, 1, 9), torch.randn(1, 1, 1, 9), backend="cpu")
        y_ref = selective_scan(u, u, -torch.rand(16, 1), torch.randn(1, 1, 1, 9), torch.randn(1, 1, 1, 9))
        report.main()
    """, env={"VMAMBA_ZOO_CPU_ISA": isa})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == isa
    assert f"cpu kernels: {isa} path" in result.stdout


@pytest.mark.parametrize("value, message", [("sse", "unknown CPU path 'sse'"), ("AVX2", "unknown CPU path 'AVX2'")])
def test_an_invalid_kernel_path_is_an_error_at_the_first_call(value, message):
    result = run_python("""
        import torch
        from vmamba_zoo.ops import selective_scan, report
        report.main()
        u = torch.randn(1, 4, 3)
        selective_scan(u, u, -torch.rand(4, 1), torch.randn(1, 1, 1, 3), torch.randn(1, 1, 1, 3), backend="cpu")
    """, env={"VMAMBA_ZOO_CPU_ISA": value})
    assert result.returncode != 0
    assert f"ValueError: VMAMBA_ZOO_CPU_ISA={value}: {message}" in result.stderr
    assert message in result.stdout  # the report says it too


# AVX-512-only encodings: zmm and mask registers, the upper 16 xmm/ymm registers, embedded
# broadcasts, and instructions with no VEX form.
AVX512_ONLY = (r"zmm|%k[0-7]|[xy]mm(1[6-9]|2[0-9]|3[01])\b|\{1to|vpternlog|vscalef|vrndscale|vreduce"
               r"|vpermt2|vpermi2|vfixupimm|vgetexp|vgetmant|vcvt[a-z]*2u?qq")


@pytest.mark.skipif(platform.machine() != "x86_64" or not shutil.which("objdump"),
                    reason="needs x86-64 and objdump")
def test_vector_instructions_stay_in_their_path():
    """Code outside the avx2 / avx512 kernel copies (entry points, the generic path, every
    inlined header function) has no VEX/EVEX instruction, and the avx2 copy no AVX-512 one: the
    extension loads and runs its generic path on any x86-64 CPU."""
    import re

    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", ext.__file__], capture_output=True,
                             text=True, check=True).stdout
    avx512_only = re.compile(AVX512_ONLY)
    function, violations, vector_counts = None, [], {"avx2": 0, "avx512": 0}
    for line in listing.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if header:
            function = header.group(1)
            path = "avx512" if "::avx512::" in function else "avx2" if "::avx2::" in function else "base"
            continue
        fields = line.split("\t")
        if function is None or len(fields) < 2 or not fields[-1].strip():
            continue
        instruction = fields[-1].strip()
        mnemonic = instruction.split()[0]
        if path == "base" and mnemonic.startswith("v") and mnemonic not in ("verr", "verw"):
            violations.append((function, instruction))
        elif path == "avx2" and avx512_only.search(instruction):
            violations.append((function, instruction))
        elif path != "base" and mnemonic.startswith("v"):
            vector_counts[path] += 1
    assert not violations, violations[:10]
    assert all(vector_counts.values()), vector_counts  # the copies exist and are vectorised


# ------------------------------------------------------------------------- the wheel

FAMILY_MODELS = published.representative_models()


@pytest.mark.slow
def test_sdist_and_wheel_install_and_run_in_a_fresh_environment(tmp_path):
    """python -m build: an sdist, and a wheel built from it with the CPU extension inside (the
    CUDA one is left out: it builds only where nvcc is, and is optional). The wheel goes into a
    fresh venv (torch and the other dependencies seen from this one, so nothing is downloaded)
    and runs each family's smallest model from outside the clone."""
    pytest.importorskip("build", reason="the [dev] extra's `build` is not installed")
    dist = tmp_path / "dist"
    env = {**os.environ, "VMAMBA_ZOO_NO_CUDA": "1", "MAX_JOBS": os.environ.get("MAX_JOBS", "2")}
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO)],
                   env=env, check=True, capture_output=True, text=True, timeout=1800)
    sdist = next(dist.glob("vmamba_zoo-*.tar.gz"))
    wheel = next(dist.glob("vmamba_zoo-*.whl"))
    assert "linux_x86_64" in wheel.name or platform.machine() != "x86_64"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert any(name.startswith("vmamba_zoo/_C.") and name.endswith(".so") for name in names), names
    import tarfile

    with tarfile.open(sdist) as tf:
        members = tf.getnames()
    assert any(m.endswith("csrc/cpu/simd.h") for m in members) and any(m.endswith("csrc/cpu/kernels.h") for m in members)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = run_python("import sysconfig; print(sysconfig.get_paths()['purelib'])", python=python).stdout.strip()
    # this environment's packages, after the fresh one's own (its editable vmamba_zoo is not seen:
    # the .pth files of a path added this way are not run)
    Path(site, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", site, str(wheel)],
                   check=True, capture_output=True)
    result = run_python(f"""
        import timm, torch, vmamba_zoo
        from vmamba_zoo import _C
        from vmamba_zoo.ops import available_backends, report
        assert vmamba_zoo.__file__.startswith({site!r}), vmamba_zoo.__file__
        assert available_backends("cpu")["cpu"] is None
        for name in {FAMILY_MODELS!r}:
            model = timm.create_model(name, num_classes=4).eval()
            with torch.no_grad():
                assert model(torch.randn(1, 3, 64, 64)).shape == (1, 4), name
        report.main()
        print("wheel ok")
    """, cwd=tmp_path, python=python)
    assert result.returncode == 0 and "wheel ok" in result.stdout, result.stdout + result.stderr
    assert "cpu kernels:" in result.stdout
