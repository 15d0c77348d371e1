"""How close a measured model runs to the machine's peak arithmetic rate, and whether bfloat16
runs natively.

Unit: fvcore counts multiply-adds (MACs; one MAC is 2 FLOPs), so every rate here is in
**GMAC/s**: the model's GMACs per image (the benchmark's ``gflops`` column, which is fvcore's
count) × images/s. Training runs forward and backward, the backward about twice the forward's
multiply-adds (the gradients of the inputs and of the weights), so a training step is counted as
3 × the forward's MACs.

The CPU's peak, where it can be known, is ``cores × MAC lanes per FMA instruction × FMA units
per core × clock``:

* cores: the benchmark's threads, at most the machine's physical cores (SMT siblings share the
  FMA units);
* lanes: from the vector ISA ATen dispatches to (``torch.backends.cpu.get_cpu_capability()``):
  AVX-512 has 16 float32 lanes, AVX2 8; another ISA gives no peak. bfloat16 on a CPU with
  AVX512-BF16 doubles the lanes (``vdpbf16ps`` does two multiply-adds per float32 lane); with
  AMX, oneDNN runs bfloat16 matrix products on the tile unit instead, counted at Intel's 1024
  bfloat16 FLOPs (512 MACs) per cycle and core; bfloat16 without native support is converted
  and computed in float32, so the float32 peak applies;
* FMA units per core: :data:`DEFAULT_FMA_UNITS`, an assumption (Intel server cores from Skylake-SP
  on and AMD Zen cores have two; some Xeon Silver / Bronze parts have one AVX-512 unit), overridable
  (``--fma-units``);
* clock: the highest frequency the kernel reports (``cpufreq/cpuinfo_max_freq``), else
  ``/proc/cpuinfo``'s "cpu MHz" (the current, often nominal, frequency in a VM), overridable
  (``--clock-ghz``). Under an all-core load the clock may be lower: the peak is a ceiling.

On a GPU the peak is not known here (it depends on the model and the tensor-core path): "n/a".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

DEFAULT_FMA_UNITS = 2
# Intel's figure for AMX-BF16 (Sapphire Rapids on): 1024 bf16 FLOPs per cycle and core
AMX_BF16_MACS_PER_CYCLE = 512
# forward + backward (input and weight gradients) of a training step, in forward MACs
TRAIN_MACS_PER_FORWARD = 3
# float32 lanes of the vector ISAs ATen reports
F32_LANES = {"AVX512": 16, "AVX2": 8}
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 flags; "bf16" on Arm


@dataclass(frozen=True)
class CpuInfo:
    """What the peak is computed from; :meth:`detect` reads the running machine."""

    flags: frozenset[str] = frozenset()
    capability: str = ""  # torch.backends.cpu.get_cpu_capability()
    clock_ghz: float | None = None
    clock_source: str = ""
    physical_cores: int | None = None
    onednn_bf16: bool = False  # this torch's oneDNN runs bfloat16 on this CPU

    @classmethod
    def detect(cls) -> CpuInfo:
        blocks = _cpuinfo_blocks()
        flags: set[str] = set()
        mhz, cores = None, set()
        for block in blocks:
            flags.update((block.get("flags") or block.get("Features") or "").split())
            if mhz is None and block.get("cpu MHz"):
                with contextlib.suppress(ValueError):
                    mhz = float(block["cpu MHz"])
            if "core id" in block:
                cores.add((block.get("physical id"), block["core id"]))
        clock, source = None, ""
        with contextlib.suppress(OSError, ValueError):
            with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
                clock, source = int(f.read()) / 1e6, "cpufreq max"
        if clock is None and mhz:
            clock, source = mhz / 1e3, "/proc/cpuinfo cpu MHz"
        return cls(
            flags=frozenset(flags), capability=torch.backends.cpu.get_cpu_capability(),
            clock_ghz=clock, clock_source=source, physical_cores=len(cores) or None,
            onednn_bf16=_onednn_runs_bf16(),
        )


def _onednn_runs_bf16() -> bool:
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without this check: the CPU flags decide
        return True


def _cpuinfo_blocks() -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = [{}]
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    blocks.append({})
                elif ":" in line:
                    key, value = line.split(":", 1)
                    blocks[-1][key.strip()] = value.strip()
    return [b for b in blocks if b]


def bf16_support(device: str = "cpu", cpu: CpuInfo | None = None) -> tuple[bool, str]:
    """Whether ``device`` runs bfloat16 arithmetic natively, and a line saying why (not)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        major, minor = torch.cuda.get_device_capability(dev)
        if major >= 8:
            return True, f"CUDA compute capability {major}.{minor} has bfloat16 tensor cores"
        return False, (f"CUDA compute capability {major}.{minor} has no native bfloat16 "
                       "(needs 8.0+): bf16 is emulated")
    cpu = cpu or CpuInfo.detect()
    found = [flag for flag in NATIVE_BF16_FLAGS if flag in cpu.flags]
    if not found:
        return False, ("this CPU has no native bfloat16 (no avx512_bf16 / amx_bf16 flag in "
                       "/proc/cpuinfo): bf16 is emulated, its timings are not those of native bf16")
    if not cpu.onednn_bf16:
        return False, (f"the CPU has {', '.join(found)} but this torch's oneDNN does not run "
                       "bfloat16: bf16 is emulated")
    return True, f"native bfloat16 ({', '.join(found)})"


