"""Params, FLOPs, throughput, latency and peak memory of timm models — ours and timm's own — side
by side. ``tools/benchmark.py`` is the command line; this package holds the logic so that the
demo and the model-card generator use it too:

* :mod:`.models`: which models (the zoo's, timm's baselines by size, wildcard patterns) and how
  each is built;
* :mod:`.measure`: the settings and the measuring protocol (how each number is measured);
* :mod:`.roofline`: the machine's peak multiply-add rate, the achieved rates, native bfloat16;
* :mod:`.report`: the record keys, the table, JSON and CSV;
* :mod:`.figure`: the throughput-against-FLOPs / top-1 figure.
"""

from .figure import PLOT_METRICS, check_plot_file, plot
from .measure import (
    DEFAULT_METRICS,
    DTYPES,
    METRICS,
    RUNTIMES,
    Settings,
    benchmark_model,
    count_model_flops,
    count_params,
    cpu_allocation_high_water,
    machine_description,
    measure_peak_memory,
    run,
    scan_backend,
    time_steps,
)
from .models import BASELINE_SIZES, baseline_models, create_model, expand_model_names, zoo_models
from .report import (
    EQUAL_FLOPS_REFERENCES,
    EXTRA_KEYS,
    FORMATTERS,
    RECORD_KEYS,
    default_reference,
    format_csv,
    format_json,
    format_measured,
    format_spread,
    format_table,
    nearest_equal_flops,
    peak_line,
    settings_line,
)
from .roofline import DEFAULT_FMA_UNITS, CpuInfo, Peak, achieved_rates, bf16_support, machine_peak

__all__ = [
    "BASELINE_SIZES",
    "DEFAULT_FMA_UNITS",
    "DEFAULT_METRICS",
    "DTYPES",
    "EQUAL_FLOPS_REFERENCES",
    "EXTRA_KEYS",
    "FORMATTERS",
    "METRICS",
    "PLOT_METRICS",
    "RECORD_KEYS",
    "RUNTIMES",
    "CpuInfo",
    "Peak",
    "achieved_rates",
    "bf16_support",
    "Settings",
    "baseline_models",
    "benchmark_model",
    "check_plot_file",
    "count_model_flops",
    "count_params",
    "cpu_allocation_high_water",
    "create_model",
    "default_reference",
    "expand_model_names",
    "format_csv",
    "format_json",
    "format_measured",
    "format_spread",
    "format_table",
    "machine_description",
    "machine_peak",
    "measure_peak_memory",
    "nearest_equal_flops",
    "peak_line",
    "plot",
    "run",
    "scan_backend",
    "settings_line",
    "time_steps",
    "zoo_models",
]
