"""The GPU check: every GPU code path of vmamba_zoo, in stages that stop at the first failure.

    bash tools/gpu_check.sh [--out DIR] [--stages a,b] [--skip a,b] [--budget-scale X]
    python tools/gpu_check.py --device cpu     # the stages' logic on small CPU shapes (CI)

Stages, in order (time budget on one H100 in brackets, enforced; ``--budget-scale`` stretches them):

1. ``env`` [10 s]: torch / triton / CUDA versions, the GPU, nvcc, compute-sanitizer, and which
   op backends run on the device.
2. ``build`` [90 s]: build the CUDA extension for this GPU (``tools/build_ext.sh`` with the
   device's arch + PTX) unless the built one is newer than csrc/cuda.
3. ``smoke`` [60 s]: every kernel once on odd small shapes, synchronising after each call.
4. ``memcheck`` [40 s]: ``smoke`` again under ``compute-sanitizer --tool memcheck``.
5. ``reverse`` [10 s]: the adjoint (reverse) scan of each backend against a Python loop.
6. ``vmamba`` [60 s]: b=2, G=4, Dg=192, N in {1, 16}, L in {3136, 784, 256, 196, 49}: y, last
   state, every gradient, and the all-states op and its gradients, against a float64 reference.
7. ``extras`` [25 s]: bfloat16 inputs, a side stream, the run-to-run spread of dB / dC, and
   bitwise repeatability under ``torch.use_deterministic_algorithms(True)``.
8. ``big_states`` [20 s]: an all-states output of more than 2^31 elements, forward and backward.
9. ``timings`` [20 s]: VMamba-T stage 1 (batch 128, 4 x 192 channels, L = 3136, N = 1) for each
   backend, forward and forward + backward, and the cross-scan / cross-merge.
10. ``bench_ops`` [35 s]: ``tools/bench_ops.py --device cuda`` at the VMamba-T stage shapes.
11. ``benchmark`` [60 s]: ``tools/benchmark.py``, one model per family and Swin-T / ConvNeXt-T,
    batch 128, float32 and bf16 autocast, inference and training throughput.
12. ``pytest`` [50 s]: every ``cuda``-marked test.

Each stage prints its result and time as it finishes; the run writes ``gpu_check.json`` (every
stage's status, time, budget and measurements) and ``summary.txt`` to ``--out``. Exit status 0
when every stage that ran passed. With ``--device cpu`` the stages that need a GPU are skipped
(and say so) and the others run on small shapes through the ``torch`` backend and Triton's
interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The baselines the families' models are compared with.
BENCHMARK_BASELINES = ("swin_tiny_patch4_window7_224", "convnext_tiny")


class StageFailed(Exception):
    """A check of a stage did not hold."""


class StageTimeout(Exception):
    """A stage ran past its budget."""


@dataclasses.dataclass
class Stage:
    name: str
    budget_s: float
    run: Callable[[Context], dict | None]
    gpu_only: bool = False
    help: str = ""


@dataclasses.dataclass
class Context:
    device: str  # "cuda" or "cpu"
    out: Path
    python: str
    log: Callable[[str], None] = print
    inner: bool = False  # running as the memcheck child

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"


# ---------------------------------------------------------------------------------------------
# Stage runner


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise StageTimeout in the main thread once ``seconds`` have passed."""
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):  # 0: not enforced
        yield
        return

    def expire(signum, frame):
        raise StageTimeout(f"ran past its budget of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_stages(stages: list[Stage], ctx: Context, selected: list[str], budget_scale: float = 1.0) -> list[dict]:
    """Run the ``selected`` stages in order; stop at the first failure. One result dict per stage.
    Each stage's budget times ``budget_scale`` is enforced (0: not enforced)."""
    results = []
    failed = False
    for stage in stages:
        # budget_scale 0: budgets reported (at one H100's) but not enforced
        result = {"stage": stage.name, "budget_s": round(stage.budget_s * (budget_scale or 1.0), 1),
                  "seconds": 0.0}
        if stage.name not in selected:
            result["status"] = "not selected"
        elif failed:
            result["status"] = "not run (an earlier stage failed)"
        elif stage.gpu_only and not ctx.cuda:
            result["status"] = "skipped"
            result["reason"] = "needs a CUDA device"
        else:
            enforced = "" if budget_scale else ", not enforced"
            ctx.log(f"[gpu-check] {stage.name}: {stage.help} (budget {result['budget_s']:.0f} s{enforced})")
            start = time.perf_counter()
            try:
                with _deadline(stage.budget_s * budget_scale):
                    details = stage.run(ctx)
                result["status"] = "passed"
                if isinstance(details, dict) and details.get("skipped"):
                    result["status"] = "skipped"
                    result["reason"] = details.pop("skipped")
                if details:
                    result["details"] = details
            except Exception as exc:  # a failed check, a timeout, or a crash: all stop the run
                result["status"] = "failed"
                result["error"] = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, (StageFailed, StageTimeout)):
                    result["traceback"] = traceback.format_exc()
                failed = True
            result["seconds"] = round(time.perf_counter() - start, 2)
            line = f"[gpu-check] {stage.name}: {result['status']} in {result['seconds']:.1f} s"
            if "reason" in result:
                line += f" ({result['reason']})"
            if "error" in result:
                line += f": {result['error']}"
            ctx.log(line)
        results.append(result)
    return results


