"""Running an exported file: ONNX Runtime or OpenVINO for ``.onnx`` files, PyTorch for
``torch.export`` (``.pt2``) programs, behind one call: ``load(path, runtime)(images)`` returns the
model's outputs as float32 numpy arrays (one per output: the logits, or the feature maps).

ONNX files carry the image-size range they were exported for (``vmamba_zoo.*`` metadata; an
ONNX graph cannot raise), and every runner here checks inputs against it: a size outside it is
an error, never a wrong answer."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

RUNTIMES = ("torch", "onnxruntime", "openvino")
DEPLOY_EXTRA = "pip install 'vmamba_zoo[deploy]'"


def require(module: str):
    """Import ``module`` of the ``[deploy]`` extra, or an ImportError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is not installed ({exc}); install the deploy extra: {DEPLOY_EXTRA}") from None


def runtime_for(path: str | os.PathLike, runtime: str) -> None:
    """``runtime`` can run the file ``path`` (by its extension), or ValueError."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
    is_onnx = str(path).endswith(".onnx")
    if is_onnx == (runtime == "torch"):
        kind = "an ONNX file" if is_onnx else "a torch.export program"
        fits = "onnxruntime or openvino" if is_onnx else "torch"
        raise ValueError(f"{path} is {kind}: run it with {fits}, not {runtime}")


def _has_scan(path: str) -> bool:
    onnx = require("onnx")
    return any(node.op_type == "Scan" for node in onnx.load(path, load_external_data=False).graph.node)


def _size_range(path: str) -> dict[str, int] | None:
    onnx = require("onnx")
    model = onnx.load(path, load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    if "vmamba_zoo.max_img_size" not in meta:
        return None
    return {k: int(meta[f"vmamba_zoo.{k}"]) for k in ("min_img_size", "max_img_size", "size_multiple")}


def _checked(run: Callable[[np.ndarray], list[np.ndarray]], limits: dict[str, int] | None):
    def call(images: np.ndarray | torch.Tensor) -> list[np.ndarray]:
        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        images = np.ascontiguousarray(images, dtype=np.float32)
        if limits is not None:
            lo, hi, step = limits["min_img_size"], limits["max_img_size"], limits["size_multiple"]
            for side in images.shape[2:]:
                if not lo <= side <= hi or side % step:
                    raise ValueError(
                        f"this export takes H and W in [{lo}, {hi}], multiples of {step}; got "
                        f"{tuple(images.shape[2:])}"
                    )
        return run(images)

    return call


def load(path: str | os.PathLike, runtime: str, threads: int | None = None) -> Callable[[np.ndarray], list[np.ndarray]]:
    """A function ``images (batch, 3, H, W) -> [outputs]`` running the exported file ``path``.

    ``threads`` sets the runtime's intra-op threads (None: its default). OpenVINO runs in f32
    (its CPU plugin would otherwise pick bf16 on CPUs that have it) and compiles the model for
    each new input shape (the first call with a shape takes longer)."""
    path = os.fspath(path)
    runtime_for(path, runtime)
    if runtime == "torch":
        program = torch.export.load(path)
        module = program.module()

        def run_torch(images: np.ndarray) -> list[np.ndarray]:
            with torch.no_grad():
                out = module(torch.from_numpy(images))
            return [t.numpy() for t in (out if isinstance(out, (list, tuple)) else [out])]

        if threads is not None:
            torch.set_num_threads(threads)
        return _checked(run_torch, None)
    limits = _size_range(path)
    if runtime == "onnxruntime":
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return _checked(lambda images: session.run(None, {name: images}), limits)
    ov = require("openvino")
    if _has_scan(path):
        raise ValueError(
            f"{path} solves the scan with ONNX Scan nodes, which OpenVINO {ov.get_version()} runs with "
            "wrong results: export with the log-depth scan (the default) for OpenVINO"
        )
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    core = ov.Core()
    model = core.read_model(path)
    compiled_for: dict[tuple[int, ...], tuple[object, object]] = {}

    def run_openvino(images: np.ndarray) -> list[np.ndarray]:
        # compiled once per input shape, with the shape fixed: the CPU plugin's run-time shape
        # inference mis-sizes some dynamic-size graphs (VMamba v0, EfficientVMamba), while with
        # static shapes every size is resolved when compiling
        if images.shape not in compiled_for:
            model.reshape({model.inputs[0]: ov.PartialShape(list(images.shape))})
            compiled = core.compile_model(model, "CPU", config)
            compiled_for[images.shape] = compiled, compiled.create_infer_request()
        compiled, request = compiled_for[images.shape]
        results = request.infer({0: images})
        return [np.array(results[output]) for output in compiled.outputs]

    return _checked(run_openvino, limits)


def compare(reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> dict[str, float]:
    """Worst max |difference| / max(1, max |reference|) and worst cosine similarity over the
    outputs (flattened per output)."""
    if len(reference) != len(outputs):
        raise ValueError(f"expected {len(reference)} outputs, got {len(outputs)}")
    worst_rel, worst_abs, worst_cos = 0.0, 0.0, 1.0
    for ref, out in zip(reference, outputs):
        ref, out = np.asarray(ref, np.float64), np.asarray(out, np.float64)
        if ref.shape != out.shape:
            raise ValueError(f"output shape {out.shape} differs from the reference's {ref.shape}")
        diff = float(np.abs(ref - out).max())
        worst_abs = max(worst_abs, diff)
        worst_rel = max(worst_rel, diff / max(1.0, float(np.abs(ref).max())))
        a, b = ref.ravel(), out.ravel()
        cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
        worst_cos = min(worst_cos, cos)
    return {"max_abs_diff": worst_abs, "relative_diff": worst_rel, "cosine": worst_cos}
