"""Evaluate a checkpoint with any MMEngine config (detection, segmentation, classification).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...] [--tta]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a clone

from vmamba_zoo.mm.runner import add_common_args, build_runner, load_config  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Test a checkpoint with an MMEngine config")
    parser.add_argument("config", help="config file")
    parser.add_argument("checkpoint", help="checkpoint file (ours, or the authors' downstream release)")
    parser.add_argument("--tta", action="store_true", help="test-time augmentation (tta_model, tta_pipeline)")
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.tta:
        if "tta_model" not in cfg or "tta_pipeline" not in cfg:
            raise ValueError(f"{args.config} defines no tta_model / tta_pipeline")
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    build_runner(cfg).test()


if __name__ == "__main__":
    main()
