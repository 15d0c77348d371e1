"""tools/benchmark.py and vmamba_zoo.benchmark: the measuring logic, the record keys and output
formats, and the reports. Runs on timm's tiny test models; no wall-clock thresholds."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os

import pytest
import timm
import torch

from vmamba_zoo import benchmark, count_flops, published

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = dict(batch_size=2, img_size=64, warmup=0, repeats=2, min_repeat_time=0.0, threads=1)


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(metrics=("params", "speed")), "unknown metric"),
        (dict(dtype="float16"), "dtype must be one of"),
        (dict(batch_size=0), "batch_size must be at least 1"),
        (dict(threads=0), "threads must be at least 1"),
        (dict(device="mps"), "device must be cpu or cuda"),
        (dict(device="bogus"), "device must be cpu or cuda"),
        (dict(metrics=()), "no metric given"),
        (dict(img_size=0), "img_size must be at least 1"),
    ],
)
def test_settings_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmark.Settings(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_settings_reject_cuda_without_gpu():
    with pytest.raises(ValueError, match="no CUDA device"):
        benchmark.Settings(device="cuda")


def test_record_has_the_api_keys_and_consistent_values():
    settings = benchmark.Settings(metrics=benchmark.METRICS, **FAST)
    record = benchmark.benchmark_model("test_vit", settings)
    assert record["error"] is None
    assert set(benchmark.RECORD_KEYS) <= set(record)
    model = benchmark.create_model("test_vit", 64)
    assert record["params"] == sum(p.numel() for p in model.parameters())
    assert record["gflops"] == pytest.approx(benchmark.count_model_flops(model, 64) / 1e9)
    assert (record["model"], record["batch_size"], record["img_size"]) == ("test_vit", 2, 64)
    assert (record["device"], record["dtype"]) == ("cpu", "float32")
    assert record["throughput_min"] <= record["throughput"] <= record["throughput_max"]
    assert record["latency_ms_min"] <= record["latency_ms"] <= record["latency_ms_max"]
    assert record["train_throughput"] > 0
    weights_mib = sum(p.numel() * 4 for p in model.parameters()) / 2**20
    assert record["peak_memory_mb"] > weights_mib
    assert record["train_peak_memory_mb"] > record["peak_memory_mb"]


def test_heap_malloc_is_applied_and_reported():
    import ctypes

    from vmamba_zoo import cpu_allocator

    settings = benchmark.Settings(metrics=("params",), **FAST)
    assert settings.heap_malloc  # the default, for ours and the baselines alike
    record = benchmark.benchmark_model("test_vit", settings)
    try:
        ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        pytest.skip("not glibc: mallopt is unavailable and nothing is changed")
    assert cpu_allocator.large_blocks_in_heap()
    assert record["malloc"] == "large blocks in heap"
    assert "malloc: large blocks in heap" in benchmark.settings_line([record])


def test_flops_count_attention_matmuls_and_restore_fused_attention():
    model = benchmark.create_model("test_vit", 64)
    fused = [m for m in model.modules() if getattr(m, "fused_attn", False)]
    flops = benchmark.count_model_flops(model, 64)
    assert all(m.fused_attn for m in fused)
    if fused:  # with fused attention fvcore does not see the attention matmuls
        assert flops > count_flops(model, (3, 64, 64))


def test_bf16_autocast_and_channels_last_run():
    settings = benchmark.Settings(metrics=("throughput",), dtype="bf16", channels_last=True, **FAST)
    record = benchmark.benchmark_model("convnext_atto", settings)
    assert record["error"] is None and record["throughput"] > 0
    assert record["dtype"] == "bfloat16" and record["channels_last"] is True


def test_cpu_peak_memory_sees_the_allocations_of_the_step():
    size = 8 * 2**20

    def step():
        a = torch.empty(size, dtype=torch.uint8)
        b = torch.empty(size, dtype=torch.uint8)
        del a, b

    peak = benchmark.cpu_allocation_high_water(step)
    assert 2 * size <= peak < 3 * size


def test_broken_model_gives_an_error_record_and_others_still_run():
    settings = benchmark.Settings(metrics=("params",), **FAST)
    records = benchmark.run(["no_such_model_xyz", "test_vit"], settings)
    assert records[0]["error"] and "no_such_model_xyz" in records[0]["error"]
    assert records[1]["error"] is None and records[1]["params"] > 0


def test_model_names_are_checked_and_wildcards_expanded():
    with pytest.raises(ValueError, match="not a registered timm model"):
        benchmark.expand_model_names(["no_such_model_xyz"])
    with pytest.raises(ValueError, match="no registered timm model matches"):
        benchmark.expand_model_names(["no_such_model_*"])
    assert benchmark.expand_model_names(["test_vit*"]) == timm.list_models("test_vit*")


def test_baselines_are_timm_models_with_published_top1():
    for name in benchmark.baseline_models("all"):
        assert timm.is_model(name), name
        assert published.lookup(name).imagenet_top1 is not None, name
    assert benchmark.baseline_models("small,base")[0] == "swin_small_patch4_window7_224"
    with pytest.raises(ValueError, match="unknown baseline size"):
        benchmark.baseline_models("huge")
    with pytest.raises(ValueError, match="no baseline size"):
        benchmark.baseline_models("")
    # one list: every baseline the benchmark runs has its published record, and nothing more
    assert set(benchmark.baseline_models("all")) == set(published.BASELINES)


def test_zoo_models_are_exactly_our_registrations():
    from timm.models import model_entrypoint

    ours = benchmark.zoo_models()
    assert "resnet18" not in ours
    expected = [n for n in timm.list_models() if model_entrypoint(n).__module__.startswith("vmamba_zoo.")]
    assert ours == expected


def _fake(name, gflops, throughput):
    record = dict.fromkeys(benchmark.RECORD_KEYS + benchmark.EXTRA_KEYS)
    record.update(model=name, params=10**7, gflops=gflops, throughput=throughput, batch_size=8,
                  img_size=224, device="cpu", dtype="float32", threads=2, machine="test machine")
    return record


def test_table_reads_as_ratios():
    records = [
        _fake("vmamba_tiny_s1l8", 4.9, 30.0),
        _fake("swin_tiny_patch4_window7_224", 4.5, 40.0),
        _fake("convnext_small", 8.7, 25.0),
    ]
    table = benchmark.format_table(records)
    assert "x swin_tiny_patch4_window7_224" in table  # the reference column
    line = next(line for line in table.splitlines() if line.startswith("vmamba_tiny_s1l8"))
    assert "0.75" in line and "0.75x swin_tiny_patch4_window7_224" in line
    assert "test machine" in table.splitlines()[0]


def test_cli_writes_json_csv_and_plot(tmp_path, capsys):
    tool = _load_tool("benchmark")
    common = ["--model", "test_vit", "convnext_atto", "-b", "2", "--img-size", "64", "--threads", "1",
              "--warmup", "0", "--repeats", "1", "--min-repeat-time", "0", "--quiet",
              "--metrics", "params,flops,throughput"]
    out_json, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    assert tool.main(common + ["--format", "json", "--out", str(out_json), "--plot", str(plot)]) == 0
    records = json.loads(out_json.read_text())
    assert [r["model"] for r in records] == ["test_vit", "convnext_atto"]
    assert all(set(benchmark.RECORD_KEYS) <= set(r) for r in records)
    assert records[0]["latency_ms"] is None  # not requested
    assert plot.stat().st_size > 0
    assert "test_vit" in capsys.readouterr().out  # the table is printed too

    assert tool.main(common[:2] + common[3:] + ["--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["model"] == "test_vit" and float(rows[0]["throughput"]) > 0


def test_cli_rejects_unknown_models_and_missing_arguments(capsys):
    tool = _load_tool("benchmark")
    assert tool.main(["--model", "no_such_model_xyz"]) == 2
    assert "not a registered timm model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([])


def test_published_numbers_cite_their_sources():
    for info in list(published.MODELS.values()) + list(published.BASELINES.values()):
        for result in info.classification + info.downstream:
            assert result.source.startswith("https://"), info.name
    for alias, target in published.ALIASES.items():
        assert target in published.MODELS and published.lookup(alias) is published.MODELS[target]
    assert published.family_of("resvmamba_small").key == "resvmamba"
    assert published.family_of("efficientvmamba_tiny").key == "efficientvmamba"
    assert published.family_of("vmamba_tiny_v0").key == "vmamba"
