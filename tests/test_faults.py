"""Fault injection: what a careless or hostile user can hand the package, and the clear error each
gets instead of a traceback, a crash or a silently wrong answer. One section per area."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vmamba_zoo.ops import available_backends, cross_merge, cross_scan, cross_selective_scan, selective_scan
from vmamba_zoo.ops import selective_scan_states, state_fusion

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


# ============================================================================================
# Kernels: the raw extension functions (vmamba_zoo._C) and the registered custom ops
# (torch.ops.vmamba_zoo.*) check every argument themselves, whatever the Python wrappers did.

HAS_CPU_EXT = available_backends("cpu")["cpu"] is None
needs_cpu_ext = pytest.mark.skipif(not HAS_CPU_EXT, reason=str(available_backends("cpu")["cpu"]))
OPS = torch.ops.vmamba_zoo


def scan_args(batch=1, channels=4, length=5, groups=2, state=1, dtype=torch.float32):
    """Consistent (u, delta, A, B, C, D, delta_bias) for one grouped selective scan."""
    g = torch.Generator().manual_seed(0)
    rnd = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype)  # noqa: E731
    return [rnd(batch, channels, length), rnd(batch, channels, length), -rnd(channels, state).abs(),
            rnd(batch, groups, state, length), rnd(batch, groups, state, length), rnd(channels), rnd(channels)]


def replace(args, **changes):
    names = ["u", "delta", "A", "B", "C", "D", "delta_bias"]
    return [changes.get(name, arg) for name, arg in zip(names, args)]


# (what changes, the kernel's message, the op's message): each a call the kernels used to run
# on, reading out of bounds, producing garbage or dividing by zero (SIGFPE)
BAD_SCAN_ARGS = [
    (dict(B=torch.randn(1, 2, 1, 3), C=torch.randn(1, 2, 1, 3)), r"B must be \(batch, groups, N, L\)",
     "B must have shape"),  # short B
    (dict(A=torch.randn(2, 1)), r"A must be \(channels=4", "A must have 4 rows"),  # short A
    (dict(B=torch.randn(1, 0, 1, 5), C=torch.randn(1, 0, 1, 5)), "B has 0 groups", "divisible by groups"),
    (dict(B=torch.randn(1, 3, 1, 5), C=torch.randn(1, 3, 1, 5)), "B has 3 groups", "divisible by groups"),
    (dict(C=torch.randn(1, 2, 2, 5)), r"C must be \(batch, groups, N, L\)", "C must have shape"),
    (dict(delta=torch.randn(1, 4, 4)), "delta must be", "delta must have u's shape"),
    (dict(D=torch.randn(3)), "D must be", "D must have shape"),
    (dict(delta_bias=torch.randn(5)), "delta_bias must be", "delta_bias must have shape"),
    (dict(A=-torch.rand(4, 1, dtype=torch.float64)), "A must be Float like the first input", "one of them"),
]
SCAN_IDS = ["short-B", "short-A", "zero-groups", "groups-not-dividing", "C-state", "delta", "D", "delta_bias",
            "mixed-dtypes"]


@needs_cpu_ext
@pytest.mark.parametrize("change, message, _", BAD_SCAN_ARGS, ids=SCAN_IDS)
def test_raw_selective_scan_entry_points_check_their_arguments(change, message, _):
    from vmamba_zoo import _C

    u, delta, A, B, C, D, bias = replace(scan_args(), **change)
    dy, dh = torch.randn(u.shape), torch.randn(u.shape[0], u.shape[1], A.shape[1], u.shape[2])
    calls = [
        lambda: _C.selective_scan_fwd(u, delta, A, B, C, D, bias, True),
        lambda: _C.selective_scan_bwd(u, delta, A, B, C, D, bias, True, dy, None),
    ]
    if "C" not in change and "D" not in change:  # the states scan has neither
        calls += [lambda: _C.selective_scan_states_fwd(u, delta, A, B, bias, True),
                  lambda: _C.selective_scan_states_bwd(u, delta, A, B, bias, True, dh)]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("backend", ["torch"] + (["cpu"] if HAS_CPU_EXT else []))
@pytest.mark.parametrize("change, _, message", BAD_SCAN_ARGS, ids=SCAN_IDS)
def test_registered_scan_ops_check_their_arguments(backend, change, _, message):
    u, delta, A, B, C, D, bias = replace(scan_args(), **change)
    with pytest.raises(ValueError, match=message):
        OPS.selective_scan(u, delta, A, B, C, D, bias, True, backend)
    with pytest.raises(ValueError, match=message):
        OPS.selective_scan_backward(u, delta, A, B, C, D, bias, True, backend, torch.randn(u.shape), None)
    if "C" not in change and "D" not in change:
        with pytest.raises(ValueError, match=message):
            OPS.selective_scan_states(u, delta, A, B, bias, True, backend)


def test_registered_ops_check_gradients_and_backend():
    u, delta, A, B, C, D, bias = scan_args()
    with pytest.raises(ValueError, match=r"dy must be \(batch, channels, L\)"):
        OPS.selective_scan_backward(u, delta, A, B, C, D, bias, True, "torch", torch.randn(1, 4, 4), None)
    with pytest.raises(ValueError, match=r"dlast must be 3-D \(batch, channels, N\)"):
        OPS.selective_scan_backward(u, delta, A, B, C, D, bias, True, "torch", torch.randn(u.shape), torch.randn(1, 4))
    with pytest.raises(ValueError, match=r"dh must be \(batch, channels, N, L\)"):
        OPS.selective_scan_states_backward(u, delta, A, B, bias, True, "torch", torch.randn(1, 4, 1, 4))
    with pytest.raises(ValueError, match="unknown backend"):
        OPS.selective_scan(u, delta, A, B, C, D, bias, True, "fortran")
    with pytest.raises(ValueError, match="cannot run this call"):
        OPS.cross_scan(torch.randn(1, 4, 2, 2), "cross2d", "cuda")
    with pytest.raises(ValueError, match="float32 or float64"):
        OPS.selective_scan(u.half(), delta, A, B, C, D, bias, True, "torch")


@needs_cpu_ext
def test_raw_layout_and_device_checks():
    from vmamba_zoo import _C

    u, delta, A, B, C, D, bias = scan_args()
    with pytest.raises(ValueError, match="u must be contiguous"):
        _C.selective_scan_fwd(u.transpose(1, 2).contiguous().transpose(1, 2), delta, A, B, C, D, bias, True)
    with pytest.raises(ValueError, match="float32 or float64"):
        _C.selective_scan_fwd(u.half(), delta, A, B, C, D, bias, True)
    with pytest.raises(ValueError, match="must be a CPU tensor"):
        _C.selective_scan_fwd(u, delta, A.to("meta"), B, C, D, bias, True)
    with pytest.raises(ValueError, match=r"dy must be \(batch, channels, L\)"):
        _C.selective_scan_bwd(u, delta, A, B, C, D, bias, True, torch.randn(1, 4, 3), None)
    with pytest.raises(ValueError, match=r"dlast must be \(batch, channels, N\)"):
        _C.selective_scan_bwd(u, delta, A, B, C, D, bias, True, torch.randn(u.shape), torch.randn(4))


@needs_cpu_ext
def test_raw_cross_scan_and_merge_check_their_arguments():
    from vmamba_zoo import _C

    with pytest.raises(ValueError, match="unknown mode"):
        _C.cross_scan(torch.randn(1, 4, 2, 2), "diagonal")
    with pytest.raises(ValueError, match="divisible by 4"):
        _C.cross_scan(torch.randn(1, 6, 2, 2), "cross2d_grouped")
    with pytest.raises(ValueError, match="H, W >= 1"):
        _C.cross_scan(torch.randn(1, 4, 0, 2), "cross2d")
    with pytest.raises(ValueError, match="float32, float64"):
        _C.cross_scan(torch.ones(1, 4, 2, 2, dtype=torch.int64), "cross2d")
    with pytest.raises(ValueError, match=r"needs ys of shape \(batch, 4, C, 6\)"):
        _C.cross_merge(torch.randn(1, 4, 3, 5), 2, 3, "cross2d")  # one step short: an out-of-bounds read
    with pytest.raises(ValueError, match="H and W must be"):
        _C.cross_merge(torch.randn(1, 4, 3, 0), 0, 3, "cross2d")
    with pytest.raises(ValueError, match="H and W must be"):
        _C.cross_merge(torch.randn(1, 4, 3, 6), 2**40, 3, "cross2d")


def test_cross_merge_sizes_must_be_integers():
    ys = torch.randn(1, 4, 3, 6)
    for H in (2.7, 2.0, True, "2", None):
        with pytest.raises(ValueError, match="H must be a positive integer"):
            cross_merge(ys, H, 3)
    with pytest.raises(ValueError, match="W must be a positive integer"):
        cross_merge(ys, 2, 3.5)
    torch.testing.assert_close(cross_merge(ys, torch.tensor(2), 3), cross_merge(ys, 2, 3))  # integer scalars pass


def fused_args(batch=1, H=3, W=4, channels=8, state=1, rank=2):
    g = torch.Generator().manual_seed(0)
    K, Dk = 4, channels
    return dict(x=torch.randn(batch, H, W, channels, generator=g),
                x_proj_weight=torch.randn(K, rank + 2 * state, Dk, generator=g),
                dt_projs_weight=torch.randn(K, Dk, rank, generator=g), dt_projs_bias=torch.randn(K, Dk, generator=g),
                A=-torch.rand(K * Dk, state, generator=g), D=torch.randn(K * Dk, generator=g))


@needs_cpu_ext
def test_raw_fused_kernels_check_their_arguments():
    from vmamba_zoo import _C

    a = fused_args()
    x = a["x"].reshape(1, 12, 8)
    x_dbl = torch.randn(4, 12, 4)
    route = torch.arange(12, dtype=torch.int32).repeat(4, 1)
    args = [x, x_dbl, route, a["dt_projs_weight"], a["dt_projs_bias"], a["A"], a["D"]]
    _C.cross_selective_scan_fwd(*args, False, True)  # consistent: runs
    cases = [
        ((0, x[:, :, :6].contiguous()), r"x must be \(batch, P, C=8\)"),
        ((1, x_dbl[:, :6]), r"x_dbl must be \(K, batch \* P, R \+ 2N\)"),
        ((2, route + 5), "route indexes pixels outside the map"),
        ((2, route.long()), "route must be Int"),
        ((5, a["A"][:5]), r"A must be \(K \* Dk=32"),
        ((6, a["D"][:5]), "dt_bias and D must have K \\* Dk = 32"),
        ((1, x_dbl.double()), r"x_dbl must be a CPU tensor of dtype Float \(x's\)"),
        ((0, x.int()), "x must be float32.* got Int"),
        ((1, x_dbl.bfloat16()), r"x_dbl must be a CPU tensor of dtype Float \(x's\)"),
    ]
    for (index, value), message in cases:
        bad = list(args)
        bad[index] = value
        with pytest.raises(ValueError, match=message):
            _C.cross_selective_scan_fwd(*bad, False, True)
        with pytest.raises(ValueError, match=message.replace("_fwd", "_bwd")):
            _C.cross_selective_scan_bwd(*bad, False, True, torch.randn(1, 12, 8))
    assert len(_C.cross_selective_scan_bwd(*args, False, True, torch.randn(1, 12, 8))) == 6  # consistent: runs
    # a route that skips a pixel: no gradient of its projections there (not uninitialised memory)
    skipping = route.clone()
    skipping[1, 3] = -1
    _, ddelta, dBC, *_ = _C.cross_selective_scan_bwd(*args[:2], skipping, *args[3:], False, True, torch.randn(1, 12, 8))
    assert not ddelta[1, 3].any() and not dBC[1, 3].any() and ddelta[1, 4].all()
    for dy, message in [(torch.randn(1, 12, 6), r"dy must be \(batch, P, C\)"), (torch.randn(1, 12, 8).double(), "dy must be Float"),
                        (torch.randn(1, 8, 12).transpose(1, 2), "dy must be contiguous")]:
        with pytest.raises(ValueError, match=message):
            _C.cross_selective_scan_bwd(*args, False, True, dy)
    # bfloat16 x takes float32 x_dbl and parameters
    bf16_args = [x.bfloat16(), *args[1:]]
    _C.cross_selective_scan_fwd(*bf16_args, False, True)
    bad = [x.bfloat16(), x_dbl.bfloat16(), *args[2:]]
    with pytest.raises(ValueError, match=r"x_dbl must be a CPU tensor of dtype Float \(float32 with bfloat16 x\)"):
        _C.cross_selective_scan_fwd(*bad, False, True)
    for index, name in ((3, "dt_weight"), (6, "D")):
        bad = list(bf16_args)
        bad[index] = bad[index].bfloat16()
        with pytest.raises(ValueError, match=f"with bfloat16 x, {name} must be float32, got BFloat16"):
            _C.cross_selective_scan_fwd(*bad, False, True)
    with pytest.raises(ValueError, match="x must be float32 or float64, got BFloat16"):  # the backward: float32 x
        _C.cross_selective_scan_bwd(*bf16_args, False, True, torch.randn(1, 12, 8))
    h, weight = torch.randn(1, 4, 3, 3), torch.randn(3, 4, 3, 3)
    with pytest.raises(ValueError, match="H, W >= 1"):
        _C.state_fusion_fwd(torch.randn(1, 4, 0, 3), weight, [1, 3, 5])
    with pytest.raises(ValueError, match="weight must be"):
        _C.state_fusion_fwd(h, weight[:2], [1, 3, 5])
    with pytest.raises(ValueError, match="dilations must be positive"):
        _C.state_fusion_fwd(h, weight, [1, 0, 5])
    with pytest.raises(ValueError, match="weight must be"):
        _C.state_fusion_bwd(h, weight[:2], [1, 3, 5], h)
    with pytest.raises(ValueError, match="dilations must be positive"):
        _C.state_fusion_bwd(h, weight, [1, 0, 5], h)
    with pytest.raises(ValueError, match=r"dout must be \(batch, channels, H, W\)"):
        _C.state_fusion_bwd(h, weight, [1, 3, 5], h[:, :2].contiguous())
    with pytest.raises(ValueError, match="dout must be Float"):
        _C.state_fusion_bwd(h, weight, [1, 3, 5], h.double())
    # a dilation far beyond the map reads only border pixels: same result as one at the map's size
    torch.testing.assert_close(_C.state_fusion_fwd(h, weight, [1, 3, 2**40]), _C.state_fusion_fwd(h, weight, [1, 3, 3]))


@needs_cpu_ext
def test_registered_fused_ops_check_their_arguments():
    a = fused_args()
    bad = dict(a, A=a["A"][:5])
    with pytest.raises(ValueError, match=r"A must be \(K \* Dk = 32, N\)"):
        OPS.cross_selective_scan(*bad.values(), "cross2d", True)
    with pytest.raises(ValueError, match="float32 or float64"):
        OPS.cross_selective_scan(*dict(a, D=a["D"].double()).values(), "cross2d", True)
    with pytest.raises(ValueError, match=r"A must be \(K \* Dk = 32, N\)"):
        OPS.cross_selective_scan_backward(*bad.values(), "cross2d", True, torch.zeros(1, 3, 4, 8))
    with pytest.raises(ValueError, match="dy must be like x"):
        OPS.cross_selective_scan_backward(*a.values(), "cross2d", True, torch.zeros(1, 3, 4, 6))
    with pytest.raises(ValueError, match="x may be bfloat16 with float32 parameters"):
        OPS.cross_selective_scan(*dict(a, x=a["x"].bfloat16(), D=a["D"].bfloat16()).values(), "cross2d", True)
    with pytest.raises(ValueError, match="weight must be"):
        OPS.state_fusion(torch.randn(1, 4, 3, 3), torch.randn(2, 4, 3, 3), [1, 3, 5])
    with pytest.raises(ValueError, match="weight must be"):
        OPS.state_fusion_backward(torch.randn(1, 4, 3, 3), torch.randn(2, 4, 3, 3), [1, 3, 5], torch.randn(1, 4, 3, 3))
    with pytest.raises(ValueError, match="dout must be like h"):
        OPS.state_fusion_backward(torch.randn(1, 4, 3, 3), torch.randn(3, 4, 3, 3), [1, 3, 5], torch.randn(1, 4, 3, 2))


# An empty batch: an empty output of the right shape from every op and backend (the models then
# map an empty batch to empty logits), never an error from inside a kernel.
@pytest.mark.parametrize("backend", ["torch"] + (["cpu"] if HAS_CPU_EXT else []))
def test_empty_batch_gives_empty_outputs(backend):
    u, delta, A, B, C, D, bias = scan_args(batch=0, state=2)
    y = selective_scan(u, delta, A, B, C, D, bias, True, backend=backend)
    assert y.shape == (0, 4, 5)
    assert selective_scan_states(u, delta, A, B, bias, True, backend=backend).shape == (0, 4, 2, 5)
    leaves = [t.requires_grad_() for t in (u, delta, A, B, C, D, bias)]
    selective_scan(*leaves, True, backend=backend).sum().backward()
    assert all(t.grad is not None and t.grad.shape == t.shape and not t.grad.any() for t in leaves)
    xs = cross_scan(torch.randn(0, 8, 3, 5), "cross2d_grouped", backend=backend)
    assert xs.shape == (0, 4, 2, 15)
    assert cross_merge(torch.randn(0, 4, 8, 4), 3, 3, "atrous2", backend=backend).shape == (0, 8, 9)
    with torch.no_grad():
        a = fused_args(batch=0)
        assert cross_selective_scan(**a, backend=backend).shape == (0, 3, 4, 8)
        assert state_fusion(torch.randn(0, 4, 3, 3), torch.randn(3, 4, 3, 3), backend=backend).shape == (0, 4, 3, 3)
    if backend == "cpu":
        from vmamba_zoo import _C

        assert _C.selective_scan_fwd(*scan_args(batch=0), True)[0].shape == (0, 4, 5)
        assert OPS.selective_scan(*scan_args(batch=0), True, "cpu")[1].shape == (0, 4, 1)


@needs_cpu_ext
def test_cpu_isa_choice_is_checked():
    from vmamba_zoo import _C

    for name, message in [("sse", "unknown CPU path 'sse'"), ("", "unknown CPU path")]:
        with pytest.raises(ValueError, match=message):
            _C.set_cpu_isa(name)
    assert _C.active_cpu_isa() in _C.supported_cpu_isas()


# =============================================================================================
# Checkpoint files: each damaged or wrong file gets one message naming the file and the problem
# before any tensor is trusted (vmamba_zoo.checkpoint); an unreachable or unusable weights URL
# says which URL failed and how to proceed offline.
# =============================================================================================


def _zip_checkpoint(path: Path) -> Path:
    torch.save({"model": {"w": torch.randn(4096)}}, path)
    return path


def _flip_bit_in_tensor_storage(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        member = next(m for m in archive.infolist() if "/data/" in m.filename and not m.filename.endswith(".pkl"))
        data_start = member.header_offset + 30 + len(member.filename) + len(member.extra)
    blob = bytearray(path.read_bytes())
    blob[data_start + 1000] ^= 0x04
    path.write_bytes(bytes(blob))
    return path


def _written(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _truncated(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _legacy_truncated(path: Path) -> Path:
    torch.save({"w": torch.randn(4096)}, path, _use_new_zipfile_serialization=False)
    return _truncated(path)


BAD_FILES = {
    # case: (how to make the file, message)
    "empty": (lambda p: _written(p, b""), r"is empty \(0 bytes\)"),
    "random bytes": (lambda p: _written(p, bytes(range(7, 256)) * 4), "is not a PyTorch checkpoint"),
    "random bytes after a pickle header": (
        lambda p: _written(p, b"\x80\x02" + bytes(range(29, 256)) * 4), "could not be read as a PyTorch checkpoint"),
    "html page": (lambda p: _written(p, "\n<!DOCTYPE html><html><head><title>Google Drive</title>"),
                  r"is a web page \(HTML\).*pretrained_cfg_overlay=dict\(file=PATH\)"),
    "bit flip in a tensor": (lambda p: _flip_bit_in_tensor_storage(_zip_checkpoint(p)),
                             r"member '[^']*/data/0' \(a tensor's storage\) fails its check \(Bad CRC-32"),
    "truncated zip": (lambda p: _truncated(_zip_checkpoint(p)), "is a damaged zip archive"),
    "truncated legacy file": (_legacy_truncated, "could not be read as a PyTorch checkpoint"),
    "pickled nn.Module": (lambda p: torch.save(torch.nn.Linear(2, 3), p) or p,  # torch.save returns None
                          r"holds a whole pickled model \(torch\.nn\.modules\.linear\.Linear\).*state_dict"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_checkpoint_files_are_named_with_their_problem(case, tmp_path):
    from vmamba_zoo.checkpoint import CheckpointFileError, load_checkpoint_file

    make, message = BAD_FILES[case]
    path = make(tmp_path / "weights.pth")
    with pytest.raises(CheckpointFileError, match=message) as info:
        load_checkpoint_file(path)
    assert str(path) in str(info.value)


def test_checkpoint_keys_and_dtypes_are_checked_not_cast(tmp_path):
    from vmamba_zoo.checkpoint import CheckpointMismatchError, extract_state_dict, load_checkpoint_file
    from vmamba_zoo.checkpoint import load_pretrained_checkpoint

    path = tmp_path / "int_keys.pth"
    torch.save({3624008592: torch.zeros(2), "w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointMismatchError, match=r"keyed by parameter names.*3624008592 \(int\)"):
        extract_state_dict(load_checkpoint_file(path))

    model = torch.nn.Linear(2, 3)
    path = tmp_path / "int64.pth"
    torch.save({"weight": torch.ones(3, 2, dtype=torch.int64), "bias": torch.zeros(3)}, path)
    before = model.weight.detach().clone()
    mistyped = r"non-floating.*weight \(torch\.int64 vs model torch\.float32\)"
    with pytest.raises(CheckpointMismatchError, match=rf"(?s){path}.*{mistyped}"):
        load_pretrained_checkpoint(model, path)
    assert torch.equal(model.weight, before)  # nothing loaded
    torch.save({"weight": torch.ones(3, 2, dtype=torch.bfloat16), "bias": torch.zeros(3)}, path)
    load_pretrained_checkpoint(model, path)  # a float dtype is a precision choice, loaded as before
    assert torch.equal(model.weight, torch.ones(3, 2))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network: every download fails as urllib does without DNS; the cache is empty."""
    import urllib.error

    def no_network(url, dst, hash_prefix=None, progress=True):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setenv("VMAMBA_ZOO_WEIGHTS", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "cache"


def test_offline_pretrained_names_the_url_and_what_to_do(offline):
    import timm

    from vmamba_zoo.checkpoint import CheckpointDownloadError

    with pytest.raises(CheckpointDownloadError) as info:
        timm.create_model("vmamba_tiny_s1l8", pretrained=True)
    message = str(info.value)
    assert "could not download https://github.com/MzeroMiko/VMamba/releases/download/" in message
    assert "Name or service not known" in message
    assert "pretrained_cfg_overlay=dict(file=PATH)" in message
    assert f"save it as {offline}" in message and "VMAMBA_ZOO_WEIGHTS" in message


def test_google_drive_weights_name_their_file_id(offline):
    import timm

    from vmamba_zoo.checkpoint import CheckpointDownloadError

    with pytest.raises(CheckpointDownloadError, match=r"Google Drive page \(file ID 19kXoqGSTuKKs4AHbdUSrdKZTwTWenLIW\)"
                       r".*pretrained_cfg_overlay=dict\(file=PATH\)"):
        timm.create_model("spatialmamba_tiny", pretrained=True)


def test_a_web_page_served_for_a_weights_url_is_named(monkeypatch, tmp_path):
    import timm

    from vmamba_zoo.checkpoint import CheckpointFileError

    def serves_a_page(url, dst, hash_prefix=None, progress=True):
        Path(dst).write_text("<html><body>Sign in to continue</body></html>")

    monkeypatch.setenv("VMAMBA_ZOO_WEIGHTS", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", serves_a_page)
    with pytest.raises(CheckpointFileError, match=rf"{tmp_path / 'cache'}.* is a web page \(HTML\)"):
        timm.create_model("vmamba_tiny_s1l8", pretrained=True, depths=(1, 1, 1, 1))


# ============================================================================================
# Whole-model checkpoints in the MM tools (load_from, --resume, tools/test.py CHECKPOINT) load
# strictly: a file whose weights do not fit is an error naming the keys before anything is
# evaluated or trained (MMEngine alone loads non-strictly and evaluates random weights);
# --non-strict / strict_load = False loads what fits and logs the counts.


def _tiny_detector_like():
    import vmamba_zoo.mm as vmm

    model = torch.nn.Module()
    model.backbone = vmm.VMamba(arch="vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16)
    model.neck = torch.nn.Conv2d(16, 4, 1)
    return model


@pytest.fixture
def strict_runner(mm_tools, tmp_path):
    """An MMEngine Runner (the class tools/train.py and tools/test.py build) around a small
    backbone + neck model; ``runner(strict_load=...)``."""
    from mmengine.runner import Runner

    from vmamba_zoo.mm.runner import AmpFallbackOnCpu, StrictCheckpointLoading

    class StrictRunner(StrictCheckpointLoading, AmpFallbackOnCpu, Runner):  # what build_runner builds
        pass

    def make(**cfg_options):
        torch.manual_seed(0)
        return StrictRunner(model=_tiny_detector_like(), work_dir=str(tmp_path / "work"), cfg=cfg_options)

    return make


def _assert_untouched(model, before):
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_whole_model_checkpoints_load_strictly(strict_runner, tmp_path):
    from vmamba_zoo.checkpoint import CheckpointMismatchError

    runner = strict_runner()
    torch.manual_seed(1)
    weights = _tiny_detector_like().state_dict()
    # ours (MMEngine's layout), the authors' {'model': ...} layout, and the original backbone key
    # layout (no ``model.`` level inside the backbone; the backbone's pre-hook maps it)
    original = {k.replace("backbone.model.", "backbone."): v for k, v in weights.items()}
    for name, content in (("ours", {"state_dict": weights, "meta": {}}), ("authors", {"model": weights}),
                          ("original_keys", {"state_dict": original})):
        path = tmp_path / f"{name}.pth"
        torch.save(content, path)
        runner.model.neck.weight.data.zero_()
        runner.load_checkpoint(str(path))
        for key, value in weights.items():
            assert torch.equal(runner.model.state_dict()[key], value), (name, key)

    half = dict(list(weights.items())[: len(weights) // 2])
    extra = {**weights, "roi_head.fc.weight": torch.zeros(2, 2)}
    reshaped = {**weights, "neck.weight": torch.zeros(4, 16, 3, 3)}
    cases = [
        ("half", {"state_dict": half}, r"\(51 of the model's 102 tensors loaded; 51 missing.*\n  missing \(51\): backbone\.model\.stages\.2"),
        ("extra", {"state_dict": extra}, r"unexpected \(1\): roi_head\.fc\.weight"),
        ("reshaped", {"state_dict": reshaped}, r"of another shape \(1\): neck\.weight \(checkpoint"),
        ("nested", {"model": {"detector": weights}}, r"no tensors found"),
    ]
    for name, content, message in cases:
        path = tmp_path / f"{name}.pth"
        torch.save(content, path)
        with pytest.raises(CheckpointMismatchError, match=message) as error:
            strict_runner().load_checkpoint(str(path))
        if name != "nested":
            assert f"checkpoint {path} does not fit Module" in str(error.value)
            assert "--non-strict" in str(error.value)


def test_non_strict_loading_loads_what_fits_and_counts_the_rest(strict_runner, tmp_path):
    import io
    import logging

    torch.manual_seed(1)
    weights = _tiny_detector_like().state_dict()
    weights["roi_head.fc.weight"] = torch.zeros(2, 2)
    weights["neck.weight"] = torch.zeros(4, 16, 3, 3)  # another shape: skipped
    del weights["neck.bias"]
    path = tmp_path / "partial.pth"
    torch.save({"state_dict": weights}, path)
    runner = strict_runner(strict_load=False)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    runner.logger.addHandler(handler)
    neck_before = runner.model.neck.weight.detach().clone()
    runner.load_checkpoint(str(path))
    state = runner.model.state_dict()
    assert torch.equal(state["backbone.model.stem.conv1.weight"], weights["backbone.model.stem.conv1.weight"])
    assert torch.equal(state["neck.weight"], neck_before)
    runner.logger.removeHandler(handler)
    total = len(state)
    log = log.getvalue()
    assert f"non-strictly: {total - 2} of the model's {total} tensors loaded; 1 missing, 1 unexpected" in log
    assert "missing: neck.bias" in log and "unexpected: roi_head.fc.weight" in log

    from vmamba_zoo.mm.checkpoint import load_whole_model

    report = load_whole_model(_tiny_detector_like(), {"state_dict": weights}, strict=False)
    assert (report.loaded, report.total) == (total - 2, total)
    assert report.missing == ["neck.bias"] and report.unexpected == ["roi_head.fc.weight"]
    assert [k.split()[0] for k in report.misshaped] == ["neck.weight"]
    assert report.summary() == f"{total - 2} of the model's {total} tensors loaded; 1 missing, 1 unexpected, " \
                               "1 of another shape"


def test_tools_take_non_strict(mm_tools):
    args = mm_tools["test"].parse_args(["c.py", "w.pth", "--non-strict"])
    assert args.non_strict
    assert not mm_tools["train"].parse_args(["c.py"]).non_strict


# ============================================================================================
# Half precision: model.half() / model.bfloat16() run in every family (the scan computes in
# float32 and returns its input's dtype), and overflow is defined: with positive A every backend
# turns the same outputs non-finite (from a state's first overflow on, as a sequential float32
# evaluation does).

HALF_MODELS = ["vmamba_tiny_s1l8", "vmamba_tiny_v0", "efficientvmamba_tiny", "groupmamba_tiny",
               "spatialmamba_tiny", "resvmamba_small"]


@pytest.mark.parametrize("name", HALF_MODELS)
def test_half_and_bfloat16_models_run_close_to_float32(name):
    import timm

    torch.manual_seed(0)
    model = timm.create_model(name, depths=(1, 1, 1, 1)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(x).flatten()
    for dtype in (torch.bfloat16, torch.float16):
        low = timm.create_model(name, depths=(1, 1, 1, 1))
        low.load_state_dict(model.state_dict())
        low = low.to(dtype).eval()
        with torch.no_grad():
            logits = low(x.to(dtype))
        assert logits.dtype == dtype and torch.isfinite(logits).all()
        cosine = torch.nn.functional.cosine_similarity(logits.float().flatten(), reference, dim=0)
        assert cosine >= 0.999, f"{name} in {dtype}: cosine {cosine:.5f}"
    low.train()  # float16 training step: gradients come back in the parameters' dtype
    low(x.to(torch.float16)).float().logsumexp(1).sum().backward()
    grads = [p.grad for p in low.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float16 for g in grads)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_scan_ops_return_their_inputs_half_dtype(backend):
    if backend == "cpu" and not HAS_CPU_EXT:
        pytest.skip("no CPU extension")
    a = scan_args(batch=2, channels=4, length=9, groups=2, state=3)
    for dtype in (torch.float16, torch.bfloat16):
        u, delta, A, B, C, D, bias = a
        half = (u.to(dtype), delta.to(dtype), A, B.to(dtype), C.to(dtype), D, bias)  # float32 A, D: the models'
        y, last = selective_scan(*half, True, return_last_state=True, backend=backend)
        expected = selective_scan(*(t.float() for t in half), True, backend=backend)
        assert y.dtype == last.dtype == dtype
        assert torch.equal(y, expected.to(dtype))  # computed in float32, rounded once
        assert selective_scan_states(*half[:4], bias, True, backend=backend).dtype == dtype
    assert selective_scan(*a, True, backend=backend).dtype == torch.float32
    assert selective_scan(*(t.double() for t in a), True, backend=backend).dtype == torch.float64


def test_cross_selective_scan_returns_its_inputs_half_dtype():
    x = torch.randn(1, 3, 4, 8)
    K, R, N = 4, 2, 1
    params = (torch.randn(K, R + 2 * N, 8) * 0.3, torch.randn(K, 8, R) * 0.3, torch.randn(K, 8) * 0.1,
              -torch.rand(K * 8, N) - 0.5, torch.randn(K * 8))
    backends_here = ["torch"] + (["cpu"] if HAS_CPU_EXT else [])
    for backend in backends_here:
        with torch.no_grad():
            reference = cross_selective_scan(x.bfloat16().float(), *params, backend=backend)
            y = cross_selective_scan(x.bfloat16(), *params, backend=backend)
        assert y.dtype == torch.bfloat16
        # the fused CPU kernel projects in float32, the chain in x's dtype (as the originals)
        cosine = torch.nn.functional.cosine_similarity(y.float().flatten(), reference.flatten(), dim=0)
        assert cosine >= 0.999, (backend, cosine)


def _growing_scan_args(seed: int, softplus_input: bool):
    g = torch.Generator().manual_seed(seed)
    batch, channels, length, groups, state = 2, 8, 96, 2, 4
    u = torch.randn(batch, channels, length, generator=g)
    u[:, :, :6] = 0  # the states are exactly 0 while the decays grow
    delta = torch.randn(batch, channels, length, generator=g) * (1.0 if softplus_input else 2.0)
    A = torch.rand(channels, state, generator=g) * 6  # positive: growing states
    A[0] = -1.0  # one stable row
    B, C = torch.randn(2, batch, groups, state, length, generator=g)
    return u, delta, A, B, C, torch.randn(channels, generator=g), torch.randn(channels, generator=g)


@needs_cpu_ext
@pytest.mark.parametrize("softplus", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_overflow_with_positive_A_is_the_same_on_every_backend(softplus, seed):
    u, delta, A, B, C, D, bias = _growing_scan_args(seed, softplus)
    outputs = {}
    for backend in ("torch", "cpu"):
        y = selective_scan(u, delta, A, B, C, D, bias, softplus, backend=backend)
        h = selective_scan_states(u, delta, A, B, bias, softplus, backend=backend)
        outputs[backend] = (y, h)
    (y_ref, h_ref), (y_cpu, h_cpu) = outputs["torch"], outputs["cpu"]
    for ref, cpu in ((y_ref, y_cpu), (h_ref, h_cpu)):
        bad = ~torch.isfinite(ref)
        assert bad.any() and not bad.all()  # the probe really overflows, somewhere
        assert torch.equal(bad, ~torch.isfinite(cpu))
        # non-finite from the first overflow on, in every row
        assert torch.equal(bad, torch.cummax(bad.to(torch.uint8), dim=-1).values.bool())
        torch.testing.assert_close(ref[~bad], cpu[~bad], rtol=1e-4, atol=1e-4)
    if softplus:  # dt > 0: the stable row (A < 0) decays, never overflows
        assert torch.isfinite(y_ref[:, 0]).all()


def test_float16_outputs_overflow_to_inf_beyond_its_range():
    u, delta, A, B, C, D, bias = scan_args(batch=1, channels=4, length=5, groups=2, state=1)
    u, delta, B, C = (u * 3e4).half(), delta.half(), (B * 4).half(), (C * 4).half()  # representable
    big = selective_scan(u.float(), delta.float(), A, B.float(), C.float(), D, bias, True, backend="torch")
    half = selective_scan(u, delta, A, B, C, D, bias, True, backend="torch")
    beyond = big.abs() > torch.finfo(torch.float16).max
    assert beyond.any() and torch.isinf(half[beyond]).all() and torch.isfinite(half[~beyond]).all()


# ============================================================================================
# The shipped configs train on a CPU: an AmpOptimWrapper (every classification recipe,
# tools/train.py --amp for detection and segmentation) becomes a float32 OptimWrapper where there
# is no GPU, with a log line, instead of MMEngine's "only available training on gpu" error.


def _optim_wrapper_of(config: str, amp_flag: bool) -> dict:
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / "configs" / config))
    if amp_flag:  # what tools/train.py --amp does
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    return cfg.optim_wrapper


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback where there is no GPU")
@pytest.mark.parametrize("config, amp_flag", [
    ("classification/vmamba/vmamba-tiny-s1l8_8xb128_in1k.py", False),
    ("classification/efficientvmamba/efficientvmamba-tiny_16xb128_in1k.py", False),
    ("detection/vmamba/mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py", True),
    ("segmentation/vmamba/upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py", True),
])
def test_amp_configs_train_in_float32_on_a_cpu(strict_runner, config, amp_flag):
    import io
    import logging

    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    optim_cfg = _optim_wrapper_of(config, amp_flag)
    assert optim_cfg.type == "AmpOptimWrapper"
    runner = strict_runner()
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    runner.logger.addHandler(handler)
    try:
        wrapper = runner.build_optim_wrapper(optim_cfg)
    finally:
        runner.logger.removeHandler(handler)
    assert type(wrapper) is OptimWrapper and not isinstance(wrapper, AmpOptimWrapper)
    assert "AmpOptimWrapper needs a GPU and this machine trains on cpu: training in float32" in log.getvalue()
    # MMEngine alone refuses it
    with pytest.raises(AssertionError, match="only available training on gpu"):
        AmpOptimWrapper(optimizer=torch.optim.SGD(runner.model.parameters(), lr=0.1))