@dataclass(frozen=True)
class Peak:
    """The peak rate in GMAC/s (None where it cannot be known) and how it was obtained."""

    gmac_per_s: float | None
    basis: str


def machine_peak(
    device: str, dtype: str, threads: int | None, fma_units: int | None = None,
    clock_ghz: float | None = None, cpu: CpuInfo | None = None,
) -> Peak:
    """The peak multiply-add rate of ``threads`` cores in ``dtype`` ("float32" / "bfloat16"); see
    the module docstring. ``fma_units`` and ``clock_ghz`` override the assumption and the clock
    read from the machine; ``cpu`` defaults to :meth:`CpuInfo.detect`."""
    if torch.device(device).type != "cpu":
        return Peak(None, "n/a: the peak of a GPU is not known here")
    cpu = cpu or CpuInfo.detect()
    clock, clock_source = (clock_ghz, "given") if clock_ghz is not None else (cpu.clock_ghz, cpu.clock_source)
    if clock is None:
        return Peak(None, "n/a: the CPU clock is not reported (give --clock-ghz)")
    lanes = F32_LANES.get(cpu.capability)
    if lanes is None:
        return Peak(None, f"n/a: the lanes of vector ISA {cpu.capability or 'unknown'!r} are not known")
    cores = threads or os.cpu_count() or 1
    if cpu.physical_cores:
        cores = min(cores, cpu.physical_cores)
    units = fma_units if fma_units is not None else DEFAULT_FMA_UNITS
    units_text = f"{units} FMA unit{'s' if units != 1 else ''} ({'given' if fma_units is not None else 'assumed'})"
    clock_text = f"{clock:.2f} GHz ({clock_source})"
    if dtype == "bfloat16" and bf16_support("cpu", cpu)[0]:
        if "amx_bf16" in cpu.flags:
            per_core = AMX_BF16_MACS_PER_CYCLE
            how = f"{per_core} bf16 MAC/cycle (AMX)"
        else:
            per_core = 2 * lanes * units
            how = f"{2 * lanes} bf16 MAC lanes (AVX512-BF16) x {units_text}"
    else:
        per_core = lanes * units
        emulated = " (bf16 emulated in float32)" if dtype == "bfloat16" else ""
        how = f"{lanes} f32 lanes ({cpu.capability}){emulated} x {units_text}"
    return Peak(cores * per_core * clock, f"{cores} cores x {how} x {clock_text}")


def achieved_rates(record: Mapping, peak: Peak) -> dict[str, float | None]:
    """GMAC/s of the record's throughput (batch), latency (batch 1) and training, and each as a
    fraction of ``peak``; None where a number is missing."""
    gmacs = record.get("gflops")  # fvcore's count: multiply-adds
    rates: dict[str, float | None] = {
        "gmac_per_s": gmacs * record["throughput"] if gmacs and record.get("throughput") else None,
        "latency_gmac_per_s": gmacs * 1e3 / record["latency_ms"] if gmacs and record.get("latency_ms") else None,
        "train_gmac_per_s": (TRAIN_MACS_PER_FORWARD * gmacs * record["train_throughput"]
                             if gmacs and record.get("train_throughput") else None),
    }
    for key in ("", "latency_", "train_"):
        rate = rates[f"{key}gmac_per_s"]
        rates[f"{key}peak_fraction"] = rate / peak.gmac_per_s if rate and peak.gmac_per_s else None
    return rates