def summary(results: list[dict]) -> str:
    lines = [f"{'stage':<12} {'status':<34} {'seconds':>8} {'budget':>7}"]
    for r in results:
        note = r.get("reason") or r.get("error") or ""
        lines.append(f"{r['stage']:<12} {r['status']:<34} {r['seconds']:>8.1f} {r['budget_s']:>7.0f}  {note}".rstrip())
    ran = [r for r in results if r["status"] in ("passed", "failed", "skipped")]
    lines.append(f"total {sum(r['seconds'] for r in ran):.1f} s of a budget of "
                 f"{sum(r['budget_s'] for r in ran):.0f} s")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Helpers shared by the stages


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def scan_backends(ctx: Context) -> list[str]:
    """The compiled backends under test on this device (Triton is interpreted on CPU)."""
    from vmamba_zoo.ops import available_backends

    candidates = ("triton", "cuda") if ctx.cuda else ("triton",)
    reasons = available_backends(ctx.device)
    missing = {name: reasons[name] for name in candidates if reasons[name] is not None}
    if missing:
        raise StageFailed(f"backends not available on {ctx.device}: {missing}")
    return list(candidates)


def scan_inputs(batch: int, groups: int, group_channels: int, N: int, L: int, device: str, seed: int = 0,
                dtype=None) -> dict:
    """Inputs shaped and scaled like a VMamba SS2D's scan (negative A, softplus step around -2)."""
    import torch

    dtype = dtype or torch.float32
    gen = torch.Generator().manual_seed(seed)
    channels = groups * group_channels

    def randn(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(device=device, dtype=dtype)

    return {
        "u": randn(batch, channels, L),
        "delta": randn(batch, channels, L, scale=0.5) - 2.0,
        "A": -(torch.rand(channels, N, generator=gen, dtype=torch.float64) + 0.1).to(device=device, dtype=dtype),
        "B": randn(batch, groups, N, L),
        "C": randn(batch, groups, N, L),
        "D": randn(channels),
        "delta_bias": randn(channels, scale=0.1),
    }


def scan_outputs(inputs: dict, backend: str, seed: int = 1) -> dict:
    """y, last state and every gradient of a loss with random weights on both outputs; then the
    all-states op and its gradients. Float64 inputs give the float64 reference."""
    import torch

    from vmamba_zoo.ops import selective_scan, selective_scan_states

    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    y, last = selective_scan(**leaves, delta_softplus=True, return_last_state=True, backend=backend)
    gen = torch.Generator().manual_seed(seed)
    dy = torch.randn(y.shape, generator=gen, dtype=torch.float64).to(y)
    dlast = torch.randn(last.shape, generator=gen, dtype=torch.float64).to(last)
    ((y * dy).sum() + (last * dlast).sum()).backward()
    out = {"y": y.detach(), "last_state": last.detach()}
    out.update({f"d{k}": v.grad for k, v in leaves.items()})
    names = ("u", "delta", "A", "B", "delta_bias")
    leaves = {k: inputs[k].detach().clone().requires_grad_(True) for k in names}
    h = selective_scan_states(**leaves, delta_softplus=True, backend=backend)
    dh = torch.randn(h.shape, generator=gen, dtype=torch.float64).to(h)
    (h * dh).sum().backward()
    out["states"] = h.detach()
    out.update({f"states d{k}": v.grad for k, v in leaves.items()})
    return out


def scaled_error(value, reference) -> float:
    """max |value - reference| / max(1, max |reference|), in float64; inf for non-finite values."""
    import torch

    value, reference = value.double(), reference.double()
    if not torch.isfinite(value).all():
        return float("inf")
    scale = max(1.0, reference.abs().max().item())
    return (value - reference).abs().max().item() / scale


def compare(outputs: dict, reference: dict, tolerance: float, label: str) -> dict[str, float]:
    errors = {name: scaled_error(outputs[name], reference[name]) for name in reference}
    worst = max(errors, key=errors.get)
    if errors[worst] > tolerance:
        raise StageFailed(f"{label}: {worst} differs from the float64 reference by {errors[worst]:.3g} "
                          f"(scaled), tolerance {tolerance:g}; all: "
                          + ", ".join(f"{k} {v:.2g}" for k, v in errors.items()))
    return errors


def as_double(inputs: dict) -> dict:
    import torch

    return {k: v.to(torch.float64) for k, v in inputs.items()}


def timed_ms(fn: Callable[[], object], device: str, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in ms, synchronised (CUDA events on the GPU)."""
    import torch

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def _subprocess(ctx: Context, args: list[str], timeout: float | None = None, env: dict | None = None) -> str:
    """Run a command from the repository root, echoing its output; fail on a non-zero exit."""
    ctx.log(f"[gpu-check]   $ {' '.join(args)}")
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    output = proc.stdout + proc.stderr
    for line in output.strip().splitlines()[-40:]:
        ctx.log(f"[gpu-check]   | {line}")
    if proc.returncode != 0:
        raise StageFailed(f"{args[0]} {' '.join(args[1:3])} ... exited with {proc.returncode}")
    return output


# ---------------------------------------------------------------------------------------------
# Stages


def stage_env(ctx: Context) -> dict:
    import torch

    from vmamba_zoo.ops import available_backends

    info = {"python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "host": platform.processor() or platform.machine()}
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError as exc:
        info["triton"] = f"not importable: {exc}"
    if ctx.cuda:
        if not torch.cuda.is_available():
            raise StageFailed("no CUDA device is visible (torch.cuda.is_available() is False)")
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gb=round(props.total_memory / 2**30, 1), sms=props.multi_processor_count,
                    devices=torch.cuda.device_count())
    info["nvcc"] = shutil.which("nvcc") or _cuda_tool("nvcc")
    info["compute_sanitizer"] = _cuda_tool("compute-sanitizer")
    if ctx.cuda and not extension_is_fresh():
        # importing a stale extension here would keep it loaded after the build stage
        info["backends"] = "reported by the build stage"
    else:
        info["backends"] = {k: v or "available" for k, v in available_backends(ctx.device).items()}
    for key, value in info.items():
        ctx.log(f"[gpu-check]   {key}: {value}")
    return info


def _cuda_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda", *sorted(glob.glob("/usr/local/cuda-*"))):
        if home and os.access(os.path.join(home, "bin", name), os.X_OK):
            return os.path.join(home, "bin", name)
    return None


def extension_is_fresh() -> bool:
    """The built CUDA extension exists and is newer than every source in csrc/cuda."""
    built = glob.glob(str(ROOT / "vmamba_zoo" / "_C_cuda*.so"))
    sources = glob.glob(str(ROOT / "csrc" / "cuda" / "*"))
    return bool(built) and min(os.path.getmtime(b) for b in built) > max(os.path.getmtime(s) for s in sources)


def stage_build(ctx: Context) -> dict:
    import torch

    from vmamba_zoo.ops import backends

    if extension_is_fresh():
        detail = {"built": "up to date (newer than csrc/cuda), not rebuilt"}
    else:
        major, minor = torch.cuda.get_device_capability(0)
        arch = f"{major}.{minor}+PTX"
        _subprocess(ctx, ["bash", "tools/build_ext.sh"],
                    env={"TORCH_CUDA_ARCH_LIST": arch, "MAX_JOBS": str(os.cpu_count() or 2)})
        detail = {"built": f"for {arch}"}
    backends.forget_extensions()
    reason = backends.unavailable_reason("cuda", torch.device("cuda"))
    if reason:
        raise StageFailed(f"the CUDA extension does not load: {reason}")
    detail["backends"] = {k: v or "available" for k, v in backends.available_backends("cuda").items()}
    ctx.log(f"[gpu-check]   backends on cuda: {detail['backends']}")
    return detail


def stage_smoke(ctx: Context) -> dict:
    """Every kernel once on odd shapes, synchronising after each call, against the reference."""
    import torch

    from vmamba_zoo.ops import CROSS_SCAN_MODES, cross_merge, cross_scan, cross_selective_scan

    calls = 0
    for backend in scan_backends(ctx):
        for N, L in ((3, 37), (1, 300)):
            inputs = scan_inputs(1, 3, 5, N, L, ctx.device)
            outputs = scan_outputs(inputs, backend)
            _sync(ctx.device)
            compare(outputs, scan_outputs(as_double(inputs), "torch"), 1e-3, f"{backend} N={N} L={L}")
            calls += 4
        x = torch.randn(2, 12, 5, 7, device=ctx.device, dtype=torch.float64, requires_grad=True)
        for mode in CROSS_SCAN_MODES:
            xs = cross_scan(x, mode, backend=backend)
            _sync(ctx.device)
            (dx,) = torch.autograd.grad(xs, x, torch.ones_like(xs))
            _sync(ctx.device)
            if not torch.equal(xs, cross_scan(x, mode, backend="torch")):
                raise StageFailed(f"{backend} cross_scan {mode} differs from the reference")
            merged = cross_merge(xs.detach(), 5, 7, mode, backend=backend)
            _sync(ctx.device)
            torch.testing.assert_close(merged, cross_merge(xs.detach(), 5, 7, mode, backend="torch"))
            torch.testing.assert_close(dx, cross_merge(torch.ones_like(xs), 5, 7, mode, backend="torch").view_as(x))
            calls += 3
        gen = torch.Generator().manual_seed(3)
        width, rank = 8, 1
        css = {
            "x": torch.randn(1, 5, 7, width, generator=gen),
            "x_proj_weight": torch.randn(4, rank + 2, width, generator=gen) * 0.3,
            "dt_projs_weight": torch.randn(4, width, rank, generator=gen),
            "dt_projs_bias": torch.randn(4, width, generator=gen) * 0.1,
            "A": -torch.rand(4 * width, 1, generator=gen) - 0.5,
            "D": torch.randn(4 * width, generator=gen),
        }
        css = {k: v.to(ctx.device) for k, v in css.items()}
        out = cross_selective_scan(**css, backend=backend)
        _sync(ctx.device)
        torch.testing.assert_close(out, cross_selective_scan(**css, backend="torch"), rtol=1e-3, atol=1e-4)
        calls += 1
    return {"calls": calls}


def stage_memcheck(ctx: Context) -> dict:
    sanitizer = _cuda_tool("compute-sanitizer")
    if sanitizer is None:
        return {"skipped": "compute-sanitizer not found (install the CUDA toolkit's sanitizer)"}
    with tempfile.TemporaryDirectory() as tmp:
        output = _subprocess(ctx, [sanitizer, "--tool", "memcheck", "--error-exitcode", "99",
                                   "--target-processes", "all", ctx.python, "tools/gpu_check.py", "--inner",
                                   "--stages", "smoke", "--out", tmp],
                             env={"PYTORCH_NO_CUDA_MEMORY_CACHING": "1"})  # each tensor its own allocation
    if "ERROR SUMMARY: 0 errors" not in output:
        raise StageFailed("compute-sanitizer did not report 0 errors")
    return {"sanitizer": sanitizer}


def adjoint_by_loop(inputs: dict, dy, dlast):
    """g_l = dLoss/dh_l of a one-row scan by the plain reverse loop g_l = a_{l+1} g_{l+1} + r_l."""
    import torch
    import torch.nn.functional as F

    row = {k: v.double().cpu() for k, v in inputs.items()}
    u, A, C = row["u"][0, 0], row["A"][0], row["C"][0, 0]  # (L,), (N,), (N, L)
    dt = F.softplus(row["delta"][0, 0] + row["delta_bias"][0])
    a = torch.exp(dt[None, :] * A[:, None])
    r = C * dy.double().cpu()[0, 0][None, :]
    g = torch.zeros_like(r)
    g[:, -1] = r[:, -1] + dlast.double().cpu()[0, 0]
    for l in range(r.shape[1] - 2, -1, -1):
        g[:, l] = a[:, l + 1] * g[:, l + 1] + r[:, l]
    return g, dt, u


def stage_reverse(ctx: Context) -> dict:
    """The adjoint scan runs from the end of the sequence: check it against a Python loop through
    dB = g * dt * u (one channel, so dB is that row's adjoint), over several chunks."""
    import torch

    from vmamba_zoo.ops import selective_scan

    L = 1000 if ctx.cuda else 150
    inputs = scan_inputs(1, 1, 1, 2, L, ctx.device, seed=5)
    gen = torch.Generator().manual_seed(6)
    dy = torch.randn(1, 1, L, generator=gen, dtype=torch.float64)
    dlast = torch.randn(1, 1, 2, generator=gen, dtype=torch.float64)
    g, dt, u = adjoint_by_loop(inputs, dy, dlast)
    expected = g * (dt * u)[None, :]
    errors = {}
    for backend in scan_backends(ctx):
        leaves = {k: v.detach().clone().requires_grad_(k == "B") for k, v in inputs.items()}
        y, last = selective_scan(**leaves, delta_softplus=True, return_last_state=True, backend=backend)
        ((y * dy.to(y)).sum() + (last * dlast.to(last)).sum()).backward()
        errors[backend] = scaled_error(leaves["B"].grad[0, 0].cpu(), expected)
        if errors[backend] > 1e-4:
            raise StageFailed(f"{backend}: the adjoint differs from the Python loop by {errors[backend]:.3g}")
    return {"scaled_error": errors, "L": L}


def vmamba_shapes(ctx: Context) -> list[tuple[int, int, int, int, int]]:
    """(batch, groups, Dg, N, L) of the stage."""
    if ctx.cuda:
        return [(2, 4, 192, N, L) for N in (1, 16) for L in (3136, 784, 256, 196, 49)]
    return [(1, 2, 3, N, L) for N in (1, 4) for L in (49, 37)]


def stage_vmamba(ctx: Context) -> dict:
    errors = {}
    for shape in vmamba_shapes(ctx):
        inputs = scan_inputs(*shape, ctx.device)
        reference = scan_outputs(as_double(inputs), "torch")
        for backend in scan_backends(ctx):
            label = f"{backend} b={shape[0]} G={shape[1]} Dg={shape[2]} N={shape[3]} L={shape[4]}"
            found = compare(scan_outputs(inputs, backend), reference, 2e-3, label)
            errors[label] = max(found.values())
            ctx.log(f"[gpu-check]   {label}: worst scaled error {errors[label]:.2e}")
        del reference
    return {"worst_scaled_error": errors}


def stage_extras(ctx: Context) -> dict:
    import torch

    details: dict = {}
    shape = (2, 4, 64, 16, 784) if ctx.cuda else (1, 2, 3, 4, 37)
    inputs = scan_inputs(*shape, ctx.device)
    backends = scan_backends(ctx)
    # bfloat16 u, delta, B, C (A, D, delta_bias float32, as under autocast)
    half = {k: (v.to(torch.bfloat16) if k in ("u", "delta", "B", "C") else v) for k, v in inputs.items()}
    reference = scan_outputs(as_double(half), "torch")
    # y comes back in u's dtype: its rounding to bfloat16 adds up to half an ulp to the kernel's error
    tolerance = 2e-3 + torch.finfo(torch.bfloat16).eps / 2
    for backend in backends:
        out = scan_outputs(half, backend)
        ref = {k: v for k, v in reference.items() if k in ("y", "last_state", "states")}
        details[f"bf16 {backend}"] = max(compare(out, ref, tolerance, f"bf16 {backend}").values())
    # a side stream: same results as on the default stream
    if ctx.cuda:
        for backend in backends:
            expected = scan_outputs(inputs, backend)
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                moved = {k: v.clone() for k, v in inputs.items()}
                out = scan_outputs(moved, backend)
            torch.cuda.current_stream().wait_stream(stream)
            torch.cuda.synchronize()
            if not torch.equal(out["y"], expected["y"]):
                raise StageFailed(f"{backend}: y on a side stream differs from the default stream")
            details[f"side stream {backend}"] = max(compare(out, expected, 1e-5, f"stream {backend}").values())
    # run-to-run spread of dB / dC (float atomics), then deterministic mode
    for backend in backends:
        runs = [scan_outputs(inputs, backend) for _ in range(3)]
        spread = max(scaled_error(r[k], runs[0][k]) for r in runs[1:] for k in ("dB", "dC"))
        details[f"dB/dC spread {backend}"] = spread
        if spread > 1e-4:
            raise StageFailed(f"{backend}: dB / dC vary by {spread:.3g} (scaled) from run to run")
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            first, second = scan_outputs(inputs, backend), scan_outputs(inputs, backend)
        finally:
            torch.use_deterministic_algorithms(previous)
        for name in first:
            if not torch.equal(first[name], second[name]):
                raise StageFailed(f"{backend}: {name} is not bitwise repeatable in deterministic mode")
    for key, value in details.items():
        ctx.log(f"[gpu-check]   {key}: {value:.2e}")
    return details


def stage_big_states(ctx: Context) -> dict:
    """A states output of more than 2^31 elements: its last rows against the reference."""
    import torch

    from vmamba_zoo.ops import selective_scan_states

    batch, channels, N, L = 64, 128, 16, 16385
    elements = batch * channels * N * L
    assert elements > 2**31
    needed = 3.2 * elements * 4  # states, dh, and the backward's transients
    free, _ = torch.cuda.mem_get_info()
    if free < needed:
        return {"skipped": f"needs {needed / 2**30:.0f} GiB free, the GPU has {free / 2**30:.0f}"}
    gen = torch.Generator(device="cuda").manual_seed(7)
    inputs = {
        "u": torch.randn(batch, channels, L, device="cuda", generator=gen),
        "delta": torch.randn(batch, channels, L, device="cuda", generator=gen) * 0.5 - 2,
        "A": -torch.rand(channels, N, device="cuda", generator=gen) - 0.1,
        "B": torch.randn(batch, 1, N, L, device="cuda", generator=gen),
        "delta_bias": torch.randn(channels, device="cuda", generator=gen) * 0.1,
    }
    details = {"elements": elements}
    for backend in scan_backends(ctx):
        leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
        h = selective_scan_states(**leaves, delta_softplus=True, backend=backend)
        h.backward(torch.ones_like(h))  # dh read at offsets past 2^31 as well
        torch.cuda.synchronize()
        # The last image alone (a few rows), recomputed by the reference.
        tail = {k: (v[-1:].clone() if k in ("u", "delta", "B") else v.clone()).requires_grad_(True)
                for k, v in inputs.items()}
        h_ref = selective_scan_states(**tail, delta_softplus=True, backend="torch")
        h_ref.backward(torch.ones_like(h_ref))
        errors = {"states": scaled_error(h[-1], h_ref[0]), "du": scaled_error(leaves["u"].grad[-1], tail["u"].grad[0]),
                  "dB": scaled_error(leaves["B"].grad[-1], tail["B"].grad[0])}
        details[backend] = errors
        if max(errors.values()) > 2e-3:
            raise StageFailed(f"{backend}: the last image of a >2^31-element states output differs: {errors}")
        del h, leaves, h_ref, tail
        torch.cuda.empty_cache()
    return details


def stage_timings(ctx: Context) -> dict:
    """VMamba-T stage 1: batch 128, 4 directions x 192 channels, 56 x 56, N = 1 (tiny on CPU)."""
    import torch

    from vmamba_zoo.ops import cross_merge, cross_scan, selective_scan

    batch, width, side, repeats = (128, 192, 56, 5) if ctx.cuda else (1, 4, 8, 1)
    inputs = scan_inputs(batch, 4, width, 1, side * side, ctx.device)
    timings = {}
    for backend in scan_backends(ctx) + ["torch"]:
        for dtype in (torch.float32, torch.bfloat16):
            if dtype == torch.bfloat16 and backend != "triton":
                continue  # only Triton reads bfloat16 without converting
            cast = {k: (v.to(dtype) if k in ("u", "delta", "B", "C") else v) for k, v in inputs.items()}
            leaves = {k: v.detach().requires_grad_(True) for k, v in cast.items()}
            name = f"selective_scan {backend} {str(dtype).removeprefix('torch.')}"

            def forward(t=cast, b=backend):
                with torch.no_grad():
                    return selective_scan(**t, delta_softplus=True, backend=b)

            def forward_backward(t=leaves, b=backend):
                selective_scan(**t, delta_softplus=True, backend=b).sum().backward()

            timings[f"{name} fwd ms"] = timed_ms(forward, ctx.device, repeats)
            timings[f"{name} fwd+bwd ms"] = timed_ms(forward_backward, ctx.device, repeats)
            ctx.log(f"[gpu-check]   {name}: forward {timings[f'{name} fwd ms']:.3f} ms, "
                    f"forward+backward {timings[f'{name} fwd+bwd ms']:.3f} ms")
    x = torch.randn(batch, width, side, side, device=ctx.device)
    ys = torch.randn(batch, 4, width, side * side, device=ctx.device)
    for backend in scan_backends(ctx) + ["torch"]:
        timings[f"cross_scan {backend} ms"] = timed_ms(lambda b=backend: cross_scan(x, "cross2d", backend=b),
                                                       ctx.device, repeats)
        timings[f"cross_merge {backend} ms"] = timed_ms(
            lambda b=backend: cross_merge(ys, side, side, "cross2d", backend=b), ctx.device, repeats)
        ctx.log(f"[gpu-check]   cross_scan / cross_merge {backend}: {timings[f'cross_scan {backend} ms']:.3f} / "
                f"{timings[f'cross_merge {backend} ms']:.3f} ms")
    return {k: round(v, 4) for k, v in timings.items()}


def stage_bench_ops(ctx: Context) -> dict:
    out = ctx.out / "bench_ops.json"
    _subprocess(ctx, [ctx.python, "tools/bench_ops.py", "--device", "cuda", "--backends", "triton,cuda",
                      "--batch", "128", "--repeats", "5", "--loop", "none", "--json", str(out)])
    return {"json": str(out)}


def benchmark_models() -> list[str]:
    """One model per family (the paper's final tiny model where a family has two
    representatives), then the baselines."""
    from vmamba_zoo import published

    per_family = {published.MODELS[name].family: name for name in published.representative_models()}
    return [*per_family.values(), *BENCHMARK_BASELINES]


def stage_benchmark(ctx: Context) -> dict:
    files = {}
    for dtype in ("float32", "bf16"):
        out = ctx.out / f"benchmark_{dtype}.json"
        _subprocess(ctx, [ctx.python, "tools/benchmark.py", "--model", *benchmark_models(), "-b", "128",
                          "--device", "cuda", "--dtype", dtype, "--metrics", "throughput,train", "--warmup", "1",
                          "--repeats", "2", "--min-repeat-time", "0.1", "--format", "json", "--out", str(out)])
        files[dtype] = str(out)
    return files


def stage_pytest(ctx: Context) -> dict:
    junit = ctx.out / "pytest_cuda.xml"
    output = _subprocess(ctx, [ctx.python, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                               f"--junitxml={junit}", "tests"])
    return {"result": output.strip().splitlines()[-1] if output.strip() else "", "junit": str(junit)}


STAGES = [
    Stage("env", 10, stage_env, help="environment and backends"),
    Stage("build", 90, stage_build, gpu_only=True, help="the CUDA extension for this GPU"),
    Stage("smoke", 60, stage_smoke, help="every kernel once on odd small shapes, synchronised"),
    Stage("memcheck", 40, stage_memcheck, gpu_only=True, help="smoke under compute-sanitizer memcheck"),
    Stage("reverse", 10, stage_reverse, help="the adjoint (reverse) scan against a Python loop"),
    Stage("vmamba", 60, stage_vmamba, help="VMamba shapes against a float64 reference"),
    Stage("extras", 25, stage_extras, help="bfloat16 inputs, side stream, dB/dC spread, deterministic mode"),
    Stage("big_states", 20, stage_big_states, gpu_only=True, help="a states output past 2^31 elements"),
    Stage("timings", 20, stage_timings, help="stage-1 timings of each backend and the cross-scan"),
    Stage("bench_ops", 35, stage_bench_ops, gpu_only=True, help="tools/bench_ops.py on the GPU"),
    Stage("benchmark", 60, stage_benchmark, gpu_only=True, help="tools/benchmark.py, batch 128, fp32 and AMP"),
    Stage("pytest", 50, stage_pytest, gpu_only=True, help="the cuda-marked tests"),
]
STAGE_NAMES = [s.name for s in STAGES]


def _stage_list(text: str, parser: argparse.ArgumentParser, flag: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STAGE_NAMES]
    if unknown or not names:
        parser.error(f"{flag} takes a comma list of {', '.join(STAGE_NAMES)}; got {text!r}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cuda (default), or cpu: the stages' logic on small shapes, no GPU")
    parser.add_argument("--out", default="gpu_check_out", help="folder for gpu_check.json, summary.txt, "
                        "and the benchmarks' JSON (default: gpu_check_out)")
    parser.add_argument("--stages", default=None, help="comma list of stages to run (default: all)")
    parser.add_argument("--skip", default=None, help="comma list of stages to leave out")
    parser.add_argument("--budget-scale", type=float, default=None,
                        help="multiply every stage's time budget (budgets are for one H100; on "
                             "--device cpu they are not enforced unless this is given)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)  # the memcheck child
    args = parser.parse_args(argv)
    args.selected = _stage_list(args.stages, parser, "--stages") if args.stages is not None else list(STAGE_NAMES)
    if args.skip is not None:
        skipped = _stage_list(args.skip, parser, "--skip")
        args.selected = [n for n in args.selected if n not in skipped]
    if args.budget_scale is not None and not args.budget_scale > 0:
        parser.error(f"--budget-scale must be positive, got {args.budget_scale}")
    if args.budget_scale is None:
        args.budget_scale = 1.0 if args.device == "cuda" else 0.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    probe = out / ".writable"
    probe.write_text("")  # fail now, not after the run, if the folder cannot be written
    probe.unlink()
    if args.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"  # read when our kernels are jitted
    ctx = Context(device=args.device, out=out, python=sys.executable, inner=args.inner,
                  log=lambda line: print(line, flush=True))
    budget_scale = 0.0 if args.inner else args.budget_scale  # the sanitizer's child: no alarms
    results = run_stages(STAGES, ctx, args.selected, budget_scale)
    text = summary(results)
    print(text)
    (out / "summary.txt").write_text(text + "\n")
    (out / "gpu_check.json").write_text(json.dumps({"device": args.device, "stages": results}, indent=2) + "\n")
    print(f"[gpu-check] wrote {out / 'gpu_check.json'} and {out / 'summary.txt'}")
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
