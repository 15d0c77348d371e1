"""Benchmark records as a plain-text table (with ratios to a reference model and to the Swin /
ConvNeXt of nearest FLOPs), as JSON and as CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

from .models import baseline_models

# The keys every record has (the JSON and CSV columns): the essential ones, then the details.
RECORD_KEYS = (
    "model", "params", "gflops", "throughput", "latency_ms", "peak_memory_mb", "batch_size",
    "img_size", "device", "dtype",
)
EXTRA_KEYS = (
    "throughput_min", "throughput_max", "latency_ms_min", "latency_ms_max", "train_throughput",
    "train_throughput_min", "train_throughput_max", "train_peak_memory_mb", "channels_last",
    "threads", "scan_backend", "malloc", "machine", "torch", "timm", "date", "error", "runtime",
    "runtime_version", "gmac_per_s", "peak_fraction", "latency_gmac_per_s", "latency_peak_fraction",
    "train_gmac_per_s", "train_peak_fraction", "peak_gmac_per_s", "peak_basis", "bf16_native",
    "warning",
)

# Name prefixes of the models every other model is compared with at equal FLOPs: the
# hierarchical baselines the papers compare against (Swin, ConvNeXt).
EQUAL_FLOPS_REFERENCES = ("swin_", "convnext_")


def nearest_equal_flops(record: dict, records: Sequence[dict]) -> dict | None:
    """The Swin / ConvNeXt record (in ``record``'s runtime) whose FLOPs are closest (in ratio) to
    ``record``'s."""
    if record.get("gflops") is None or record["model"].startswith(EQUAL_FLOPS_REFERENCES):
        return None
    candidates = [
        r for r in records
        if r["model"].startswith(EQUAL_FLOPS_REFERENCES) and r.get("gflops")
        and r.get("throughput") and r.get("runtime") == record.get("runtime")
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda r: abs(math.log(r["gflops"] / record["gflops"])))


def default_reference(records: Sequence[dict]) -> str | None:
    """Swin-T when it was measured, else the first timm baseline, else None."""
    names = [r["model"] for r in records if r.get("throughput")]
    if "swin_tiny_patch4_window7_224" in names:
        return "swin_tiny_patch4_window7_224"
    baselines = [n for n in names if n in baseline_models()]
    return baselines[0] if baselines else None


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def format_measured(value) -> str:
    """One decimal, but three significant digits for small values (slow models, busy CPUs)."""
    return _fmt(value, ".1f" if value is None or abs(value) >= 10 else ".3g")


def format_spread(record: dict, key: str) -> str:
    """`` ±N%``: half the fastest-to-slowest range of ``key``'s repeats, relative to the median."""
    low, high, mid = record.get(f"{key}_min"), record.get(f"{key}_max"), record.get(key)
    if None in (low, high, mid) or not mid:
        return ""
    return f" ±{50 * (high - low) / mid:.0f}%"


def settings_line(records: Sequence[dict]) -> str:
    """One line saying how and where the records were measured."""
    if not records:
        return ""
    r = records[0]
    layout = ", channels-last" if r.get("channels_last") else ""
    return (
        f"batch {r['batch_size']}, {r['img_size']}x{r['img_size']}, {r['device']}, {r['dtype']}"
        f"{layout}, {r['threads']} threads, scan backend {r['scan_backend']}, "
        f"malloc: {r.get('malloc') or 'default'}; {r['machine']}"
    )


def peak_line(records: Sequence[dict]) -> str:
    """The unit of the rate columns and the machine's peak (or why it is "n/a")."""
    if not records:
        return ""
    r = records[0]
    peak = r.get("peak_gmac_per_s")
    basis = r.get("peak_basis") or "n/a: not computed"
    where = f"{peak:.1f} GMAC/s = {basis}" if peak else basis
    return ("rates in GMAC/s: fvcore multiply-adds per image x img/s (1 MAC = 2 FLOP; training "
            f"counted as 3x the forward); peak {where}")


def _percent(record: dict, key: str) -> str:
    """``key``'s fraction of the peak in percent; "n/a" where the peak is not known."""
    if not record.get("peak_gmac_per_s"):
        return "n/a"
    fraction = record.get(key)
    if fraction is None:
        return "-"
    return f"{100 * fraction:.0f}%" if fraction >= 0.1 else f"{100 * fraction:.2g}%"


def format_table(records: Sequence[dict], reference: str | None = None) -> str:
    """A plain-text table; ``reference`` (default: :func:`default_reference`) gives the ×ref column
    and every non-baseline model is also compared with the Swin/ConvNeXt of nearest FLOPs."""
    reference = reference or default_reference(records)

    def throughput_of(model: str, runtime) -> float | None:
        return next((r["throughput"] for r in records
                     if r["model"] == model and r.get("runtime") == runtime and r.get("throughput")), None)

    # with several runtimes: a runtime column, and each runtime's speed-up over eager PyTorch
    runtimes = list(dict.fromkeys(r.get("runtime") for r in records))
    several = len(runtimes) > 1 or runtimes[0] not in (None, "torch")
    headers = [
        "model", "params(M)", "GFLOPs", "img/s", "latency(ms)", "train img/s", "peak MiB",
        "GMAC/s", "% of peak", "train GMAC/s", "train % of peak",
        f"x {reference or 'ref'}", "vs equal-FLOPs Swin/ConvNeXt",
    ]
    if several:
        headers[1:1] = ["runtime", "x torch"]
    rows = []
    for r in records:
        if r.get("error"):
            rows.append([r["model"], "error: " + r["error"][:100]] + [""] * (len(headers) - 2))
            continue
        ref_tp = throughput_of(reference, r.get("runtime")) if reference else None
        ratio = (r["throughput"] / ref_tp) if (ref_tp and r.get("throughput")) else None
        nearest = nearest_equal_flops(r, records)
        versus = (
            f"{r['throughput'] / nearest['throughput']:.2f}x {nearest['model']}"
            if nearest and r.get("throughput") else ""
        )
        row = [
            r["model"], _fmt(r["params"] and r["params"] / 1e6, ".2f"), _fmt(r["gflops"], ".3f"),
            format_measured(r["throughput"]) + format_spread(r, "throughput"),
            format_measured(r["latency_ms"]) + format_spread(r, "latency_ms"),
            format_measured(r["train_throughput"]) + format_spread(r, "train_throughput"),
            _fmt(r["peak_memory_mb"], ".0f"),
            format_measured(r.get("gmac_per_s")), _percent(r, "peak_fraction"),
            format_measured(r.get("train_gmac_per_s")), _percent(r, "train_peak_fraction"),
            _fmt(ratio, ".2f"), versus,
        ]
        if several:
            eager = throughput_of(r["model"], "torch")
            speedup = r["throughput"] / eager if (eager and r.get("throughput")) else None
            row[1:1] = [r.get("runtime") or "torch", _fmt(speedup, ".2f")]
        rows.append(row)
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    lines = [settings_line(records), peak_line(records)]
    lines += [f"warning: {w}" for w in dict.fromkeys(r["warning"] for r in records if r.get("warning"))]
    left = {0, len(headers) - 1, 1 if several else 0}
    for row in [headers, ["-" * w for w in widths]] + rows:
        cells = [str(c).ljust(w) if i in left else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def format_json(records: Sequence[dict]) -> str:
    return json.dumps(list(records), indent=2) + "\n"


def format_csv(records: Sequence[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RECORD_KEYS + EXTRA_KEYS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv}
