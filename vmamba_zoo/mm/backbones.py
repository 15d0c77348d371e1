"""MMEngine backbones (mmdet, mmseg) around the zoo's timm models.

Each backbone is a thin :class:`~mmengine.model.BaseModule` that builds one timm model by name
(``arch``), keeps its stem and the stages up to the last requested output, and returns NCHW maps
at strides 4/8/16/32 with the per-stage output norms the original downstream code adds (unless
the model normalises its stage outputs itself: ``stage_outputs_normed``, GroupMamba). No block
is implemented twice: the timm model's ``forward_intermediates`` does the work. There is one
backbone class per family of :data:`vmamba_zoo.published.FAMILIES`, named by its ``mm_backbone``
(``VMamba``, ``GroupMamba``, ...) and accepting that family's timm names (``<key>_*``).

Weights: ``init_cfg=dict(type='Pretrained', checkpoint=PATH_OR_URL[, prefix='backbone.'])`` loads
an original classification checkpoint (weights under ``model``/``model_ema``, pickled config
objects refused safely by :func:`vmamba_zoo.checkpoint.load_checkpoint_file`), a timm-format one,
or one of ours; the ``checkpoint_filter_fn`` the model's class names converts original keys. Everything the
backbone owns must be found and everything in the file must belong to the backbone (or to the
classifier / the stages pruned away), otherwise :class:`CheckpointMismatchError` names the keys.
Whole-detector checkpoints saved by the original repositories (backbone keys in the original
layout, e.g. ``backbone.layers.0...``, ``backbone.outnorm0.weight``) are converted on the fly when
loaded into a model holding this backbone (``load_from``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import timm
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from timm.layers import LayerNorm2d
from timm.models import group_parameters
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from vmamba_zoo.checkpoint import (
    CheckpointMismatchError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
    local_file,
    summarise_keys,
)
from vmamba_zoo.published import FAMILIES, Family

__all__ = ["BACKBONES", "TimmMambaBackbone", *(family.mm_backbone for family in FAMILIES.values())]

_TRUNK = "model."  # where the timm model's keys live inside this backbone's state dict


class TimmMambaBackbone(BaseModule):
    """A timm model as an mmdet/mmseg backbone.

    Args:
        arch: timm model name (e.g. ``'vmamba_tiny_s1l8'``); must be one of the family's names.
        out_indices: stages whose outputs are returned, in this order.
        drop_path_rate: stochastic depth rate of the timm model (None: the model's default).
        frozen_stages: ``-1`` trains everything; ``0`` freezes the stem; ``k >= 1`` freezes
            the stem, stages ``0..k-1`` and their output norms (kept in eval mode).
        norm_eval: keep every BatchNorm in eval mode while training (frozen statistics).
        with_cp: gradient checkpointing inside the timm model (``set_grad_checkpointing``).
        init_cfg: ``None`` (the timm model's own initialisation) or
            ``dict(type='Pretrained', checkpoint=PATH, prefix=None)``.
        **model_kwargs: further timm constructor arguments (e.g. a reduced ``depths`` in tests).
    """

    #: timm names this family accepts (prefixes); empty: any timm model (used by tests)
    arch_prefixes: tuple[str, ...] = ()

    def __init__(
        self,
        arch: str,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        drop_path_rate: float | None = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg: dict | None = None,
        **model_kwargs,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self._check_init_cfg(init_cfg)
        self._check_arch(arch)
        out_indices = tuple(int(i) for i in out_indices)
        if not out_indices:
            raise ValueError("out_indices must name at least one stage")
        if len(set(out_indices)) != len(out_indices):
            raise ValueError(f"out_indices has duplicates: {out_indices}")
        if drop_path_rate is not None:
            model_kwargs["drop_path_rate"] = drop_path_rate
        model = timm.create_model(arch, pretrained=False, **model_kwargs)
        # a model that normalises its stage outputs itself (its own per-stage norms, the final
        # one applied by forward_intermediates(norm=True)) gets no extra norms; every other one
        # gets ``outnorm{i}`` (LayerNorm over channels, eps 1e-5) on each output, as the
        # originals' detection / segmentation backbones add
        self.out_norms = not getattr(model, "stage_outputs_normed", False)
        num_stages = len(model.feature_info)
        bad = [i for i in out_indices if not 0 <= i < num_stages]
        if bad:
            raise ValueError(f"out_indices {bad} out of range for {arch} with {num_stages} stages")
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f"frozen_stages must be in [-1, {num_stages}], got {frozen_stages}")

        # Keys of the full classification model that the backbone drops (head, final norm,
        # stages after the last output): a classification checkpoint may hold them.
        full_keys = set(model.state_dict())
        self.prune(model, out_indices)
        self.discarded_keys = frozenset(full_keys - set(model.state_dict()))
        if with_cp:
            model.set_grad_checkpointing(True)

        self.arch = arch
        self.model = model
        self.out_indices = out_indices
        self.num_stages = num_stages
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.out_channels = [model.feature_info[i]["num_chs"] for i in out_indices]
        self.strides = [model.feature_info[i]["reduction"] for i in out_indices]
        if self.out_norms:
            # only for the requested indices (unused norms would upset DDP); the name keeps
            # "norm" so that paramwise_cfg custom_keys={'norm': decay_mult=0} matches, and is
            # the originals' (so their detector checkpoints load unchanged)
            for i, channels in zip(out_indices, self.out_channels):
                self.add_module(f"outnorm{i}", LayerNorm2d(channels, eps=1e-5))
        self.register_load_state_dict_pre_hook(TimmMambaBackbone._convert_original_layout)
        self._freeze_stages()

    # ------------------------------------------------------------------ construction checks
    @staticmethod
    def _check_init_cfg(init_cfg) -> None:
        cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg] if init_cfg else []
        for cfg in cfgs:
            if not isinstance(cfg, Mapping) or cfg.get("type") != "Pretrained":
                raise ValueError(
                    "init_cfg must be None or dict(type='Pretrained', checkpoint=PATH): the timm "
                    f"model initialises itself; got {cfg!r}"
                )
            if not cfg.get("checkpoint"):
                raise ValueError(f"init_cfg {cfg!r} names no checkpoint")
        if len(cfgs) > 1:
            raise ValueError(f"init_cfg holds more than one Pretrained entry: {init_cfg!r}")

    def _check_arch(self, arch: str) -> None:
        if not isinstance(arch, str):
            raise ValueError(f"arch must be a timm model name, got {arch!r}")
        if self.arch_prefixes and not arch.startswith(self.arch_prefixes):
            raise ValueError(
                f"{type(self).__name__} builds {'/'.join(p + '*' for p in self.arch_prefixes)} "
                f"timm models, not {arch!r}; available: {self.available_archs()}"
            )
        if not timm.is_model(arch):
            raise ValueError(f"{arch!r} is not a registered timm model; available: {self.available_archs()}")

    @classmethod
    def available_archs(cls) -> list[str]:
        return sorted({name for p in cls.arch_prefixes for name in timm.list_models(p + "*")})

    def prune(self, model: nn.Module, out_indices: Sequence[int]) -> None:
        """Drop what the features do not use (head, later stages, and the final norm where out
        norms replace it): unused parameters would break DDP and receive weight decay for nothing."""
        model.prune_intermediate_layers(list(out_indices), prune_norm=self.out_norms, prune_head=True)

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        height, width = x.shape[-2:]
        # timm models take sizes divisible by 32; mmseg's whole-image test and mmdet's odd test
        # shapes are not, so pad (right/bottom) and crop back to ceil(size / stride)
        pad_h, pad_w = -height % 32, -width % 32
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        features = self.model.forward_intermediates(
            x, indices=list(self.out_indices), norm=not self.out_norms, intermediates_only=True
        )
        outs = []
        for i, stride, feature in zip(self.out_indices, self.strides, features):
            if pad_h or pad_w:
                feature = feature[..., : -(-height // stride), : -(-width // stride)]
            if self.out_norms:
                feature = getattr(self, f"outnorm{i}")(feature)
            outs.append(feature.contiguous())
        return tuple(outs)

    # ------------------------------------------------------------------ training mode
    def _frozen_parameter_names(self) -> set[str]:
        if self.frozen_stages < 0:
            return set()
        if self.frozen_stages >= self.num_stages:
            return {name for name, _ in self.model.named_parameters()}
        # timm's coarse group matcher: group 0 is the stem, group s + 1 is stage s
        groups = group_parameters(self.model, self.model.group_matcher(coarse=True))
        return {name for group, names in groups.items() if group <= self.frozen_stages for name in names}

    def _freeze_stages(self) -> None:
        frozen = self._frozen_parameter_names()
        for name, param in self.model.named_parameters():
            if name in frozen:
                param.requires_grad = False
        for i in self.out_indices:
            if self.out_norms and i < self.frozen_stages:
                getattr(self, f"outnorm{i}").requires_grad_(False)

    def _eval_frozen_modules(self) -> None:
        for module in self.modules():
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()  # also its drop-path and BN children

    def train(self, mode: bool = True) -> TimmMambaBackbone:
        super().train(mode)
        if mode:
            self._eval_frozen_modules()
            if self.norm_eval:
                for module in self.modules():
                    if isinstance(module, _BatchNorm):
                        module.eval()
        return self

    # ------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Load the ``Pretrained`` checkpoint of ``init_cfg`` strictly; without one the timm
        model keeps the initialisation it got at construction."""
        if self.init_cfg and not self._is_init:
            cfg = self.init_cfg[0] if isinstance(self.init_cfg, (list, tuple)) else self.init_cfg
            self.load_checkpoint(cfg["checkpoint"], prefix=cfg.get("prefix"))
        self._is_init = True

    def load_checkpoint(self, path: str, prefix: str | None = None) -> None:
        """Load backbone weights from ``path``: an original classification checkpoint, a timm
        one, one of ours, or (with ``prefix='backbone.'``) a whole detector/segmentor."""
        state_dict = extract_state_dict(load_checkpoint_file(local_file(path)))
        if prefix:
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
            if not state_dict:
                raise CheckpointMismatchError(f"{path} holds no weights under prefix {prefix!r}")
        state_dict = self.to_backbone_layout(state_dict, allow_missing_out_norms=True)
        load_state_dict_strict(self, state_dict)

    @staticmethod
    def _out_norm_key(key: str) -> bool:
        return re.match(r"outnorm\d+\.", key) is not None

    def to_backbone_layout(
        self, state_dict: Mapping[str, torch.Tensor], allow_missing_out_norms: bool = False
    ) -> dict[str, torch.Tensor]:
        """Map a state dict (ours, timm's, or the original repository's) onto this backbone's
        keys; raise :class:`CheckpointMismatchError` naming keys that belong nowhere.

        Missing out norms are filled in from the module when ``allow_missing_out_norms``
        (classification checkpoints have none: they are new, as in the originals)."""
        state_dict = dict(state_dict)
        out_norms = {k: state_dict.pop(k) for k in list(state_dict) if self._out_norm_key(k)}
        if any(k.startswith(_TRUNK) for k in state_dict):  # ours
            trunk = {k[len(_TRUNK):]: v for k, v in state_dict.items() if k.startswith(_TRUNK)}
            unexpected = [k for k in state_dict if not k.startswith(_TRUNK)]
        else:  # timm or original layout
            trunk, unexpected = self._filter_trunk(state_dict), []
        model_keys = set(self.model.state_dict())
        unexpected += [k for k in trunk if k not in model_keys and k not in self.discarded_keys]
        own_norms = {k for k in self.state_dict() if self._out_norm_key(k)}
        # out norms of stages this backbone does not output are dropped, like pruned stages
        unexpected += [k for k in out_norms if int(re.match(r"outnorm(\d+)", k)[1]) >= self.num_stages]
        if unexpected:
            raise CheckpointMismatchError(
                f"checkpoint keys that {type(self).__name__}({self.arch}) has no place for "
                f"({len(unexpected)}): {summarise_keys(unexpected)}"
            )
        result = {_TRUNK + k: v for k, v in trunk.items() if k in model_keys}
        result.update({k: v for k, v in out_norms.items() if k in own_norms})
        if allow_missing_out_norms and not out_norms:
            result.update({k: v for k, v in self.state_dict().items() if k in own_norms})
        return result

    def _filter_trunk(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        filter_fn = getattr(self.model, "checkpoint_filter_fn", None)
        return filter_fn(state_dict, self.model) if filter_fn is not None else state_dict

    def _convert_original_layout(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        """``load_state_dict`` pre-hook: a whole-model checkpoint from the original repositories
        holds this backbone's weights without our ``model.`` level (``backbone.layers.0...``);
        convert them in place so that ``load_from`` matches every key."""
        keys = [k for k in state_dict if k.startswith(prefix)]
        if not keys or any(k.startswith(prefix + _TRUNK) for k in keys):
            return
        converted = self.to_backbone_layout({k[len(prefix):]: state_dict.pop(k) for k in keys})
        state_dict.update({prefix + k: v for k, v in converted.items()})


def _family_backbone(family: Family) -> type[TimmMambaBackbone]:
    """The backbone class of one family: named by its ``mm_backbone``, accepting its timm names."""
    name = family.mm_backbone
    doc = (
        f"{family.title} as an mmdet / mmseg backbone: ``arch`` is one of the ``{family.key}_*`` "
        "timm models; see :class:`TimmMambaBackbone`."
    )
    namespace = {"__module__": __name__, "__qualname__": name, "__doc__": doc, "arch_prefixes": (family.key + "_",)}
    return type(name, (TimmMambaBackbone,), namespace)


BACKBONES: tuple[type[TimmMambaBackbone], ...] = tuple(_family_backbone(family) for family in FAMILIES.values())
globals().update({backbone.__name__: backbone for backbone in BACKBONES})
