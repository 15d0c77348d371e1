"""FLOPs and parameters of a whole detector / segmentor (or classifier) from its MMEngine config,
counted the way the papers do (fvcore multiply-adds with the scan ops' handles,
``vmamba_zoo.count_flops``) at the papers' input sizes.

    python tools/get_flops.py CONFIG [--shape H W] [--backbone-only] [--cfg-options k=v ...]

Defaults: 800x1280 (HxW) for mmdet configs, 512x2048 for mmseg configs, 224x224 otherwise.
Segmentors are traced in ``mode='tensor'`` (the decode head's logits; the auxiliary head does not
run). Detectors are traced in mmdet's ``mode='tensor'`` (as mmdet's own get_flops.py does): RPN
proposals from randomly initialised weights, so the head part can differ slightly from a count
made with trained weights on real images; the backbone part does not depend on the weights.
A bad argument (a missing config, a non-positive --shape, --backbone-only on a model without a
backbone) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a clone

import torch  # noqa: E402
from torch import nn  # noqa: E402

from vmamba_zoo.cli import ArgumentError, fail  # noqa: E402
from vmamba_zoo.flops import count_flops  # noqa: E402
from vmamba_zoo.mm.runner import add_common_args, load_config  # noqa: E402

DEFAULT_SHAPES = {"mmdet": (800, 1280), "mmseg": (512, 2048)}


class _TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` with data samples describing the input."""

    def __init__(self, model: nn.Module, scope: str) -> None:
        super().__init__()
        self.model, self.scope = model, scope

    def forward(self, inputs: torch.Tensor):
        height, width = inputs.shape[-2:]
        meta = dict(img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
                    batch_input_shape=(height, width), scale_factor=(1.0, 1.0))
        if self.scope == "mmdet":
            from mmdet.structures import DetDataSample

            samples = [DetDataSample(metainfo=meta) for _ in range(inputs.shape[0])]
            return self.model(inputs, samples, mode="tensor")
        if self.scope == "mmseg":
            from mmseg.structures import SegDataSample

            samples = [SegDataSample(metainfo=meta) for _ in range(inputs.shape[0])]
            return self.model(inputs, samples, mode="tensor")
        return self.model(inputs)


def build_model(cfg) -> nn.Module:
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, DefaultScope

    scope = cfg.get("default_scope", "mmengine")
    DefaultScope.get_instance("get_flops", scope_name=scope)
    if "init_cfg" in cfg.model.get("backbone", {}):
        cfg.model.backbone.init_cfg = None  # FLOPs need no weights (and no download)
    return revert_sync_batchnorm(MODELS.build(cfg.model)).eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FLOPs of a model from an MMEngine config")
    parser.add_argument("config", help="config file")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"), help="input height and width")
    parser.add_argument("--backbone-only", action="store_true", help="count the backbone alone")
    add_common_args(parser)
    args = parser.parse_args(argv)
    try:
        if args.shape is not None and min(args.shape) < 1:
            raise ArgumentError(f"--shape H W must be positive, got {args.shape[0]} {args.shape[1]}")
        cfg = load_config(args, writes_work_dir=False)
        if args.backbone_only and "backbone" not in cfg.model:
            raise ArgumentError(f"--backbone-only: the model of {args.config} has no backbone")
    except ArgumentError as exc:
        return fail(exc)
    scope = cfg.get("default_scope", "mmengine")
    height, width = args.shape or DEFAULT_SHAPES.get(scope, (224, 224))
    model = build_model(cfg)
    target = model.backbone if args.backbone_only else _TensorForward(model, scope)
    flops = count_flops(target, (3, height, width))
    params = sum(p.numel() for p in (model.backbone if args.backbone_only else model).parameters())
    part = "backbone" if args.backbone_only else "model"
    print(f"config: {args.config}")
    print(f"input: 3x{height}x{width}")
    print(f"{part} FLOPs: {flops / 1e9:.3f} G (fvcore multiply-adds)")
    print(f"{part} params: {params / 1e6:.3f} M ({params})")
    auxiliary = getattr(model, "auxiliary_head", None)
    if auxiliary is not None and not args.backbone_only:
        # the auxiliary head only trains; mmseg's get_flops.py reports params without it
        without = params - sum(p.numel() for p in auxiliary.parameters())
        print(f"{part} params without the auxiliary head: {without / 1e6:.3f} M ({without})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
