"""What ``tools/train.py``, ``tools/test.py`` and ``tools/get_flops.py`` share: reading any
MMEngine config (mmdet, mmseg, mmpretrain) with its ``custom_imports``, the command-line
overrides, the checks of those arguments before any work starts, MMEngine's pytorch launcher
on machines without CUDA, and a Runner whose whole-model checkpoint loading (``load_from``,
``--resume``) is strict unless the config says ``strict_load = False`` (``--non-strict``) and
which trains an ``AmpOptimWrapper`` config in float32 where there is no GPU; and the quiet console
(``--quiet``)."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os

from vmamba_zoo.checkpoint import summarise_keys
from vmamba_zoo.cli import ArgumentError, check_input_file, check_output_dir

# what torchrun sets and MMEngine's pytorch launcher reads (LOCAL_RANK also comes from --local-rank)
_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def add_common_args(parser: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction

    class KeyValueAction(DictAction):
        """MMEngine's ``key=value`` parsing, with argparse's error (not a traceback) for a pair
        without ``=``."""

        def __call__(self, parser, namespace, values, option_string=None):
            bad = [value for value in values if "=" not in value]
            if bad:
                parser.error(f"{option_string} takes key=value pairs, got {' '.join(bad)}")
            super().__call__(parser, namespace, values, option_string)

    parser.add_argument("--work-dir", help="where logs and checkpoints go (default: work_dirs/<config name>)")
    parser.add_argument(
        "--cfg-options", nargs="+", action=KeyValueAction, default=None,
        help="override config entries, key=value (e.g. train_dataloader.batch_size=4)",
    )
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` of the tools that run a model (see :func:`build_runner`)."""
    parser.add_argument(
        "--quiet", action="store_true",
        help="console: warnings and one line per epoch / validation; the full log stays in the work dir",
    )


def check_checkpoint_argument(path: str, what: str) -> None:
    """A local checkpoint file must exist; a URL (``scheme://...``) is left to MMEngine's loaders."""
    if "://" not in path:
        check_input_file(path, what)


def load_config(args: argparse.Namespace, writes_work_dir: bool = True):
    """Read ``args.config`` (importing its ``custom_imports``), then apply --cfg-options,
    --launcher and --work-dir (default ``work_dirs/<config name>``). A missing or unreadable
    config, bad --cfg-options, a --launcher without its environment or (``writes_work_dir``) a
    work dir that cannot be written is an ``ArgumentError``."""
    from mmengine.config import Config

    from .checkpoint import allow_mmengine_checkpoint_objects

    check_input_file(args.config, "config")
    if args.launcher == "pytorch":
        missing = [name for name in _TORCHRUN_VARIABLES if name not in os.environ]
        if missing:
            raise ArgumentError(
                f"--launcher pytorch runs under torchrun (tools/dist_train.sh), which sets "
                f"{', '.join(missing)}"
            )
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    try:
        cfg = Config.fromfile(args.config)
    except Exception as exc:  # a syntax error, a missing base file, a failing custom import...
        raise ArgumentError(f"config {args.config} cannot be read: {type(exc).__name__}: {exc}") from None
    if args.cfg_options:
        try:
            cfg.merge_from_dict(args.cfg_options)
        except Exception as exc:
            raise ArgumentError(f"--cfg-options cannot be applied: {type(exc).__name__}: {exc}") from None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = os.path.join("work_dirs", os.path.splitext(os.path.basename(args.config))[0])
    if writes_work_dir:
        check_output_dir(cfg.work_dir, "--work-dir")
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


def add_strictness_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--non-strict", action="store_true",
        help="load a checkpoint that does not fit the model exactly: what fits is loaded, the rest keeps its "
             "initialisation, the counts are logged (config: strict_load = False); default: any missing, "
             "unexpected or mis-shaped tensor is an error naming the keys",
    )


class StrictCheckpointLoading:
    """Runner mixin: ``load_checkpoint`` (MMEngine's path for ``load_from`` and ``resume``)
    through :func:`vmamba_zoo.mm.checkpoint.load_whole_model`, strict unless the config sets
    ``strict_load = False``; in that case the loaded / missing / unexpected counts are logged."""

    def load_checkpoint(self, filename, map_location="cpu", strict=None, revise_keys=((r"^module\.", ""),)):
        from mmengine.model import BaseTTAModel, is_model_wrapper
        from mmengine.runner import CheckpointLoader

        from .checkpoint import load_whole_model

        if strict is None:
            strict = bool(self.cfg.get("strict_load", True))
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        if isinstance(model, BaseTTAModel):  # tools/test.py --tta: the weights are the wrapped model's
            model = model.module
        report = load_whole_model(model, checkpoint, strict, revise_keys, source=f"checkpoint {filename}")
        self._has_loaded = True
        if report.complete:
            absent = f" ({report.counters_absent} BatchNorm counters absent)" if report.counters_absent else ""
            self.logger.info(f"Loaded checkpoint {filename} (strict: every tensor matched{absent})")
        else:
            self.logger.warning(f"Loaded checkpoint {filename} non-strictly: {report.summary()}")
            for what, keys in (("missing", report.missing), ("unexpected", report.unexpected),
                               ("of another shape", report.misshaped)):
                if keys:
                    self.logger.warning(f"  {what}: {summarise_keys(keys)}")
        return checkpoint


