"""What ``tools/train.py``, ``tools/test.py`` and ``tools/get_flops.py`` share: reading any
MMEngine config (mmdet, mmseg, mmpretrain) with its ``custom_imports``, the command-line
overrides, and MMEngine's pytorch launcher on machines without CUDA."""

from __future__ import annotations

import argparse
import os


def add_common_args(parser: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction

    parser.add_argument("--work-dir", help="where logs and checkpoints go (default: work_dirs/<config name>)")
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, default=None,
        help="override config entries, key=value (e.g. train_dataloader.batch_size=4)",
    )
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def load_config(args: argparse.Namespace):
    """Read ``args.config`` (importing its ``custom_imports``), then apply --cfg-options,
    --launcher and --work-dir (default ``work_dirs/<config name>``)."""
    from mmengine.config import Config

    from .checkpoint import allow_mmengine_checkpoint_objects

    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = os.path.join("work_dirs", os.path.splitext(os.path.basename(args.config))[0])
    allow_mmengine_checkpoint_objects()  # also for configs that do not import vmamba_zoo.mm
    if args.launcher == "pytorch":
        setup_cpu_distributed(cfg)
    return cfg


def setup_cpu_distributed(cfg) -> None:
    """Without CUDA, MMEngine's pytorch launcher would call ``torch.cuda.set_device`` and use
    NCCL: start the process group with gloo from torchrun's environment instead (the Runner then
    finds it initialised) and let ``MMDistributedDataParallel`` wrap the CPU model
    (``device_ids=None``). With CUDA nothing changes."""
    import torch
    import torch.distributed as dist

    if torch.cuda.is_available() or dist.is_initialized():
        return
    dist.init_process_group(backend="gloo")
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper.setdefault("type", "MMDistributedDataParallel")
    wrapper["device_ids"] = None
    wrapper.setdefault("broadcast_buffers", False)
    wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", False))
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg):
    """``Runner.from_cfg``, or the config's own ``runner_type``."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    return RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
