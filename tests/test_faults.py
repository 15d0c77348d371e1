"""Fault injection: what a careless or hostile user can hand the package, and the clear error each
gets instead of a traceback, a crash or a silently wrong answer. One section per area."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tool_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# =============================================================================================
# CLI arguments checked before work starts: tools/benchmark.py, tools/make_model_cards.py,
# tools/train.py, tools/test.py, tools/get_flops.py. A bad argument is one line on stderr
# ("error: ..."), exit status 2, no traceback, and no model is built or measured first.


def _assert_one_line_error(capsys, status: int, *expected: str) -> str:
    captured = capsys.readouterr()
    assert status == 2, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def benchmark_tool():
    return _load_tool("benchmark")


# test_vit at 32x32, one untimed step per repeat: what a bad argument would have run first
_BENCH = ["--model", "test_vit", "-b", "1", "--img-size", "32", "--threads", "1", "--warmup", "0",
          "--repeats", "1", "--min-repeat-time", "0"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--device", "bogus"], "device must be cpu or cuda"),
        (["--device", "cuda:bogus"], "device must be cpu or cuda"),
        (["--metrics", ""], "no metric given"),
        (["--metrics", " , "], "no metric given"),
        (["--metrics", "params,speed"], "unknown metric"),
        (["-b", "0"], "batch_size must be at least 1"),
        (["--img-size", "-3"], "img_size must be at least 1"),
        (["--threads", "0"], "threads must be at least 1"),
        (["--repeats", "0"], "repeats must be at least 1"),
        (["--warmup", "-1"], "must not be negative"),
        (["--model", "no_such_model_xyz"], "not a registered timm model"),
        (["--model", "no_such_model_*"], "no registered timm model matches"),
        (["--baselines", ""], "no baseline size"),
        (["--baselines", "huge"], "unknown baseline size"),
        (["--reference", "resnet18"], "--reference resnet18 is not one of the measured models"),
        (["--plot", "figure.unknownext"], "cannot write .unknownext"),
        (["--plot", "figure.png", "--metrics", "params,flops"], "add it to --metrics"),
    ],
)
def test_benchmark_rejects_bad_arguments_before_measuring(
    benchmark_tool, capsys, tmp_path, monkeypatch, args, message
):
    monkeypatch.chdir(tmp_path)  # where a figure would be written
    status = benchmark_tool.main(_BENCH + args)
    line = _assert_one_line_error(capsys, status, message)
    assert "building" not in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", ["--out", "--plot"])
@pytest.mark.parametrize("where", ["in a missing folder", "under a file", "a folder"])
def test_benchmark_checks_its_output_files_before_measuring(benchmark_tool, capsys, tmp_path, option, where):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    target = {"in a missing folder": tmp_path / "missing" / "out.png",
              "under a file": blocker / "out.png", "a folder": tmp_path}[where]
    status = benchmark_tool.main(_BENCH + [option, str(target)])
    _assert_one_line_error(capsys, status, option, str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_benchmark_rejects_unknown_choices_through_argparse(benchmark_tool, capsys):
    for args in (["--format", "xml"], ["--dtype", "float16"], ["-b", "two"], ["--plot-metric", "memory"]):
        with pytest.raises(SystemExit) as exit_info:
            benchmark_tool.main(_BENCH + args)
        assert exit_info.value.code == 2
        assert "invalid" in capsys.readouterr().err


def test_benchmark_prints_the_table_before_writing_files(benchmark_tool, capsys, tmp_path, monkeypatch):
    """A figure that fails to save (disk full, say) loses nothing: the table is on stdout and the
    JSON file is written; the failure is one line and exit status 1."""
    from vmamba_zoo import benchmark

    def failing_plot(records, path, metric="throughput"):
        raise OSError(f"No space left on device: {path!r}")

    monkeypatch.setattr(benchmark, "plot", failing_plot)
    out, figure = tmp_path / "bench.json", tmp_path / "bench.png"
    status = benchmark_tool.main(_BENCH + ["--quiet", "--metrics", "params,throughput", "--format", "json",
                                           "--out", str(out), "--plot", str(figure)])
    captured = capsys.readouterr()
    assert status == 1
    assert "test_vit" in captured.out and "img/s" in captured.out  # the table
    assert [r["model"] for r in json.loads(out.read_text())] == ["test_vit"]
    assert captured.err.strip().splitlines()[-1].startswith("error: No space left on device")
    assert "Traceback" not in captured.err


def test_benchmark_script_reports_a_bad_device_in_one_line():
    result = subprocess.run(
        [sys.executable, "tools/benchmark.py", "--model", "test_vit", "--device", "bogus"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: device must be cpu or cuda[:N], got 'bogus'"


@pytest.fixture(scope="module")
def model_cards_tool():
    return _load_tool("make_model_cards")


def test_model_cards_reject_bad_arguments_before_rendering(model_cards_tool, capsys, tmp_path):
    cards = tmp_path / "cards"
    not_json, not_records = tmp_path / "bench.txt", tmp_path / "dict.json"
    not_json.write_text("model  params(M)\n")
    not_records.write_text(json.dumps({"model": "vmamba_tiny"}))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = [
        (["--benchmark-json", str(tmp_path / "missing.json")], "missing.json does not exist"),
        (["--benchmark-json", str(not_json)], "is not JSON"),
        (["--benchmark-json", str(not_records)], "expected a list of benchmark records"),
        (["--model"], "--model needs at least one name"),
        (["--model", "vmamba_tiny", "no_such_model"], "not registered by vmamba_zoo: no_such_model"),
        (["--out-dir", str(blocker / "cards")], "is a file, not a folder"),
    ]
    for args, message in cases:
        out_dir = [] if "--out-dir" in args else ["--out-dir", str(cards)]
        model = [] if "--model" in args else ["--model", "vmamba_tiny"]
        status = model_cards_tool.main(model + args + out_dir)
        _assert_one_line_error(capsys, status, message)
        assert not cards.exists()


# tools/train.py, tools/test.py, tools/get_flops.py: MMEngine configs


@pytest.fixture(scope="module")
def mm_tools():
    pytest.importorskip("mmengine")
    if importlib.util.find_spec("mmdet") is None and importlib.util.find_spec("mmseg") is None:
        pytest.skip("vmamba_zoo.mm needs mmdet or mmseg")
    return {name: _load_tool(name) for name in ("train", "test", "get_flops")}


@pytest.fixture
def plain_config(tmp_path: Path) -> Path:
    """A config that parses (and builds nothing the checks reach)."""
    path = tmp_path / "plain.py"
    path.write_text("model = dict(type='NotBuilt')\n")
    return path


def test_mm_tools_name_a_missing_or_unreadable_config(mm_tools, capsys, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("model = dict(type='X'\n")
    for tool, extra in (("train", []), ("test", [str(broken)]), ("get_flops", [])):
        status = mm_tools[tool].main([str(tmp_path / "missing.py"), *extra])
        _assert_one_line_error(capsys, status, "config", "missing.py does not exist")
        status = mm_tools[tool].main([str(tmp_path), *extra])
        _assert_one_line_error(capsys, status, "is not a file")
        status = mm_tools[tool].main([str(broken), *extra, "--work-dir", str(tmp_path / "work")])
        _assert_one_line_error(capsys, status, "broken.py cannot be read", "SyntaxError")
    assert not (tmp_path / "work").exists()


def test_mm_tools_name_a_missing_checkpoint(mm_tools, capsys, plain_config, tmp_path):
    status = mm_tools["test"].main([str(plain_config), str(tmp_path / "missing.pth")])
    _assert_one_line_error(capsys, status, "checkpoint", "missing.pth does not exist")
    status = mm_tools["train"].main([str(plain_config), "--resume", str(tmp_path / "missing.pth")])
    _assert_one_line_error(capsys, status, "--resume checkpoint", "missing.pth does not exist")


def test_mm_tools_check_work_dir_launcher_tta_and_shape(mm_tools, capsys, plain_config, tmp_path, monkeypatch):
    checkpoint = tmp_path / "weights.pth"
    checkpoint.write_bytes(b"")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    status = mm_tools["train"].main([str(plain_config), "--work-dir", str(blocker / "work")])
    _assert_one_line_error(capsys, status, "--work-dir", "is a file, not a folder")
    status = mm_tools["test"].main([str(plain_config), str(checkpoint), "--work-dir", str(tmp_path), "--tta"])
    _assert_one_line_error(capsys, status, "--tta", "defines no tta_model / tta_pipeline")
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    status = mm_tools["train"].main([str(plain_config), "--launcher", "pytorch", "--work-dir", str(tmp_path)])
    _assert_one_line_error(capsys, status, "--launcher pytorch", "RANK")
    status = mm_tools["get_flops"].main([str(plain_config), "--shape", "0", "64"])
    _assert_one_line_error(capsys, status, "--shape H W must be positive")
    status = mm_tools["get_flops"].main([str(plain_config), "--backbone-only"])
    _assert_one_line_error(capsys, status, "--backbone-only", "has no backbone")
    status = mm_tools["get_flops"].main([str(plain_config), "--cfg-options", "model.type.x=1"])
    _assert_one_line_error(capsys, status, "--cfg-options cannot be applied")
    with pytest.raises(SystemExit) as exit_info:
        mm_tools["get_flops"].main([str(plain_config), "--cfg-options", "model.type"])
    assert exit_info.value.code == 2
    assert "--cfg-options takes key=value pairs, got model.type" in capsys.readouterr().err


def test_train_script_reports_a_missing_config_in_one_line(tmp_path):
    pytest.importorskip("mmengine")
    result = subprocess.run(
        [sys.executable, "tools/train.py", str(tmp_path / "missing.py")], cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: config {tmp_path / 'missing.py'} does not exist"
