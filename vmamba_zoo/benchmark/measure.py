"""Measuring one model after another: params, FLOPs, throughput, latency, training throughput
and peak memory, each into one record per model (keys: :mod:`.report`).

How each number is measured:

* ``params``: number of parameter elements (buffers not counted), as fvcore's ``parameter_count``.
* ``gflops``: :func:`vmamba_zoo.count_flops` at batch 1 (fvcore multiply-adds, the papers'
  convention), with timm's fused attention switched off while counting so that attention
  matmuls are counted (fvcore has no handle for ``scaled_dot_product_attention``).
* ``throughput``: images/s of ``model(x)`` in eval mode under ``torch.inference_mode`` at the
  requested batch size: a few warm-up steps, then ``repeats`` timed repeats, each running as many
  steps as fit in ``min_repeat_time`` (at least one); the median repeat is reported and the
  fastest / slowest repeats give the spread.
* ``latency_ms``: the same protocol at batch size 1 (the time one image takes).
* ``runtime``: ``torch`` (eager PyTorch, as above) or a deployment runtime, ``onnxruntime`` /
  ``openvino`` (CPU): the model is exported to ONNX once per run and scan form
  (:mod:`vmamba_zoo.export`, a dynamic batch at the benchmark's image size; the sequential ONNX
  ``Scan`` for ONNX Runtime, the log-depth scan for OpenVINO) and the runtime's session, with ``threads``
  intra-op threads, is timed by the same protocol on the same input; params and FLOPs are the
  PyTorch model's, memory and training are measured for ``torch`` only.
* ``train_throughput``: images/s of one training step (forward, cross-entropy, backward, SGD step).
* ``peak_memory_mb``: on CUDA, ``torch.cuda.max_memory_allocated`` over one inference forward;
  on CPU, the same quantity for torch's CPU allocator: the model's weights and the input plus the
  high-water mark of the tensor allocations and frees that ``torch.profiler`` records
  (``profile_memory=True``) during one forward. Memory held outside torch's allocator (e.g.
  library workspaces) is not included, as on CUDA.
* ``gmac_per_s`` (and ``latency_`` / ``train_`` ones): the achieved multiply-add rate, and
  ``peak_fraction`` its share of the machine's peak ``peak_gmac_per_s`` (how, and when the peak is
  "n/a": :mod:`.roofline`).
* ``bf16_native``: with ``dtype`` bfloat16, whether the device runs it natively; when it does not,
  ``warning`` says so (the numbers then time bfloat16 emulated in float32).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F
from torch import nn

from vmamba_zoo import cpu_allocator
from vmamba_zoo.flops import count_flops

from . import roofline
from .models import create_model
from .report import EXTRA_KEYS, RECORD_KEYS, format_measured

METRICS = ("params", "flops", "throughput", "latency", "memory", "train")
RUNTIMES = ("torch", "onnxruntime", "openvino")
_TORCH_ONLY_METRICS = ("memory", "train")
DEFAULT_METRICS = ("params", "flops", "throughput", "latency", "memory")
DTYPES: dict[str, torch.dtype | None] = {
    "float32": None, "fp32": None, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}


@dataclass
class Settings:
    """How to benchmark: the input, the device, the numeric type and the timing protocol."""

    batch_size: int = 8
    img_size: int = 224
    device: str = "cpu"
    dtype: str = "float32"
    channels_last: bool = False
    threads: int | None = 2
    # glibc malloc keeps large blocks in its heap (see vmamba_zoo.cpu_allocator); process-wide,
    # so it applies to every model of the run alike
    heap_malloc: bool = True
    metrics: tuple[str, ...] = DEFAULT_METRICS
    warmup: int = 3
    repeats: int = 5
    min_repeat_time: float = 0.5
    runtimes: tuple[str, ...] = ("torch",)
    # the peak's FMA units per core and clock (None: the default assumption, the machine's clock)
    fma_units: int | None = None
    clock_ghz: float | None = None

    def __post_init__(self) -> None:
        self.metrics = tuple(self.metrics)
        self.runtimes = tuple(self.runtimes)
        if not self.runtimes or any(r not in RUNTIMES for r in self.runtimes):
            raise ValueError(f"runtimes must be among {', '.join(RUNTIMES)}, got {list(self.runtimes)}")
        deployed = [r for r in self.runtimes if r != "torch"]
        if deployed:
            if self.device != "cpu":
                raise ValueError(f"runtime(s) {', '.join(deployed)} run on the CPU here, got device {self.device!r}")
            if self.dtype not in ("float32", "fp32") or self.channels_last:
                raise ValueError(f"runtime(s) {', '.join(deployed)} run the float32 NCHW export: "
                                 "leave --dtype float32 and --channels-last off")
            from vmamba_zoo.export import require

            for runtime in deployed:
                require(runtime)
            require("onnx")
        if not self.metrics:
            raise ValueError(f"no metric given; choose from {', '.join(METRICS)}")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        for name in ("batch_size", "img_size", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0 or self.min_repeat_time < 0:
            raise ValueError("warmup and min_repeat_time must not be negative")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.fma_units is not None and self.fma_units < 1:
            raise ValueError(f"fma_units must be at least 1, got {self.fma_units}")
        if self.clock_ghz is not None and not (math.isfinite(self.clock_ghz) and self.clock_ghz > 0):
            raise ValueError(f"clock_ghz must be a positive number of GHz, got {self.clock_ghz}")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            device = None
        if device is None or device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be cpu or cuda[:N], got {self.device!r}")
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"device {self.device!r} was requested but no CUDA device is available")
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(
                    f"device {self.device!r}: there are {torch.cuda.device_count()} CUDA devices"
                )

    @property
    def dtype_name(self) -> str:
        return "float32" if DTYPES[self.dtype] is None else "bfloat16"


def machine_description(device: str = "cpu") -> str:
    """A one-line description of the hardware and software the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    text = f"{cpu} ({os.cpu_count()} logical CPUs)"
    if torch.device(device).type == "cuda":
        text = f"{torch.cuda.get_device_name(torch.device(device))}, host {text}"
    return f"{text}, {platform.system()}, torch {torch.__version__}"


