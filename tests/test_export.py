"""Deployment: every family exports to ONNX (standard opsets) and torch.export, and ONNX Runtime,
OpenVINO and the reloaded program reproduce eager outputs; bad arguments are clear errors."""

from __future__ import annotations

import importlib.util
import os

import pytest
import timm
import torch

import vmamba_zoo  # noqa: F401  (registers the models)
from vmamba_zoo import export, published

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHALLOW = dict(depths=(1, 1, 1, 1))
# one model per family, shallow, at a small size (the sequence lengths of a 64x96 image)
FAMILY_MODELS = published.representative_models()
SMALL = export.ExportSettings(img_size=(64, 64), dynamic_batch=True, dynamic_size=True, max_img_size=128)
RELATIVE_TOLERANCE, MIN_COSINE = 1e-4, 0.99999


def _eager(model, images):
    with torch.no_grad():
        out = model(images)
    return [t.numpy() for t in (out if isinstance(out, (list, tuple)) else [out])]


def _assert_matches(model, run, images):
    result = export.compare(_eager(model, images), run(images))
    assert result["relative_diff"] <= RELATIVE_TOLERANCE and result["cosine"] >= MIN_COSINE, result


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_onnx_runs_in_onnxruntime_and_openvino_with_eager_logits(name, tmp_path):
    model = timm.create_model(name, **SHALLOW).eval()
    path = export.export_model(model, tmp_path / f"{name}.onnx", "onnx", SMALL)
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(path)
    assert {op.domain for op in proto.opset_import} <= {"", "ai.onnx"}  # no custom-op library
    assert all(node.domain in ("", "ai.onnx") for node in proto.graph.node)
    torch.manual_seed(0)
    for runtime in ("onnxruntime", "openvino"):
        run = export.load(path, runtime)
        for shape in ((2, 3, 64, 64), (1, 3, 64, 96), (3, 3, 128, 32)):  # batch and H, W dynamic
            _assert_matches(model, run, torch.randn(shape))


@pytest.mark.parametrize("name", ["vmamba_tiny_v0", "spatialmamba_tiny"])
def test_sequential_scan_export_runs_in_onnxruntime_and_is_refused_by_openvino(name, tmp_path):
    model = timm.create_model(name, **SHALLOW).eval()
    settings = export.ExportSettings(img_size=(64, 64), dynamic_batch=True, dynamic_size=True, max_img_size=128,
                                     scan="sequential")
    path = export.export_model(model, tmp_path / "m.onnx", "onnx", settings)
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(path)
    assert any(node.op_type == "Scan" for node in proto.graph.node)
    assert {op.domain for op in proto.opset_import} <= {"", "ai.onnx"}
    run = export.load(path, "onnxruntime")
    for shape in ((2, 3, 64, 64), (1, 3, 96, 64)):
        _assert_matches(model, run, torch.randn(shape))
    with pytest.raises(ValueError, match="log-depth scan"):
        export.load(path, "openvino")


def test_features_only_export_gives_the_four_maps(tmp_path):
    model = timm.create_model("groupmamba_tiny", features_only=True, **SHALLOW).eval()
    path = export.export_model(model, tmp_path / "features.onnx", "onnx",
                               export.ExportSettings(img_size=(64, 64), dynamic_batch=True))
    images = torch.randn(2, 3, 64, 64)
    for runtime in ("onnxruntime", "openvino"):
        out = export.load(path, runtime)(images)
        assert [o.shape[1:] for o in out] == [tuple(t.shape[1:]) for t in model(images)]
        _assert_matches(model, export.load(path, runtime), images)


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_pt2_reloads_and_runs_with_the_custom_ops(name, tmp_path):
    model = timm.create_model(name, **SHALLOW).eval()
    path = export.export_model(model, tmp_path / f"{name}.pt2", "pt2",
                               export.ExportSettings(img_size=(64, 64), dynamic_batch=True))
    program = torch.export.load(path)
    assert any(str(n.target).startswith("vmamba_zoo.") for n in program.graph.nodes)
    _assert_matches(model, export.load(path, "torch"), torch.randn(3, 3, 64, 64))


def test_decomposed_pt2_holds_standard_ops_only(tmp_path):
    model = timm.create_model("spatialmamba_tiny", **SHALLOW).eval()
    path = export.export_model(model, tmp_path / "m.pt2", "pt2",
                               export.ExportSettings(img_size=(64, 96)), decompose=True)
    program = torch.export.load(path)
    assert not any(str(n.target).startswith("vmamba_zoo.") for n in program.graph.nodes)
    _assert_matches(model, export.load(path, "torch"), torch.randn(1, 3, 64, 96))