# MMEngine's AmpOptimWrapper runs on these devices only (it asserts one of them is available)
_AMP_DEVICES = ("cuda", "npu", "mlu", "musa")
_AMP_ONLY_KEYS = ("loss_scale", "dtype", "use_fsdp")


class AmpFallbackOnCpu:
    """Runner mixin: an ``AmpOptimWrapper`` (every classification recipe; ``tools/train.py
    --amp``) on a machine without a GPU becomes a plain ``OptimWrapper`` training in float32,
    with a log line saying so, instead of MMEngine's "AmpOptimWrapper is only available training
    on gpu" error."""

    def build_optim_wrapper(self, optim_wrapper):
        from mmengine.device import get_device
        from mmengine.optim import AmpOptimWrapper

        if isinstance(optim_wrapper, dict) and optim_wrapper.get("type") in (
            "AmpOptimWrapper", "mmengine.AmpOptimWrapper", AmpOptimWrapper
        ):
            device = get_device()
            if device not in _AMP_DEVICES:
                optim_wrapper = {k: v for k, v in optim_wrapper.items() if k not in _AMP_ONLY_KEYS}
                optim_wrapper["type"] = "OptimWrapper"
                self.logger.warning(
                    f"AmpOptimWrapper needs a GPU and this machine trains on {device}: training in float32 "
                    "with OptimWrapper instead (mixed precision off)"
                )
        return super().build_optim_wrapper(optim_wrapper)


def build_runner(cfg, quiet: bool = False):
    """The config's ``runner_type`` (default MMEngine's ``Runner``) with
    :class:`StrictCheckpointLoading` and :class:`AmpFallbackOnCpu`. A ``runner_type`` that is not
    a ``Runner`` is an ``ArgumentError``. ``quiet``: the console shows warnings and errors, one
    line per epoch or validation (:class:`~.progress.ProgressHook`) and what the caller prints;
    everything else (MMEngine's INFO lines, what pycocotools prints) goes to the log file in the
    work dir only (:func:`runner_log_file`)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    runner_type = cfg.get("runner_type", "Runner")
    runner_class = RUNNERS.get(runner_type) if isinstance(runner_type, str) else runner_type
    if not (isinstance(runner_class, type) and issubclass(runner_class, Runner)):
        raise ArgumentError(f"runner_type {runner_type!r} is not an MMEngine Runner")
    zoo_class = type(runner_class.__name__, (StrictCheckpointLoading, AmpFallbackOnCpu, runner_class), {})
    if not quiet:
        return zoo_class.from_cfg(cfg)
    from .progress import ProgressHook

    runner = _quiet_runner_class(zoo_class).from_cfg(cfg)
    runner.register_hook(ProgressHook())
    return runner


def runner_log_file(runner) -> str:
    """The file the runner logs to (``<work_dir>/<timestamp>/<timestamp>.log``)."""
    return os.path.join(runner.log_dir, f"{runner.timestamp}.log")


class _LogWriter(io.TextIOBase):
    """A text stream whose lines become INFO records of ``logger``."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger, self._partial = logger, ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line)
        return len(text)


def _not_a_deprecation_notice(record: logging.LogRecord) -> bool:
    """The MM stack's notices about its own deprecated APIs (``FileClient``...): nothing a user of
    a quiet run can act on; they stay in the log file."""
    return "deprecated" not in record.getMessage()


def _quiet_runner_class(base: type) -> type:
    """``base`` with its console handler at WARNING and stdout sent to the log while it runs."""

    def build_logger(self, log_level="INFO", log_file=None, **kwargs):
        logger = base.build_logger(self, log_level=log_level, log_file=log_file, **kwargs)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:  # the console (a FileHandler is a subclass)
                handler.setLevel(max(handler.level, logging.WARNING))
                handler.addFilter(_not_a_deprecation_notice)
        return logger

    def logged_stdout(method):
        def run(self, *args, **kwargs):
            with contextlib.redirect_stdout(_LogWriter(self.logger)):
                return method(self, *args, **kwargs)
        return run

    return type(f"Quiet{base.__name__}", (base,), dict(
        build_logger=build_logger, train=logged_stdout(base.train), val=logged_stdout(base.val),
        test=logged_stdout(base.test),
    ))
