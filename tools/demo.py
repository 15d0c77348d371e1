#!/usr/bin/env python
"""The main job of ``make demo``: one model of each family against timm's baselines on this
machine (params, FLOPs, throughput, latency, memory; table, JSON, CSV and a plot), then
``tools/demo_detection.py``: a Mask R-CNN with a VMamba backbone that learns a synthetic task in a
few minutes (detections.png, loss.png).

    python tools/demo.py            # batch 8 at 224², every family and six baselines
    python tools/demo.py --quick    # a small smoke run: batch 2, fewer baselines and repeats
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from vmamba_zoo import benchmark, published  # noqa: E402  (imports vmamba_zoo: registers our models)


def family_models() -> list[tuple[str, str]]:
    """(display name, timm name) of the models the demo measures:
    ``vmamba_zoo.published.representative_models()``, so that a new family is measured without
    editing this file."""
    names = published.representative_models()
    covered = {published.MODELS[name].family for name in names}
    for key, family in published.FAMILIES.items():
        if key not in covered:
            print(f"note: {family.title} has no model in vmamba_zoo.published.MODELS yet; skipped", flush=True)
    return [(published.MODELS[name].title, name) for name in names]


QUICK_BASELINES = ("swin_tiny_patch4_window7_224", "convnext_tiny", "resnet50")
DETECTION_DEMO = os.path.join(REPO, "tools", "demo_detection.py")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out-dir", default=os.path.join(REPO, "work_dirs", "demo"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train", action="store_true", help="also time a training step")
    parser.add_argument("--skip-detection", action="store_true")
    return parser.parse_args(argv)


def available_family_models() -> list[str]:
    """The demo's family models (:func:`family_models`) that are registered; a note for each one
    that is not."""
    registered = set(benchmark.zoo_models())
    names = []
    for title, name in family_models():
        if name in registered:
            names.append(name)
        else:
            print(f"note: {title} ({name}) is not registered by vmamba_zoo yet; skipped",
                  flush=True)
    return names


def run_detection_demo(quick: bool, out_dir: str) -> int:
    command = [sys.executable, DETECTION_DEMO, "--out-dir", out_dir] + (["--quick"] if quick else [])
    print(f"\n== detection: tools/demo_detection.py {' '.join(command[2:])}", flush=True)
    return subprocess.call(command, cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    metrics = ("params", "flops", "throughput") if args.quick else benchmark.DEFAULT_METRICS
    settings = benchmark.Settings(
        batch_size=2 if args.quick else 8, img_size=224, device=args.device,
        threads=args.threads, metrics=metrics + (("train",) if args.train else ()),
        warmup=1 if args.quick else 3, repeats=2 if args.quick else 5,
        min_repeat_time=0.0 if args.quick else 0.5,
    )
    baselines = list(QUICK_BASELINES) if args.quick else benchmark.baseline_models("tiny")
    names = available_family_models() + baselines

    print(f"== benchmark: {len(names)} models on {benchmark.machine_description(args.device)}",
          flush=True)
    records = benchmark.run(names, settings, lambda line: print(line, file=sys.stderr, flush=True))

    os.makedirs(args.out_dir, exist_ok=True)
    table = benchmark.format_table(records)
    print("\n" + table, end="", flush=True)
    outputs = {
        "benchmark.txt": table,
        "benchmark.json": benchmark.format_json(records),
        "benchmark.csv": benchmark.format_csv(records),
    }
    for file, text in outputs.items():
        with open(os.path.join(args.out_dir, file), "w") as f:
            f.write(text)
    plot_path = os.path.join(args.out_dir, "benchmark.png")
    benchmark.plot(records, plot_path)
    print(f"wrote {', '.join(outputs)} and benchmark.png to {args.out_dir}", flush=True)

    status = 1 if any(r["error"] for r in records) else 0
    if not args.skip_detection:
        status = run_detection_demo(args.quick, args.out_dir) or status
    return status


if __name__ == "__main__":
    sys.exit(main())
