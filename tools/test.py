"""Evaluate a checkpoint with any MMEngine config (detection, segmentation, classification).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...] [--tta] [--non-strict]
                        [--quiet]

The config, the checkpoint, --tta and the work dir are checked before anything is built: a bad
argument is one line on stderr and exit status 2. A checkpoint that does not fit the model
(missing, unexpected or mis-shaped tensors) stops before anything is evaluated, naming the keys
(exit status 1), unless --non-strict.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a clone

from vmamba_zoo.checkpoint import CheckpointMismatchError  # noqa: E402
from vmamba_zoo.cli import ArgumentError, fail  # noqa: E402
from vmamba_zoo.mm.runner import (  # noqa: E402
    add_common_args,
    add_quiet_argument,
    add_strictness_arg,
    build_runner,
    check_checkpoint_argument,
    load_config,
    runner_log_file,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Test a checkpoint with an MMEngine config")
    parser.add_argument("config", help="config file")
    parser.add_argument("checkpoint", help="checkpoint file (ours, or the authors' downstream release)")
    parser.add_argument("--tta", action="store_true", help="test-time augmentation (tta_model, tta_pipeline)")
    add_strictness_arg(parser)
    add_common_args(parser)
    add_quiet_argument(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_checkpoint_argument(args.checkpoint, "checkpoint")
        cfg = load_config(args)
        if args.tta and ("tta_model" not in cfg or "tta_pipeline" not in cfg):
            raise ArgumentError(f"--tta: {args.config} defines no tta_model / tta_pipeline")
    except ArgumentError as exc:
        return fail(exc)
    cfg.load_from = args.checkpoint
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.non_strict:
        cfg.strict_load = False
    try:
        runner = build_runner(cfg, quiet=args.quiet)
    except ArgumentError as exc:
        return fail(exc)
    if args.quiet:
        print(f"full log: {runner_log_file(runner)}", flush=True)
    try:
        metrics = runner.test()
    except CheckpointMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.quiet:  # MMEngine's own metrics line went to the log only
        for key, value in metrics.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
