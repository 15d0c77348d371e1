"""``ZooClassifier``: mmpretrain's ``TimmClassifier`` around ``timm.create_model``, so that the model
is the one timm implementation, with the original releases loaded through the zoo's safe, strict
loader and the papers' distillation losses (:mod:`.losses`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import timm
import torch
from mmpretrain.models import TimmClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

import vmamba_zoo  # noqa: F401  (registers the zoo's timm models)
from vmamba_zoo.checkpoint import load_pretrained_checkpoint, local_file

from .losses import distillation_loss, soft_cross_entropy


def _plain(value: Any) -> Any:
    """ConfigDicts (and lists of them) as plain Python containers, as timm expects."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


class _Unregistered:
    """Holds a module outside the parent's module tree: not in ``state_dict``, not given to the
    optimizer, not moved by ``.to()`` and shared, not copied, by ``copy.deepcopy`` (the EMA copy
    of the classifier must not duplicate a teacher network)."""

    def __init__(self, module: nn.Module | None = None) -> None:
        self.module = module

    def __deepcopy__(self, memo: dict) -> _Unregistered:
        return self


@MODELS.register_module()
class ZooClassifier(TimmClassifier):
    """An mmpretrain classifier around ``timm.create_model(model_name, **kwargs)``.

    Args:
        model_name: a timm name (every zoo model, or any of timm's own).
        loss, train_cfg, with_cp, data_preprocessor: as mmpretrain's ``TimmClassifier``
            (``train_cfg=dict(augments=[...])`` for Mixup/CutMix).
        distillation: DeiT-style distillation from a frozen timm teacher, for models whose
            training forward returns ``(class_logits, distillation_logits)``:
            ``dict(teacher='regnety_160.deit_in1k', kind='hard'|'soft', alpha=0.5, tau=1.0,
            teacher_kwargs=dict(pretrained=True))``. The loss is
            ``(1 - alpha) * loss(class_logits, targets) + alpha * distillation_loss``.
        mesa: MESA self-distillation, ``dict(weight=1.0, start_epoch=75)``: from ``start_epoch``
            on (see ``MESAHook``), ``weight * soft_CE(logits, softmax(EMA model logits))`` is added.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH_OR_URL or None, num_classes=None)``:
            weights loaded when the Runner initialises the model for training (not for testing),
            see :meth:`init_weights`. MMEngine's other initialisers do not apply to timm models.
        **kwargs: passed to ``timm.create_model`` (``pretrained``, ``pretrained_cfg_overlay``,
            ``num_classes``, ``drop_path_rate``, ...).
    """

    def __init__(
        self,
        model_name: str,
        *,
        distillation: dict | None = None,
        mesa: dict | None = None,
        init_cfg: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name, **{k: _plain(v) for k, v in kwargs.items()})
        self.model_name = model_name
        self.pretrained_init = self._check_init_cfg(init_cfg)
        self.distillation = self._check_distillation(distillation)
        self.mesa = self._check_mesa(mesa)
        self._teacher = _Unregistered()
        self._mesa_teacher = _Unregistered()
        if self.distillation is not None:
            teacher = timm.create_model(self.distillation["teacher"], **self.distillation["teacher_kwargs"])
            self._teacher.module = teacher.eval().requires_grad_(False)
            if hasattr(self.model, "set_distilled_training"):
                self.model.set_distilled_training(True)

    @staticmethod
    def _check_init_cfg(cfg: dict | None) -> dict | None:
        if cfg is None:
            return None
        cfg = dict(_plain(cfg))
        if cfg.get("type") != "Pretrained" or set(cfg) - {"type", "checkpoint", "num_classes"}:
            raise ValueError(
                "ZooClassifier's init_cfg is dict(type='Pretrained', checkpoint=PATH_OR_URL or None, "
                f"num_classes=classes of the checkpoint's head or None), got {cfg}"
            )
        cfg.setdefault("checkpoint", None)
        cfg.setdefault("num_classes", None)
        return cfg

    @staticmethod
    def _check_distillation(cfg: dict | None) -> dict | None:
        if cfg is None:
            return None
        cfg = dict(_plain(cfg))
        unknown = set(cfg) - {"teacher", "kind", "alpha", "tau", "teacher_kwargs"}
        if unknown or "teacher" not in cfg:
            raise ValueError(f"distillation needs 'teacher' and takes kind/alpha/tau/teacher_kwargs; got {sorted(cfg)}")
        cfg.setdefault("kind", "hard")
        cfg.setdefault("alpha", 0.5)
        cfg.setdefault("tau", 1.0)
        cfg.setdefault("teacher_kwargs", dict(pretrained=True))
        if cfg["kind"] not in ("hard", "soft"):
            raise ValueError(f"distillation kind must be 'hard' or 'soft', got {cfg['kind']!r}")
        if not 0.0 <= cfg["alpha"] <= 1.0:
            raise ValueError(f"distillation alpha must be in [0, 1], got {cfg['alpha']}")
        return cfg

    @staticmethod
    def _check_mesa(cfg: dict | None) -> dict | None:
        if cfg is None:
            return None
        cfg = dict(_plain(cfg))
        if set(cfg) != {"weight", "start_epoch"}:
            raise ValueError(f"mesa takes exactly weight and start_epoch, got {sorted(cfg)}")
        return cfg

    @staticmethod
    def _remove_state_dict_prefix(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
        """Drop ``model.`` from the keys (checkpoints hold plain timm keys), in place: torch ignores
        a returned dict when the classifier is a submodule, e.g. of the EMA copy, whose keys
        must match the classifier's for ``EMAHook`` to swap them."""
        inner = prefix + "model."
        items = list(state_dict.items())
        state_dict.clear()
        for key, value in items:
            state_dict[prefix + key[len(inner):] if key.startswith(inner) else key] = value

    def init_weights(self) -> None:
        """Apply ``init_cfg=dict(type='Pretrained', ...)``; the Runner calls this only to train.

        ``checkpoint`` is a file or URL of an original release or a timm-format state dict
        (``None``: the model's own released weights, its ``pretrained_cfg`` file or url). The head
        is kept when ``num_classes`` (the checkpoint's classes; default: the model's pretrained
        cfg) equals the model's, re-initialised otherwise. Without ``init_cfg`` the timm model
        keeps the initialisation (or pretrained weights) it got in its constructor.
        """
        if self._is_init or self.pretrained_init is None:
            self._is_init = True
            return
        checkpoint = self.pretrained_init["checkpoint"]
        model_cfg = getattr(self.model, "pretrained_cfg", None) or {}
        if checkpoint is None:
            checkpoint = model_cfg.get("file") or model_cfg.get("url")
            if not checkpoint:
                raise ValueError(f"{self.model_name} names no released weights; set init_cfg checkpoint")
        checkpoint_classes = self.pretrained_init["num_classes"] or model_cfg.get("num_classes")
        self.load_released_checkpoint(local_file(checkpoint), checkpoint_classes)
        self._is_init = True

    def set_mesa_teacher(self, teacher: nn.Module | None) -> None:
        """The EMA classifier whose predictions MESA distils (``None``: MESA off)."""
        if teacher is not None and self.mesa is None:
            raise RuntimeError("set_mesa_teacher needs a classifier built with mesa=dict(weight=..., start_epoch=...)")
        self._mesa_teacher.module = teacher

    def load_released_checkpoint(self, path: str, checkpoint_classes: int | None = None) -> None:
        """Load an original release (or a timm-format state dict) strictly into the timm model,
        through the model's own ``load_pretrained`` (zoo models: the family's key mapping) or, for
        timm's own models, as it is.

        ``checkpoint_classes`` is the class count of the checkpoint's head: the head is loaded
        when it equals the model's and left freshly initialised otherwise (fine-tuning). Default:
        the model's own, i.e. every weight, head included, must fit.
        """
        original_cfg = getattr(self.model, "pretrained_cfg", None)
        classes = self.model.num_classes if checkpoint_classes is None else checkpoint_classes
        # the zoo's loader (like timm's) keeps the head only when the pretrained cfg's class
        # count is the model's
        self.model.pretrained_cfg = {**(original_cfg or {}), "num_classes": classes}
        try:
            if hasattr(self.model, "load_pretrained"):
                self.model.load_pretrained(path)
            else:
                load_pretrained_checkpoint(self.model, path, lambda state_dict, model: state_dict)
        finally:
            self.model.pretrained_cfg = original_cfg

    def _targets(self, data_samples: list[DataSample]) -> Tensor:
        if "gt_score" in data_samples[0]:
            return torch.stack([sample.gt_score for sample in data_samples])
        return torch.cat([sample.gt_label for sample in data_samples])

    def loss(self, inputs: Tensor, data_samples: list[DataSample], **kwargs: Any) -> dict[str, Tensor]:
        outputs = self.model(inputs)
        targets = self._targets(data_samples)
        losses: dict[str, Tensor] = {}
        if isinstance(outputs, (tuple, list)):
            class_logits, dist_logits = outputs
            if self.distillation is None:
                # no teacher: both heads learn the labels (inference averages them)
                losses["loss"] = 0.5 * (
                    self.loss_module(class_logits, targets, **kwargs) + self.loss_module(dist_logits, targets, **kwargs)
                )
            else:
                alpha = self.distillation["alpha"]
                losses["loss"] = (1 - alpha) * self.loss_module(class_logits, targets, **kwargs)
                losses["loss_distill"] = alpha * self._distillation_loss(inputs, dist_logits)
            logits = class_logits
        else:
            if self.distillation is not None:
                raise RuntimeError(
                    f"distillation needs a model whose training forward returns (class_logits, "
                    f"distillation_logits); {type(self.model).__name__} returned one tensor"
                )
            losses["loss"] = self.loss_module(outputs, targets, **kwargs)
            logits = outputs
        teacher = self._mesa_teacher.module
        if teacher is not None:
            teacher.eval()
            with torch.no_grad():
                teacher_logits = teacher(inputs, mode="tensor")
            losses["loss_mesa"] = self.mesa["weight"] * soft_cross_entropy(logits, teacher_logits.float().softmax(-1))
        return losses

    def _distillation_loss(self, inputs: Tensor, dist_logits: Tensor) -> Tensor:
        teacher = self._teacher.module.to(inputs.device)
        with torch.no_grad():
            teacher_logits = teacher(inputs)
        return distillation_loss(dist_logits, teacher_logits, self.distillation["kind"], self.distillation["tau"])
