"""Train any MMEngine config (detection, segmentation, classification) from the repo root.

    python tools/train.py CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--resume [CKPT]] [--amp]
                         [--non-strict] [--quiet]
    bash tools/dist_train.sh CONFIG NGPUS [same options]

The config, a --resume checkpoint and the work dir are checked before anything is built: a bad
argument is one line on stderr and exit status 2. A --resume or ``load_from`` checkpoint that
does not fit the model (missing, unexpected or mis-shaped tensors) stops the run before training,
naming the keys (exit status 1), unless --non-strict.
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
    parser = argparse.ArgumentParser(description="Train a model from an MMEngine config")
    parser.add_argument("config", help="config file")
    parser.add_argument(
        "--resume", nargs="?", const="auto", default=None,
        help="resume from CKPT, or without a value from the latest checkpoint in the work dir",
    )
    parser.add_argument(
        "--amp", action="store_true",
        help="automatic mixed precision (AmpOptimWrapper); without a GPU it trains in float32, with a log line",
    )
    add_strictness_arg(parser)
    add_common_args(parser)
    add_quiet_argument(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.resume not in (None, "auto"):
            check_checkpoint_argument(args.resume, "--resume checkpoint")
        cfg = load_config(args)
    except ArgumentError as exc:
        return fail(exc)
    if args.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.non_strict:
        cfg.strict_load = False
    try:
        runner = build_runner(cfg, quiet=args.quiet)
    except ArgumentError as exc:
        return fail(exc)
    if args.quiet:
        print(f"full log: {runner_log_file(runner)}", flush=True)
    try:
        runner.train()
    except CheckpointMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
