"""tools/gpu_check.py on the CPU: its argument parsing, stage runner (order, first failure, time
budget, skips, JSON and summary), reference computations, and its stages' logic on small CPU
shapes through the "torch" backend and Triton's interpreter (``--device cpu``)."""

import importlib.util
import json
import os
import sys
import time

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(ROOT, "tools", "gpu_check.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


@pytest.mark.parametrize("argv, message", [
    (["--stages", "smoke,bogus"], "--stages takes"),
    (["--skip", ""], "--skip takes"),
    (["--budget-scale", "0"], "--budget-scale must be positive"),
    (["--device", "tpu"], "invalid choice"),
])
def test_bad_arguments_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        gpu_check.parse_args(argv)
    assert message in capsys.readouterr().err


def test_stage_selection():
    args = gpu_check.parse_args(["--skip", "benchmark,memcheck"])
    assert args.selected == [n for n in gpu_check.STAGE_NAMES if n not in ("benchmark", "memcheck")]
    assert gpu_check.parse_args(["--stages", "env,vmamba"]).selected == ["env", "vmamba"]


def test_budget_fits_eight_minutes_on_one_h100():
    assert sum(s.budget_s for s in gpu_check.STAGES) <= 8 * 60


def _ctx(tmp_path, lines=None):
    return gpu_check.Context(device="cpu", out=tmp_path, python="python",
                             log=(lines.append if lines is not None else lambda line: None))


def test_runner_stops_at_the_first_failure_and_enforces_budgets(tmp_path):
    calls = []

    def ok(ctx):
        calls.append("ok")
        return {"value": 1}

    def fail(ctx):
        calls.append("fail")
        raise gpu_check.StageFailed("y differs")

    def slow(ctx):
        time.sleep(5)

    stages = [
        gpu_check.Stage("a", 5, ok), gpu_check.Stage("gpu", 5, ok, gpu_only=True), gpu_check.Stage("b", 5, fail),
        gpu_check.Stage("c", 5, ok),
    ]
    lines = []
    results = gpu_check.run_stages(stages, _ctx(tmp_path, lines), ["a", "gpu", "b", "c"])
    assert [r["status"] for r in results] == ["passed", "skipped", "failed", "not run (an earlier stage failed)"]
    assert calls == ["ok", "fail"]
    assert results[0]["details"] == {"value": 1} and results[2]["error"] == "StageFailed: y differs"
    assert any(line.startswith("[gpu-check] b: failed in") for line in lines)  # timings printed as it goes
    start = time.perf_counter()
    (result,) = gpu_check.run_stages([gpu_check.Stage("slow", 0.5, slow)], _ctx(tmp_path), ["slow"])
    assert result["status"] == "failed" and "budget" in result["error"]
    assert time.perf_counter() - start < 4
    (result,) = gpu_check.run_stages([gpu_check.Stage("slow", 0.2, lambda ctx: time.sleep(0.4))], _ctx(tmp_path),
                                     ["slow"], budget_scale=5.0)
    assert result["status"] == "passed" and result["budget_s"] == 1.0
    assert "total" in gpu_check.summary(results)


def test_reference_computations():
    inputs = gpu_check.scan_inputs(1, 1, 1, 2, 23, "cpu", seed=5)
    gen = torch.Generator().manual_seed(6)
    dy = torch.randn(1, 1, 23, generator=gen, dtype=torch.float64)
    dlast = torch.randn(1, 1, 2, generator=gen, dtype=torch.float64)
    g, dt, u = gpu_check.adjoint_by_loop(inputs, dy, dlast)
    from vmamba_zoo.ops import selective_scan

    leaves = {k: v.double().requires_grad_(k == "B") for k, v in inputs.items()}
    y, last = selective_scan(**leaves, delta_softplus=True, return_last_state=True, backend="torch")
    ((y * dy).sum() + (last * dlast).sum()).backward()
    torch.testing.assert_close(leaves["B"].grad[0, 0], g * (dt * u)[None, :])
    reference = {"y": torch.ones(3)}
    assert gpu_check.compare({"y": torch.ones(3) + 1e-5}, reference, 1e-4, "x")["y"] == pytest.approx(1e-5, rel=0.01)
    with pytest.raises(gpu_check.StageFailed, match="y differs"):
        gpu_check.compare({"y": torch.ones(3) * 1.1}, reference, 1e-4, "x")
    assert gpu_check.scaled_error(torch.tensor([float("nan")]), torch.zeros(1)) == float("inf")


@pytest.mark.slow
def test_cpu_run_of_the_stages(tmp_path, monkeypatch, capsys):
    """The whole check with --device cpu: GPU-only stages skipped (and said so), the others pass."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert gpu_check.main(["--device", "cpu", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    status = {r["stage"]: r["status"] for r in report["stages"]}
    gpu_only = {s.name for s in gpu_check.STAGES if s.gpu_only}
    assert all(status[name] == "skipped" for name in gpu_only)
    assert all(status[name] == "passed" for name in status if name not in gpu_only), status
    printed = capsys.readouterr().out
    assert "[gpu-check] vmamba: passed in" in printed and "total" in (tmp_path / "summary.txt").read_text()