def test_onnx_runners_refuse_sizes_outside_the_exported_range(tmp_path):
    model = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16).eval()
    path = export.export_model(model, tmp_path / "static.onnx", "onnx", export.ExportSettings(img_size=(64, 64)))
    with pytest.raises(ValueError, match=r"H and W in \[64, 64\]"):
        export.load(path, "onnxruntime")(torch.randn(1, 3, 96, 64))
    with pytest.raises(ValueError, match="run it with onnxruntime or openvino"):
        export.load(path, "torch")


def test_train_mode_model_is_exported_in_eval_mode_with_a_message(tmp_path):
    model = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16).train()
    lines = []
    export.export_model(model, tmp_path / "m.pt2", "pt2", export.ExportSettings(img_size=(64, 64)), progress=lines.append)
    assert not model.training and any("eval mode" in line for line in lines)


def test_per_call_random_projections_must_be_pinned(tmp_path):
    model = timm.create_model("resvmamba_small", per_call_random_projections=True, **SHALLOW).eval()
    with pytest.raises(export.ExportError, match="set_residual_projections"):
        export.export_model(model, tmp_path / "m.pt2", "pt2", export.ExportSettings(img_size=(64, 64)))
    assert not os.listdir(tmp_path)


def test_settings_check_sizes_and_opset():
    with pytest.raises(ValueError, match="multiples of 32"):
        export.ExportSettings(img_size=(100, 224))
    with pytest.raises(ValueError, match="opset must be >= 17"):
        export.ExportSettings(opset=16)
    with pytest.raises(ValueError, match="max image size"):
        export.ExportSettings(img_size=(256, 256), dynamic_size=True, max_img_size=224)


def _cli(capsys, *args) -> tuple[int, str]:
    spec = importlib.util.spec_from_file_location("export_tool", os.path.join(ROOT, "tools", "export.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    capsys.readouterr()
    status = tool.main(list(args))
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_model", "--format", "onnx", "--out", "{tmp}/m.onnx"], "not a registered timm model"),
        (["vmamba_tiny", "--format", "onnx", "--out", "{tmp}/m.onnx", "--img-size", "224", "100"], "multiples of 32"),
        (["vmamba_tiny", "--format", "onnx", "--out", "{tmp}/missing/m.onnx"], "cannot be written"),
        (["vmamba_tiny", "--format", "pt2", "--out", "{tmp}/m.onnx"], "must end in .pt2"),
        (["vmamba_tiny", "--format", "onnx", "--out", "{tmp}/m.onnx", "--opset", "13"], "opset must be >= 17"),
        (["vmamba_tiny", "--format", "onnx", "--out", "{tmp}/m.onnx", "--checkpoint", "{tmp}/none.pth"], "does not exist"),
    ],
)
def test_cli_rejects_bad_arguments_before_any_work(args, message, tmp_path, capsys):
    status, stderr = _cli(capsys, *(a.format(tmp=tmp_path) for a in args))
    assert status == 2 and message in stderr, stderr
    assert stderr.count("\n") == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith((".onnx", ".pt2"))]


def test_cli_rejects_a_checkpoint_that_does_not_fit(tmp_path, capsys):
    torch.save({"model": {"unrelated.weight": torch.zeros(3)}}, tmp_path / "bad.pth")
    status, stderr = _cli(capsys, "vmamba_tiny", "--format", "pt2", "--out", str(tmp_path / "m.pt2"),
                          "--checkpoint", str(tmp_path / "bad.pth"))
    assert status == 2 and "missing keys" in stderr, stderr
    assert not (tmp_path / "m.pt2").exists()


# every registered name takes minutes each to export at full size on a 2-core CI machine, more
# than CI's budget: CI exports one model per family, VMAMBA_ZOO_EXPORT_ALL=1 every name
ALL_NAMES = sorted([*published.MODELS, *published.ALIASES])
SLOW_NAMES = ALL_NAMES if os.environ.get("VMAMBA_ZOO_EXPORT_ALL") == "1" else ["vmamba_tiny", *FAMILY_MODELS[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_NAMES)
def test_registered_models_export_and_match_at_224(name, tmp_path):
    model = timm.create_model(name).eval()
    settings = export.ExportSettings(dynamic_batch=True, dynamic_size=True, max_img_size=320)
    path = export.export_model(model, tmp_path / f"{name}.onnx", "onnx", settings)
    for runtime in ("onnxruntime", "openvino"):
        run = export.load(path, runtime)
        for shape in ((2, 3, 224, 224), (1, 3, 256, 320)):
            _assert_matches(model, run, torch.randn(shape))
    pt2 = export.export_model(model, tmp_path / f"{name}.pt2", "pt2", export.ExportSettings(dynamic_batch=True))
    _assert_matches(model, export.load(pt2, "torch"), torch.randn(2, 3, 224, 224))
