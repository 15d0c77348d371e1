"""tools/benchmark.py and vmamba_zoo.benchmark: the measuring logic, the record keys and output
formats, and the reports. Runs on timm's tiny test models; no wall-clock thresholds."""

from __future__ import annotations

import csv
import dataclasses
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
    native, note = benchmark.bf16_support("cpu")
    assert record["bf16_native"] is native
    assert record["warning"] == (None if native else note)


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


# A machine described by hand: the peak's arithmetic does not depend on the one running the tests.
XEON = benchmark.CpuInfo(
    flags=frozenset({"avx2", "fma", "avx512f"}), capability="AVX512", clock_ghz=2.5,
    clock_source="test", physical_cores=4, onednn_bf16=True,
)


def test_peak_is_cores_times_lanes_times_fma_units_times_clock():
    peak = benchmark.machine_peak("cpu", "float32", 2, cpu=XEON)
    assert peak.gmac_per_s == pytest.approx(2 * 16 * benchmark.DEFAULT_FMA_UNITS * 2.5)
    assert "16 f32 lanes (AVX512)" in peak.basis and "(assumed)" in peak.basis
    # threads beyond the physical cores add no FMA units
    assert benchmark.machine_peak("cpu", "float32", 8, cpu=XEON).gmac_per_s == pytest.approx(4 * 16 * 2 * 2.5)
    avx2 = dataclasses.replace(XEON, capability="AVX2")
    assert benchmark.machine_peak("cpu", "float32", 1, cpu=avx2).gmac_per_s == pytest.approx(8 * 2 * 2.5)
    # the overrides replace the assumption and the clock read from the machine
    given = benchmark.machine_peak("cpu", "float32", 2, fma_units=1, clock_ghz=3.0, cpu=XEON)
    assert given.gmac_per_s == pytest.approx(2 * 16 * 1 * 3.0)
    assert "1 FMA unit (given)" in given.basis and "3.00 GHz (given)" in given.basis


def test_bf16_peak_follows_the_native_support():
    emulated = benchmark.machine_peak("cpu", "bfloat16", 2, cpu=XEON)
    assert emulated.gmac_per_s == benchmark.machine_peak("cpu", "float32", 2, cpu=XEON).gmac_per_s
    assert "emulated" in emulated.basis
    avx512_bf16 = dataclasses.replace(XEON, flags=XEON.flags | {"avx512_bf16"})
    assert benchmark.machine_peak("cpu", "bfloat16", 2, cpu=avx512_bf16).gmac_per_s == pytest.approx(2 * 32 * 2 * 2.5)
    amx = dataclasses.replace(avx512_bf16, flags=avx512_bf16.flags | {"amx_bf16", "amx_tile"})
    peak = benchmark.machine_peak("cpu", "bfloat16", 2, cpu=amx)
    assert peak.gmac_per_s == pytest.approx(2 * 512 * 2.5) and "AMX" in peak.basis
    # the flags without oneDNN's bfloat16 are no native support
    no_onednn = dataclasses.replace(amx, onednn_bf16=False)
    assert benchmark.bf16_support("cpu", amx)[0] and not benchmark.bf16_support("cpu", no_onednn)[0]
    native, note = benchmark.bf16_support("cpu", XEON)
    assert not native and "no native bfloat16" in note


@pytest.mark.parametrize(
    "device, cpu, reason",
    [
        ("cuda", XEON, "GPU"),
        ("cpu", dataclasses.replace(XEON, capability="DEFAULT"), "'DEFAULT'"),
        ("cpu", dataclasses.replace(XEON, clock_ghz=None), "--clock-ghz"),
    ],
)
def test_unknown_peak_is_not_available(device, cpu, reason):
    peak = benchmark.machine_peak(device, "float32", 2, cpu=cpu)
    assert peak.gmac_per_s is None and peak.basis.startswith("n/a") and reason in peak.basis