def scan_backend(device: str) -> str | None:
    """The scan-op backend ``"auto"`` resolves to on ``device`` (None if it cannot be told)."""
    from vmamba_zoo.ops import backends

    try:
        return backends.resolve("auto", torch.device(device))
    except (RuntimeError, ValueError):
        return None


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_model_flops(model: nn.Module, img_size: int, in_chans: int = 3) -> int:
    """:func:`count_flops` with timm's fused attention off, so attention matmuls are counted."""
    fused = [m for m in model.modules() if getattr(m, "fused_attn", False) is True]
    for module in fused:
        module.fused_attn = False
    try:
        with warnings.catch_warnings():  # the jit tracer's deprecation and tracer warnings
            warnings.simplefilter("ignore")
            return count_flops(model, (in_chans, img_size, img_size))
    finally:
        for module in fused:
            module.fused_attn = True


@contextlib.contextmanager
def _stderr_silenced():
    """Silence file descriptor 2: the profiler's C++ side logs start/stop lines there."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    seen, total = set(), 0
    for t in tensors:
        key = (t.untyped_storage().data_ptr(), t.device)
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def cpu_allocation_high_water(step: Callable[[], object]) -> int:
    """Highest net number of bytes torch's CPU allocator held during ``step()``, above what it
    held when the step started (from the allocation and free events torch.profiler records)."""
    from torch.profiler import ProfilerActivity, profile

    with _stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    cpu = torch._C._autograd.DeviceType.CPU
    events = [
        e for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == cpu
    ]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        current += event.nbytes()
        peak = max(peak, current)
    return peak


def measure_peak_memory(model: nn.Module, step: Callable[[], object], inputs: torch.Tensor) -> float:
    """Peak memory in MiB of ``step()``: weights, input and everything allocated meanwhile."""
    if inputs.device.type == "cuda":
        torch.cuda.synchronize(inputs.device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(inputs.device)
        step()
        torch.cuda.synchronize(inputs.device)
        return torch.cuda.max_memory_allocated(inputs.device) / 2**20
    resident = _tensor_bytes(list(model.parameters()) + list(model.buffers()) + [inputs])
    return (resident + cpu_allocation_high_water(step)) / 2**20


def time_steps(
    step: Callable[[], object], device: torch.device, warmup: int, repeats: int,
    min_repeat_time: float,
) -> list[float]:
    """Seconds per step of each timed repeat (warm-up first; see the module docstring)."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    step()
    sync()
    single = time.perf_counter() - start
    iters = max(1, math.ceil(min_repeat_time / max(single, 1e-9)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            step()
        sync()
        times.append((time.perf_counter() - start) / iters)
    return times


def _cross_entropy(outputs, target: torch.Tensor) -> torch.Tensor:
    # Distillation models (e.g. GroupMamba) return (logits, distillation logits) in train mode.
    if isinstance(outputs, (tuple, list)):
        return sum(_cross_entropy(o, target) for o in outputs)
    return F.cross_entropy(outputs.float(), target)


def benchmark_model(
    name: str, settings: Settings, progress: Callable[[str], None] | None = None,
    runtime: str = "torch", onnx_file: Callable[[nn.Module, str], str] | None = None,
) -> dict:
    """Measure one model (with torch's thread count set from ``settings.threads``) in ``runtime``;
    returns a record (keys ``RECORD_KEYS + EXTRA_KEYS``). A deployment runtime runs the ONNX
    file ``onnx_file(model, runtime)`` returns (exported on first use, see :func:`run`). A model that
    fails to build or run gives a record whose ``error`` says why, with the unmeasured values
    None."""
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    if settings.heap_malloc:
        cpu_allocator.keep_large_blocks_in_heap()
    record = dict.fromkeys(RECORD_KEYS + EXTRA_KEYS)
    device = torch.device(settings.device)
    record.update(
        model=name, batch_size=settings.batch_size, img_size=settings.img_size,
        device=str(device), dtype=settings.dtype_name, channels_last=settings.channels_last,
        threads=torch.get_num_threads(), scan_backend=scan_backend(settings.device),
        malloc="large blocks in heap" if cpu_allocator.large_blocks_in_heap() else "default",
        machine=machine_description(settings.device), torch=torch.__version__,
        timm=timm.__version__, date=datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        runtime=runtime,
    )
    say = progress or (lambda message: None)
    if settings.dtype_name == "bfloat16":
        record["bf16_native"], note = roofline.bf16_support(settings.device)
        if not record["bf16_native"]:
            record["warning"] = note
            say(f"warning: {note}")
    peak = roofline.machine_peak(
        settings.device, settings.dtype_name, record["threads"], settings.fma_units, settings.clock_ghz,
    )
    record.update(peak_gmac_per_s=peak.gmac_per_s, peak_basis=peak.basis)
    try:
        _measure(name, settings, device, record, say, runtime, onnx_file)
    except Exception as exc:  # one broken model must not stop the comparison
        record["error"] = f"{type(exc).__name__}: {exc}"
        say(f"failed: {record['error']}")
    record.update(roofline.achieved_rates(record, peak))
    return record


def _deployed_step(run_file: Callable, x: torch.Tensor) -> Callable[[], object]:
    images = x.cpu().numpy()
    return lambda: run_file(images)


def _measure(name: str, settings: Settings, device: torch.device, record: dict, say,
             runtime: str = "torch", onnx_file: Callable[[nn.Module, str], str] | None = None) -> None:
    metrics = settings.metrics
    if runtime != "torch":
        metrics = tuple(m for m in metrics if m not in _TORCH_ONLY_METRICS)
    model = create_model(name, settings.img_size).eval()
    if "params" in metrics:
        record["params"] = count_params(model)
        say(f"params {record['params'] / 1e6:.2f}M")
    if "flops" in metrics:
        record["gflops"] = count_model_flops(model, settings.img_size) / 1e9
        say(f"{record['gflops']:.3f} GFLOPs")
    if not {"throughput", "latency", "memory", "train"} & set(metrics):
        return

    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory_format)
    autocast_dtype = DTYPES[settings.dtype]

    def make_input(batch: int) -> torch.Tensor:
        x = torch.randn(batch, 3, settings.img_size, settings.img_size, device=device)
        return x.contiguous(memory_format=memory_format)

    if runtime != "torch":
        from vmamba_zoo.export import load

        say(f"the ONNX export in {runtime}")
        run_file = load(onnx_file(model, runtime), runtime, threads=settings.threads)
        record["runtime_version"] = _runtime_version(runtime)

    def forward_step(x: torch.Tensor) -> Callable[[], object]:
        if runtime != "torch":
            return _deployed_step(run_file, x)

        def step():
            with torch.inference_mode(), torch.autocast(
                device.type, dtype=autocast_dtype or torch.bfloat16,
                enabled=autocast_dtype is not None,
            ):
                return model(x)
        return step

    timing = dict(
        device=device, warmup=settings.warmup, repeats=settings.repeats,
        min_repeat_time=settings.min_repeat_time,
    )
    x = make_input(settings.batch_size)
    if "throughput" in metrics:
        times = time_steps(forward_step(x), **timing)
        record["throughput"] = settings.batch_size / statistics.median(times)
        record["throughput_min"] = settings.batch_size / max(times)
        record["throughput_max"] = settings.batch_size / min(times)
        say(f"{format_measured(record['throughput'])} img/s")
    if "latency" in metrics:
        times = time_steps(forward_step(make_input(1)), **timing)
        record["latency_ms"] = 1e3 * statistics.median(times)
        record["latency_ms_min"] = 1e3 * min(times)
        record["latency_ms_max"] = 1e3 * max(times)
        say(f"latency {format_measured(record['latency_ms'])} ms")
    if "memory" in metrics:
        record["peak_memory_mb"] = measure_peak_memory(model, forward_step(x), x)
        say(f"peak memory {record['peak_memory_mb']:.0f} MiB")
    if "train" in metrics:
        _measure_training(model, settings, device, x, record, timing, autocast_dtype)
        say(f"train {format_measured(record['train_throughput'])} img/s")


def _runtime_version(runtime: str) -> str:
    import importlib

    module = importlib.import_module(runtime)
    return f"{runtime} {getattr(module, '__version__', None) or module.get_version()}"


def _measure_training(model, settings, device, x, record, timing, autocast_dtype) -> None:
    # A copy, so that training (weight updates, batch-norm statistics) leaves the model as it was.
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    num_classes = getattr(model, "num_classes", 1000) or 1000
    target = torch.randint(0, num_classes, (x.shape[0],), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None
        ):
            loss = _cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()

    times = time_steps(step, **timing)
    record["train_throughput"] = x.shape[0] / statistics.median(times)
    record["train_throughput_min"] = x.shape[0] / max(times)
    record["train_throughput_max"] = x.shape[0] / min(times)
    if "memory" in settings.metrics:
        record["train_peak_memory_mb"] = measure_peak_memory(model, step, x)


def run(
    names: Sequence[str], settings: Settings, progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Benchmark every model in every runtime of ``settings`` in turn, reporting progress lines
    through ``progress``. A model is exported to ONNX once per scan form the deployment runtimes
    need (into a temporary folder, removed at the end)."""
    records = []
    with tempfile.TemporaryDirectory(prefix="vmamba_zoo_benchmark_") as folder:
        for index, name in enumerate(names, 1):
            exported: dict[str, str] = {}

            def onnx_file(model: nn.Module, runtime: str, name=name, exported=exported) -> str:
                # each runtime's faster scan form that it runs correctly (see vmamba_zoo.export)
                scan = "sequential" if runtime == "onnxruntime" else "log_depth"
                if scan not in exported:
                    from vmamba_zoo.export import ExportSettings, export_model

                    export_settings = ExportSettings(img_size=(settings.img_size,) * 2, dynamic_batch=True, scan=scan)
                    path = os.path.join(folder, f"{name}_{scan}.onnx")
                    exported[scan] = export_model(model, path, "onnx", export_settings)
                return exported[scan]

            for runtime in settings.runtimes:
                start = time.perf_counter()
                label = name if len(settings.runtimes) == 1 else f"{name} ({runtime})"

                def say(message: str, prefix=f"[{index}/{len(names)}] {label}") -> None:
                    if progress is not None:
                        progress(f"{prefix}: {message}")

                say("building")
                record = benchmark_model(name, settings, say, runtime, onnx_file)
                say(f"done in {time.perf_counter() - start:.1f} s")
                records.append(record)
    return records
