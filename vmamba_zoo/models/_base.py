"""The parts of timm's model contract that every zoo family implements the same way.

Each family model is a stem, ``self.stages`` (:class:`Stage` subclasses, NHWC in and out), a
final norm (``self.norm``, or wherever ``final_norm_path`` says) and ``self.head`` (a timm-style
head with ``.fc`` and ``.reset``); :class:`StagedModelMixin` supplies the methods timm, its
optimizer factory, its feature extraction and its training scripts call on such a model, the
input check every ``forward_*`` runs at the model boundary, and the one ``load_pretrained``
(through the ``checkpoint_filter_fn`` the class names). :func:`build_model` and :func:`zoo_cfg`
are the registration glue every family file uses.
"""

# annotations are evaluated here (no `from __future__ import annotations`): a graph traced by
# torch.fx carries forward's real types, which TorchScript then reads
import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.fx
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import ClassifierHead, get_device_dtype, trunc_normal_
from timm.models import build_model_with_cfg, checkpoint_seq
from timm.models._features import feature_take_indices
from torch import Tensor, nn

from ..checkpoint import load_pretrained_checkpoint, pretrained_file_overlay

TOTAL_STRIDE = 32  # every family downsamples 4x in the stem and 2x in each of three stages


def stage_dims(dims: int | Sequence[int], depths: Sequence[int]) -> list[int]:
    """Stage widths: ``dims`` itself, or for an int the first width, doubled per stage."""
    if isinstance(dims, int):
        dims = [dims * 2**i for i in range(len(depths))]
    dims = list(dims)
    if len(dims) != len(depths):
        raise ValueError(f"dims ({len(dims)}) and depths ({len(depths)}) must have the same length")
    return dims


def factory_kwargs(init: Callable[..., None]) -> Callable[..., None]:
    """Decorates a model's ``__init__`` to take timm's factory kwargs: ``device`` (every parameter
    and buffer is created there; ``"meta"`` allocates nothing) and ``dtype`` (floating-point ones
    are converted to it after the initialisation, which runs in float32)."""

    @functools.wraps(init)
    def wrapped(self, *args: Any, device: torch.device | str | None = None, dtype: torch.dtype | None = None,
                **kwargs: Any) -> None:
        with torch.device(device) if device is not None else contextlib.nullcontext():
            init(self, *args, **kwargs)
        if dtype is not None:
            self.to(dtype=dtype)

    return wrapped


def check_image_input(x: Tensor, in_chans: int, model_name: str, stride: int = TOTAL_STRIDE) -> Tensor:
    """``x`` itself if it is a (batch, in_chans, H, W) image batch with H and W divisible by ``stride``,
    else a ValueError naming the problem. Symbolic tracing (``torch.fx``) keeps it as one call,
    which checks the real input when the traced graph runs; TorchScript compiles it."""
    if not torch.jit.is_scripting():
        if not isinstance(x, Tensor):
            raise ValueError(f"{model_name} expects a 4-D (batch, {in_chans}, H, W) image tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{model_name} expects a 4-D (batch, {in_chans}, H, W) image tensor, got shape {list(x.shape)}")
    channels, H, W = x.shape[1], x.shape[2], x.shape[3]
    if channels != in_chans:
        raise ValueError(f"{model_name} was built for in_chans={in_chans}, got {channels} channels")
    if H == 0 or W == 0 or H % stride != 0 or W % stride != 0:
        raise ValueError(f"{model_name} needs H and W divisible by {stride} (and > 0), got {H}x{W}")
    return x


torch.fx.wrap("check_image_input")