def test_achieved_rates_from_a_fixed_record():
    record = _fake("vmamba_tiny_s1l8", 4.9, 30.0)
    record.update(latency_ms=50.0, train_throughput=15.0)
    peak = benchmark.Peak(160.0, "test")
    rates = benchmark.achieved_rates(record, peak)
    assert rates["gmac_per_s"] == pytest.approx(4.9 * 30.0)
    assert rates["peak_fraction"] == pytest.approx(4.9 * 30.0 / 160.0)
    assert rates["latency_gmac_per_s"] == pytest.approx(4.9 / 0.05)
    assert rates["train_gmac_per_s"] == pytest.approx(3 * 4.9 * 15.0)  # forward + backward
    assert rates["train_peak_fraction"] == pytest.approx(3 * 4.9 * 15.0 / 160.0)
    unknown = benchmark.achieved_rates(record, benchmark.Peak(None, "n/a: test"))
    assert unknown["gmac_per_s"] == pytest.approx(4.9 * 30.0) and unknown["peak_fraction"] is None

    record.update(rates, peak_gmac_per_s=160.0, peak_basis="test")
    line = next(line for line in benchmark.format_table([record]).splitlines() if line.startswith("vmamba"))
    assert "147.0" in line and " 92%" in line and "220.5" in line and "138%" in line
    record.update(peak_fraction=0.0042)  # small fractions keep two digits
    assert "0.42%" in benchmark.format_table([record])
    record.update(unknown, peak_gmac_per_s=None, peak_basis="n/a: test", train_peak_fraction=None)
    table = benchmark.format_table([record])
    assert "peak n/a: test" in table and "GMAC/s" in table.splitlines()[1]
    line = next(line for line in table.splitlines() if line.startswith("vmamba"))
    assert line.count("n/a") == 2 and "%" not in line


def test_cli_peak_overrides_and_their_checks(tmp_path, capsys):
    tool = _load_tool("benchmark")
    out = tmp_path / "bench.json"
    args = ["--model", "test_vit", "-b", "2", "--img-size", "64", "--threads", "1", "--warmup", "0",
            "--repeats", "1", "--min-repeat-time", "0", "--quiet", "--metrics", "flops,throughput",
            "--fma-units", "1", "--clock-ghz", "1.5", "--format", "json", "--out", str(out)]
    assert tool.main(args) == 0
    (record,) = json.loads(out.read_text())
    lanes = {"AVX512": 16, "AVX2": 8}.get(torch.backends.cpu.get_cpu_capability())
    assert record["gmac_per_s"] == pytest.approx(record["gflops"] * record["throughput"])
    if lanes is None:  # an ISA whose lanes are not known: no made-up peak
        assert record["peak_gmac_per_s"] is None and record["peak_basis"].startswith("n/a")
    else:
        assert record["peak_gmac_per_s"] == pytest.approx(lanes * 1 * 1.5)
        assert record["peak_fraction"] == pytest.approx(record["gmac_per_s"] / (lanes * 1.5))
    capsys.readouterr()
    for option, value, message in [("--fma-units", "0", "fma_units"), ("--clock-ghz", "-2", "clock_ghz")]:
        bad = args[:-2] + [option, value]
        assert tool.main(bad) == 2
        assert message in capsys.readouterr().err


def test_bf16_without_native_support_says_so(monkeypatch, capsys):
    no_bf16 = dataclasses.replace(XEON, capability=torch.backends.cpu.get_cpu_capability())
    monkeypatch.setattr(benchmark.CpuInfo, "detect", classmethod(lambda cls: no_bf16))
    settings = benchmark.Settings(metrics=("throughput",), dtype="bf16", **FAST)
    record = benchmark.benchmark_model("convnext_atto", settings)
    assert record["error"] is None and record["throughput"] > 0
    assert record["bf16_native"] is False and "no native bfloat16" in record["warning"]
    assert "emulated" in record["peak_basis"] or record["peak_gmac_per_s"] is None
    assert f"warning: {record['warning']}" in benchmark.format_table([record])
    tool = _load_tool("benchmark")
    assert tool.main(["--model", "convnext_atto", "--dtype", "bf16", "-b", "2", "--img-size", "64",
                      "--threads", "1", "--warmup", "0", "--repeats", "1", "--min-repeat-time", "0",
                      "--quiet", "--metrics", "throughput"]) == 0
    out, err = capsys.readouterr()
    assert "warning:" in err and "no native bfloat16" in err  # even with --quiet
    assert "warning:" in out  # and in the table
