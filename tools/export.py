#!/usr/bin/env python
"""Export a timm model (ours, registered by ``import vmamba_zoo``, or timm's own) to ONNX or a
``torch.export`` program, and check the file against PyTorch eager.

    python tools/export.py vmamba_tiny --format onnx --out vmamba_tiny.onnx --dynamic-batch
    python tools/export.py groupmamba_tiny --format onnx --out gm.onnx --dynamic-size --features
    python tools/export.py vmamba_tiny --format pt2 --out vmamba_tiny.pt2 --checkpoint ckpt.pth

After writing the file it runs it once (ONNX Runtime for ONNX, ``torch.export.load`` for pt2)
on a random batch and prints the largest difference from eager. Every argument (the model name,
sizes, that the checkpoint and ``--out`` can be read / written) is checked before any work; a
bad one costs one line on stderr and exit status 2, and ``--out`` is written whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from vmamba_zoo import export  # noqa: E402  (after the path set-up; imports vmamba_zoo first)
from vmamba_zoo.benchmark import expand_model_names  # noqa: E402
from vmamba_zoo.cli import ArgumentError, check_input_file, check_output_file, fail  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="timm model name")
    parser.add_argument("--format", required=True, choices=list(export.FORMATS))
    parser.add_argument("--out", required=True, metavar="FILE")
    parser.add_argument("--checkpoint", default=None, metavar="FILE",
                        help="weights to load (original release or our own state dict)")
    parser.add_argument("--img-size", type=int, nargs=2, default=[224, 224], metavar=("H", "W"))
    parser.add_argument("-b", "--batch-size", type=int, default=1,
                        help="batch of the traced example (the batch of a static export)")
    parser.add_argument("--dynamic-batch", action="store_true", help="any batch size at run time")
    parser.add_argument("--dynamic-size", action="store_true",
                        help=f"any H, W (multiples of 32) up to --max-img-size at run time")
    parser.add_argument("--max-img-size", type=int, default=export.DEFAULT_MAX_IMG_SIZE,
                        help="largest H or W of a --dynamic-size export")
    parser.add_argument("--opset", type=int, default=export.DEFAULT_OPSET, help="ONNX opset (>= 17)")
    parser.add_argument("--features", action="store_true",
                        help="export the features_only backbone (4 maps) instead of the classifier")
    parser.add_argument("--decompose", action="store_true",
                        help="pt2: replace the vmamba_zoo custom ops by standard aten ops")
    parser.add_argument("--scan", default="log-depth", choices=["log-depth", "sequential"],
                        help="ONNX: the selective scan's recurrence as a log-depth scan in standard ops "
                             "(runs everywhere) or as ONNX Scan nodes (faster in ONNX Runtime; "
                             "OpenVINO runs them wrongly)")
    parser.add_argument("--no-slim", action="store_true", help="ONNX: skip onnxslim")
    parser.add_argument("--no-check", action="store_true", help="skip the run against eager")
    return parser.parse_args(argv)


def _check(args: argparse.Namespace) -> tuple[str, export.ExportSettings]:
    """The model name and export settings, with every argument checked (ValueError otherwise)."""
    names = expand_model_names([args.model])
    if len(names) != 1:
        raise ArgumentError(f"give one model name, {args.model!r} matches {len(names)}")
    settings = export.ExportSettings(
        img_size=tuple(args.img_size), batch_size=args.batch_size, dynamic_batch=args.dynamic_batch,
        dynamic_size=args.dynamic_size, max_img_size=args.max_img_size, opset=args.opset,
        slim=not args.no_slim, scan=args.scan.replace("-", "_"),
    )
    if args.format == "pt2" and args.scan != "log-depth":
        raise ArgumentError("--scan is for ONNX (a decomposed pt2 program uses the log-depth scan)")
    if args.format == "onnx" and args.decompose:
        raise ArgumentError("--decompose is for pt2 (an ONNX export is always decomposed)")
    if args.format == "onnx" and not args.out.endswith(".onnx"):
        raise ArgumentError(f"--out {args.out}: an ONNX file must end in .onnx")
    if args.format == "pt2" and not args.out.endswith(".pt2"):
        raise ArgumentError(f"--out {args.out}: a torch.export program must end in .pt2")
    if args.checkpoint:
        check_input_file(args.checkpoint, "--checkpoint")
    check_output_file(args.out, "--out")
    if args.format == "onnx":
        for module in ("onnx", "onnxscript", "onnxslim", "onnxruntime"):
            export.require(module)
    return names[0], settings


def _create(name: str, checkpoint: str | None, features: bool) -> torch.nn.Module:
    import timm

    from vmamba_zoo.checkpoint import load_pretrained_checkpoint

    model = timm.create_model(name, features_only=features) if features else timm.create_model(name)
    if checkpoint:
        load_pretrained_checkpoint(model, checkpoint)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        name, settings = _check(args)
    except (ValueError, ImportError) as exc:
        return fail(exc)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        model = _create(name, args.checkpoint, args.features)
    except (ValueError, RuntimeError) as exc:  # a checkpoint that does not fit
        return fail(exc)
    start = time.perf_counter()
    try:
        export.export_model(model, args.out, args.format, settings, decompose=args.decompose, progress=progress)
    except export.ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")
    if args.no_check:
        return 0
    H, W = settings.img_size
    images = torch.randn(max(2, settings.batch_size) if settings.dynamic_batch else settings.batch_size, 3, H, W)
    with torch.no_grad():
        reference = model(images)
    reference = [t.numpy() for t in (reference if isinstance(reference, (list, tuple)) else [reference])]
    runtime = "onnxruntime" if args.format == "onnx" else "torch"
    result = export.compare(reference, export.load(args.out, runtime)(images))
    print(f"{runtime} vs eager: max |diff| {result['max_abs_diff']:.2e} "
          f"({result['relative_diff']:.2e} of max(1, max|output|)), cosine {result['cosine']:.8f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
