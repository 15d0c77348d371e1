"""Runner hooks around ``ZooClassifier``: ``load_from`` that accepts the authors' released files,
and the switch that turns on MESA self-distillation from the EMA model."""

from __future__ import annotations

from collections.abc import Mapping

from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import nn

from vmamba_zoo.checkpoint import extract_state_dict, load_checkpoint_file, local_file

from .classifier import ZooClassifier


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class ReleasedCheckpointHook(Hook):
    """Make ``load_from`` accept a checkpoint as its authors released it.

    MMEngine loads ``load_from`` with a bare ``torch.load`` (which refuses the pickled yacs/argparse
    objects of the original releases) and then silently ignores every key when the weights are
    not under ``state_dict``. Before that happens (``before_run``), this hook reads the file with
    the zoo's safe loader; if it is not an MMEngine checkpoint it loads it strictly into the
    classifier (``ZooClassifier.load_released_checkpoint``), hands the result to the other hooks'
    ``after_load_checkpoint`` (the EMA copy starts from it) and tells the runner the weights are in
    place. MMEngine checkpoints (ours, ``state_dict`` + ``meta``) are left to the runner.
    Runs after ``EMAHook.before_run`` (lower priority), which must exist before it is filled.
    """

    priority = "LOW"

    def before_run(self, runner) -> None:
        path = runner.cfg.get("load_from")
        if not path or runner.cfg.get("resume", False):
            return
        path = local_file(path)
        checkpoint = load_checkpoint_file(path)
        if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint and "meta" in checkpoint:
            return
        model = _unwrap(runner.model)
        if not isinstance(model, ZooClassifier):
            raise TypeError(f"ReleasedCheckpointHook loads into a ZooClassifier, not {type(model).__name__}")
        extract_state_dict(checkpoint)  # fail early, with the zoo's message, on a file without weights
        model.load_released_checkpoint(path)
        # these weights replace whatever init_cfg would load (MMEngine: load_from wins over init)
        model._is_init = True
        runner.logger.info(f"Loaded the released checkpoint {path} (strict)")
        runner.call_hook("after_load_checkpoint", checkpoint=dict(state_dict=model.state_dict(), meta=dict()))
        # MMEngine 0.10.7: Runner.load_or_resume() skips loading when this flag is set
        runner._has_loaded = True


@HOOKS.register_module()
class MESAHook(Hook):
    """Turns on MESA (Spatial-Mamba's self-distillation) from the classifier's
    ``mesa['start_epoch']`` on, with the EMA model of the run's ``EMAHook`` as teacher."""

    priority = "LOW"

    def before_train_epoch(self, runner) -> None:
        model = _unwrap(runner.model)
        if not isinstance(model, ZooClassifier) or model.mesa is None:
            raise RuntimeError("MESAHook needs a ZooClassifier built with mesa=dict(weight=..., start_epoch=...)")
        ema_hooks = [hook for hook in runner.hooks if isinstance(hook, EMAHook)]
        if not ema_hooks:
            raise RuntimeError("MESAHook distils the EMA model: add an EMAHook to custom_hooks")
        active = runner.epoch >= model.mesa["start_epoch"]
        model.set_mesa_teacher(ema_hooks[0].ema_model.module if active else None)
