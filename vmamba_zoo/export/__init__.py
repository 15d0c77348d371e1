"""Export any zoo model (or any timm model) for deployment: ONNX files that run in ONNX Runtime,
OpenVINO or any other ONNX runtime without a custom-op library, and ``torch.export`` programs
(``.pt2``).

The selective scan's recurrence is a log-depth scan in standard ops (the default; runs in every
runtime) or, with ``ExportSettings(scan="sequential")``, a sequential ONNX ``Scan``
(:mod:`.onnx_scan`; faster in ONNX Runtime, wrong in OpenVINO 2026.4, whose runner here refuses
such files). Both start from one ``torch.export`` trace. The ``torch.ops.vmamba_zoo.*`` custom ops are kept in
a ``.pt2`` program (``torch.export.load`` needs ``import vmamba_zoo`` to run them, on our CPU
kernels), or replaced by their standard-op forms (:mod:`.decompositions`) with ``decompose``, as
every ONNX export is. The batch axis is dynamic with ``dynamic_batch``, H and W with
``dynamic_size`` (multiples of 32 up to ``max_img_size``: the scan's number of doubling steps is
fixed for the longest sequence, see :mod:`vmamba_zoo.ops.selective_scan.export`).

    from vmamba_zoo.export import export_model
    export_model(model, "vmamba_tiny.onnx", "onnx", dynamic_batch=True)

and ``tools/export.py`` on the command line; :mod:`.runtimes` runs the files.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..models._base import TOTAL_STRIDE
from . import onnx_scan
from .decompositions import custom_op_forms, decomposition_table
from .runtimes import RUNTIMES, compare, load, require

FORMATS = ("onnx", "pt2")
SCANS = ("log_depth", "sequential")
MIN_OPSET = 17
DEFAULT_OPSET = 18
DEFAULT_MAX_IMG_SIZE = 1024

__all__ = [
    "DEFAULT_MAX_IMG_SIZE", "DEFAULT_OPSET", "ExportError", "ExportSettings", "FORMATS", "MIN_OPSET",
    "RUNTIMES", "SCANS", "compare", "custom_op_forms", "decomposition_table", "export_model", "exported_program",
    "load", "output_names",
]


class ExportError(RuntimeError):
    """The model cannot be exported as asked (the message says why)."""


@dataclass(frozen=True)
class ExportSettings:
    """What an export fixes: the example input's size, which axes stay dynamic, the ONNX opset."""

    img_size: tuple[int, int] = (224, 224)
    batch_size: int = 1
    dynamic_batch: bool = False
    dynamic_size: bool = False
    max_img_size: int = DEFAULT_MAX_IMG_SIZE
    opset: int = DEFAULT_OPSET
    slim: bool = True
    scan: str = "log_depth"  # ONNX: the recurrence as a log-depth scan or a sequential Scan node

    def __post_init__(self) -> None:
        H, W = self.img_size
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.scan not in SCANS:
            raise ValueError(f"scan must be one of {SCANS}, got {self.scan!r}")
        if self.opset < MIN_OPSET:
            raise ValueError(f"opset must be >= {MIN_OPSET}, got {self.opset}")
        if min(H, W) < TOTAL_STRIDE or H % TOTAL_STRIDE or W % TOTAL_STRIDE:
            raise ValueError(f"image size must be multiples of {TOTAL_STRIDE} (>= {TOTAL_STRIDE}), got {H}x{W}")
        if self.dynamic_size and (self.max_img_size % TOTAL_STRIDE or self.max_img_size < max(H, W)):
            raise ValueError(
                f"max image size must be a multiple of {TOTAL_STRIDE} and at least the export size "
                f"{H}x{W}, got {self.max_img_size}"
            )


def output_names(model: nn.Module) -> list[str]:
    """``["logits"]``, or ``["features_0", ...]`` for a ``features_only`` model."""
    info = getattr(model, "feature_info", None)
    if getattr(model, "is_features_only", False) or (info is not None and not hasattr(model, "num_classes")):
        return [f"features_{i}" for i in range(len(info))]
    return ["logits"]


def _prepare(model: nn.Module, progress: Callable[[str], None] | None) -> nn.Module:
    if model.training:
        if progress:
            progress("the model was in train mode: exporting it in eval mode (model.eval())")
        model.eval()
    redrawing = [name for name, m in model.named_modules() if getattr(m, "redraw_per_call", False)]
    if redrawing:
        raise ExportError(
            f"{', '.join(redrawing)} draw random weights on every call: pin them first "
            "(Res-VMamba: set_residual_projections)"
        )
    return model