def init_linear_and_layernorm(module: nn.Module) -> None:
    """The families' common init (``model.apply``): Linear trunc-normal(0.02) with zero bias,
    LayerNorm ones / zeros. Everything else (convs, the raw scan Parameters) keeps its own."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class Stage(nn.Module):
    """One resolution stage on NHWC maps: ``downsample`` (``nn.Identity`` in the first stage),
    then the ``blocks`` Sequential, checkpointed when timm's ``set_grad_checkpointing`` sets
    ``grad_checkpointing``."""

    def __init__(self, downsample: nn.Module, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*blocks)
        self.grad_checkpointing = False

    def forward_blocks(self, x: Tensor) -> Tensor:
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint_seq(self.blocks, x)
        return self.blocks(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_blocks(self.downsample(x))


class StagedModelMixin:
    # regex of the final norm's parameters, the last group of group_matcher
    final_norm_pattern = r"^norm"
    # the final norm's submodule path; forward_intermediates(norm=True) applies it to the last stage
    final_norm_path = "norm"
    # whether forward_features applies the final norm (False: the head applies it, after pooling)
    features_normed = True
    # whether the stage outputs are normalised by the model itself (its own per-stage norms):
    # downstream wrappers then add no norms of their own and ask forward_intermediates for norm=True
    stage_outputs_normed = False
    # TorchScript compiles only the branches these select (a family without self.norm included)
    __constants__ = ["features_normed"]
    # (state_dict, model) -> state_dict: the original authors' key names to ours. Each family file
    # sets it on its model class, right below its module-level checkpoint_filter_fn.
    checkpoint_filter_fn: Callable[[dict[str, Tensor], nn.Module], dict[str, Tensor]] | None = None
    # the family's initialisation of its Linear / LayerNorm / conv layers (``model.apply``)
    _init_weights = staticmethod(init_linear_and_layernorm)

    @torch.jit.ignore
    def init_weights(self) -> None:
        """Initialise every parameter and buffer afresh, as the constructor does (same
        distributions): what a model created with ``device="meta"`` needs after ``to_empty``."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.apply(self._init_weights)

    def load_pretrained(self, path: str) -> None:
        """Load an original release (or our own state dict) strictly and safely: timm calls this
        for every pretrained source (see :func:`build_model`)."""
        if type(self).checkpoint_filter_fn is None:
            raise TypeError(f"{type(self).__name__} names no checkpoint_filter_fn")
        load_pretrained_checkpoint(self, path)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)" if coarse else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (self.final_norm_pattern, (99999,)),
            ],
        )

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        # the new classifier joins the model where it is (device, dtype), in its train / eval mode
        self.head.reset(num_classes, global_pool, **get_device_dtype(self))

    def _name(self) -> str:
        return "model" if torch.jit.is_scripting() else type(self).__name__  # TorchScript has no type()

    def _stage_outputs(self, x: Tensor, stages: nn.Sequential) -> Iterator[Tensor]:
        """Yield each stage's output in turn; models with cross-stage paths (Res-VMamba) override it."""
        for stage in stages:
            x = stage(x)
            yield x

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """Stage outputs (before the next stage's downsample), as timm's contract defines.

        Args:
            x: Image batch (batch, in_chans, H, W), H and W divisible by 32.
            indices: Last n stages if int, all if None, these stages if a sequence.
            norm: Apply the final norm to the last stage's output.
            stop_early: Stop after the last requested stage.
            output_fmt: ``'NCHW'`` or ``'NHWC'`` for the intermediates.
            intermediates_only: Return only the intermediates.
        """
        if output_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NHWC', got {output_fmt!r}")
        x = check_image_input(x, self.in_chans, self._name())
        num_stages = len(self.stages)
        take_indices, max_index = feature_take_indices(num_stages, indices)
        stages = self.stages if torch.jit.is_scripting() or not stop_early else self.stages[: max_index + 1]

        final_norm = self.get_submodule(self.final_norm_path)
        intermediates = []
        last, out = -1, None
        for last, out in enumerate(self._stage_outputs(self.stem(x), stages)):
            if last in take_indices:
                feat = final_norm(out) if norm and last == num_stages - 1 else out
                intermediates.append(feat.permute(0, 3, 1, 2).contiguous() if output_fmt == "NCHW" else feat)
        if intermediates_only:
            return intermediates
        if last == num_stages - 1 and self.features_normed:
            out = final_norm(out)
        return out, intermediates

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop the stages (and norm / head) not needed for ``indices``; returns the kept indices."""
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        prune_end = max_index < len(self.stages) - 1
        self.stages = self.stages[: max_index + 1]
        if prune_norm or prune_end:
            self.set_submodule(self.final_norm_path, nn.Identity())
        if prune_end:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or prune_end:
            self._remove_head()
        return take_indices

    def _remove_head(self) -> None:
        """Replace the classifier by a no-op (no parameter may stay unused: DDP)."""
        self.head = ClassifierHead(self.num_features, 0, pool_type="", input_fmt="NHWC", **get_device_dtype(self))
        self.head.train(self.training)
        self.num_classes = 0

    def forward_stages(self, x: Tensor) -> Tensor:
        """The stem's output -> the last stage's output (NHWC)."""
        return self.stages(x)

    def forward_features(self, x: Tensor) -> Tensor:
        """(batch, in_chans, H, W) -> the last stage's features (batch, H/32, W/32, C), NHWC,
        after the final norm (``self.norm``) where ``features_normed``."""
        x = check_image_input(x, self.in_chans, self._name())
        out = self.forward_stages(self.stem(x))
        if self.features_normed:
            out = self.norm(out)
        return out

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def zoo_cfg(url: str = "", **kwargs: Any) -> dict[str, Any]:
    """A timm pretrained cfg with the settings every zoo release shares (ImageNet mean / std,
    224 px evaluated at crop 0.875, bicubic, 1000 classes in ``head.fc``); ``kwargs`` add the
    family's and override these."""
    return {
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "classifier": "head.fc",
        **kwargs,
    }


def build_model(model_cls: type[nn.Module], variant: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """timm's ``build_model_with_cfg`` with the zoo's conventions: pretrained weights always go
    through ``model.load_pretrained`` (safe, strict, original formats) and ``features_only``
    gives NCHW maps of the four stages."""
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
    if pretrained:  # a release URL is fetched by vmamba_zoo.checkpoint.local_file (per-URL cache)
        overlay = pretrained_file_overlay(variant, kwargs.get("pretrained_cfg"), overlay, kwargs.get("cache_dir"))
    overlay["custom_load"] = True
    kwargs.setdefault("feature_cfg", dict(feature_cls="getter", out_indices=(0, 1, 2, 3)))
    return build_model_with_cfg(model_cls, variant, pretrained, pretrained_cfg_overlay=overlay, **kwargs)
