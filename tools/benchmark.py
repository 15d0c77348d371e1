#!/usr/bin/env python
"""Benchmark any timm model — ours (registered by ``import vmamba_zoo``) and timm's own — and
compare it with timm's baselines in the same run.

    python tools/benchmark.py --model vmamba_tiny_s1l8 --baselines tiny
    python tools/benchmark.py --model 'vmamba_*' -b 8 --format json --out results.json
    python tools/benchmark.py --model convnext_atto resnet18 --metrics params,flops,throughput
    python tools/benchmark.py --model vmamba_tiny --runtime torch onnxruntime openvino

Progress goes to stderr; the result goes to ``--out`` (or stdout) in ``--format``; with ``--out``
the table is printed as well, before the file and the figure are written. Every argument (and
that ``--out`` / ``--plot`` can be written) is checked before the first model is built. How every
number is measured: ``vmamba_zoo/benchmark/measure.py``.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vmamba_zoo import benchmark  # noqa: E402  (after the path set-up; imports vmamba_zoo first)
from vmamba_zoo.cli import ArgumentError, check_output_file, fail  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", default=[], metavar="NAME",
                        help="timm model names; shell wildcards are expanded ('vmamba_*')")
    parser.add_argument("--baselines", nargs="?", const="all", default=None, metavar="SIZES",
                        help="add timm's baselines: all (default) or a comma list of "
                             f"{', '.join(benchmark.BASELINE_SIZES)}")
    parser.add_argument("--reference", default=None, metavar="NAME",
                        help="model the 'x ref' column divides by (default: Swin-T if measured)")
    parser.add_argument("-b", "--batch-size", type=int, default=8)
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--dtype", default="float32", choices=list(benchmark.DTYPES),
                        help="float32, or bfloat16 autocast (bf16)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--runtime", nargs="+", default=["torch"], choices=list(benchmark.RUNTIMES),
                        help="eager PyTorch (torch) and/or the ONNX export in onnxruntime / openvino "
                             "(CPU; each model is exported once per run)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--fma-units", type=int, default=None, metavar="N",
                        help="vector FMA units per core for the peak rate (default "
                             f"{benchmark.DEFAULT_FMA_UNITS}, an assumption: see "
                             "vmamba_zoo/benchmark/roofline.py)")
    parser.add_argument("--clock-ghz", type=float, default=None, metavar="GHZ",
                        help="CPU clock for the peak rate (default: cpufreq's maximum, else "
                             "/proc/cpuinfo's cpu MHz)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc malloc as it is (default: keep large blocks in the heap "
                             "for every model of the run, see vmamba_zoo/cpu_allocator.py)")
    parser.add_argument("--metrics", default=",".join(benchmark.DEFAULT_METRICS),
                        help=f"comma list of {', '.join(benchmark.METRICS)}, or all")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up steps before timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    parser.add_argument("--min-repeat-time", type=float, default=0.5, metavar="SECONDS",
                        help="each repeat runs as many steps as fit in this time (at least one)")
    parser.add_argument("--format", default="table", choices=list(benchmark.FORMATTERS))
    parser.add_argument("--out", default=None, metavar="FILE")
    parser.add_argument("--plot", default=None, metavar="FILE",
                        help="draw the metric against FLOPs and published top-1 (matplotlib)")
    parser.add_argument("--plot-metric", default="throughput", choices=list(benchmark.PLOT_METRICS))
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if not args.model and args.baselines is None:
        parser.error("give --model NAME [NAME ...] and/or --baselines")
    return args


def _metrics(text: str) -> tuple[str, ...]:
    if text.strip() == "all":
        return benchmark.METRICS
    return tuple(m.strip() for m in text.split(",") if m.strip())


def _check(args: argparse.Namespace) -> tuple[benchmark.Settings, list[str]]:
    """The settings and model names, with every argument checked (``ValueError`` otherwise)."""
    settings = benchmark.Settings(
        batch_size=args.batch_size, img_size=args.img_size, device=args.device,
        dtype=args.dtype, channels_last=args.channels_last, threads=args.threads,
        heap_malloc=not args.default_malloc, fma_units=args.fma_units, clock_ghz=args.clock_ghz,
        metrics=_metrics(args.metrics), warmup=args.warmup, repeats=args.repeats,
        min_repeat_time=args.min_repeat_time, runtimes=tuple(dict.fromkeys(args.runtime)),
    )
    names = benchmark.expand_model_names(args.model)
    if args.baselines is not None:
        names += [n for n in benchmark.baseline_models(args.baselines) if n not in names]
    if args.reference is not None and args.reference not in names:
        raise ArgumentError(f"--reference {args.reference} is not one of the measured models")
    if args.reference is not None and "throughput" not in settings.metrics:
        raise ArgumentError("--reference compares throughput: add throughput to --metrics")
    if args.out:
        check_output_file(args.out, "--out")
    if args.plot:
        if args.out and os.path.abspath(args.plot) == os.path.abspath(args.out):
            raise ArgumentError(f"--plot and --out are the same file ({args.out})")
        if args.plot_metric not in settings.metrics:
            raise ArgumentError(
                f"--plot draws {args.plot_metric}: add it to --metrics (or set --plot-metric)"
            )
        benchmark.check_plot_file(args.plot)
        check_output_file(args.plot, "--plot")
    return settings, names


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings, names = _check(args)
    except ValueError as exc:
        return fail(exc)

    if settings.dtype_name == "bfloat16":
        native, note = benchmark.bf16_support(settings.device)
        if not native:  # said even with --quiet: the numbers time emulated bfloat16
            print(f"warning: {note}", file=sys.stderr, flush=True)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    records = benchmark.run(names, settings, progress)

    # the table first: whatever fails below, the measurements are on the screen
    table = benchmark.format_table(records, args.reference)
    if args.out or args.format == "table":
        print(table, end="", flush=True)
    else:
        print(benchmark.FORMATTERS[args.format](records), end="", flush=True)
    status = 1 if any(r["error"] for r in records) else 0
    try:
        if args.out:
            text = table if args.format == "table" else benchmark.FORMATTERS[args.format](records)
            with open(args.out, "w") as f:
                f.write(text)
            print(f"wrote {args.out}", file=sys.stderr)
        if args.plot:
            benchmark.plot(records, args.plot, args.plot_metric)
            print(f"wrote {args.plot}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