def exported_program(
    model: nn.Module, settings: ExportSettings, decompose: bool, progress: Callable[[str], None] | None = None,
    keep_linear_scan: bool = False,
) -> torch.export.ExportedProgram:
    """The ``torch.export`` trace of ``model`` for ``settings``; with ``decompose`` only standard
    aten ops remain (the custom ops replaced by their export forms), but for the recurrence's
    ``vmamba_zoo::linear_scan`` nodes with ``keep_linear_scan`` (see :mod:`.decompositions`)."""
    model = _prepare(model, progress)
    H, W = settings.img_size
    # a dynamic axis is traced at 2 or more (torch.export specialises sizes 0 and 1)
    batch = max(2, settings.batch_size) if settings.dynamic_batch else settings.batch_size
    example = torch.randn(batch, getattr(model, "in_chans", 3), H, W)
    dims: dict[int, object] = {}
    if settings.dynamic_batch:
        dims[0] = torch.export.Dim("batch", min=1, max=4096)
    if settings.dynamic_size:
        top = settings.max_img_size // TOTAL_STRIDE
        dims[2] = TOTAL_STRIDE * torch.export.Dim("height_blocks", min=1, max=top)
        dims[3] = TOTAL_STRIDE * torch.export.Dim("width_blocks", min=1, max=top)
    with torch.no_grad():
        try:
            program = torch.export.export(model, (example,), dynamic_shapes=({k: v for k, v in dims.items()},) if dims else None)
        except Exception as exc:  # torch.export's own error types vary by version
            what = "a dynamic image size" if settings.dynamic_size else "this input"
            raise ExportError(f"{type(model).__name__} cannot be exported with {what}: {exc}") from exc
        if decompose:
            program = program.run_decompositions(decomposition_table(keep_linear_scan))
    return program


def _write_atomically(out: str, write: Callable[[str], None]) -> None:
    """``write(tmp)`` into a temporary file next to ``out``, then rename: no partial ``out``."""
    folder = os.path.dirname(os.path.abspath(out))
    suffix = os.path.splitext(out)[1]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _onnx_model(program, model: nn.Module, settings: ExportSettings, progress):
    onnx = require("onnx")
    require("onnxscript")
    names = output_names(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_program = torch.onnx.export(
            program, (), input_names=["images"], output_names=names, opset_version=settings.opset,
            dynamo=True, optimize=True, verbose=False, custom_translation_table=onnx_scan.translation_table(),
        )
    proto = onnx_scan.expand_linear_scans(onnx_program.model_proto)
    if settings.slim:
        onnxslim = require("onnxslim")
        proto = onnxslim.slim(proto)
    onnx.checker.check_model(proto, full_check=True)
    H, W = settings.img_size
    limits = {
        "min_img_size": TOTAL_STRIDE if settings.dynamic_size else min(H, W),
        "max_img_size": settings.max_img_size if settings.dynamic_size else max(H, W),
        "size_multiple": TOTAL_STRIDE,
    }
    onnx.helper.set_model_props(proto, {f"vmamba_zoo.{k}": str(v) for k, v in limits.items()})
    return proto


def export_model(
    model: nn.Module,
    out: str | os.PathLike,
    format: str = "onnx",
    settings: ExportSettings | None = None,
    decompose: bool = False,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Export ``model`` to ``out`` as ``format`` ("onnx" or "pt2"); returns the path.

    ONNX: standard opsets only (``settings.opset`` >= 17), checked with ``onnx.checker`` and
    simplified with onnxslim (``settings.slim``). pt2: the custom ops kept unless ``decompose``.
    The file appears complete or not at all."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {FORMATS}")
    settings = settings or ExportSettings()
    out = os.fspath(out)
    if format == "onnx":
        require("onnx")
    program = exported_program(model, settings, decompose=decompose or format == "onnx", progress=progress,
                               keep_linear_scan=format == "onnx" and settings.scan == "sequential")
    if format == "pt2":
        _write_atomically(out, lambda tmp: torch.export.save(program, tmp))
        return out
    proto = _onnx_model(program, model, settings, progress)
    onnx = require("onnx")
    _write_atomically(out, lambda tmp: onnx.save(proto, tmp))
    return out
