"""Time the ops of :mod:`vmamba_zoo.ops` on the CPU or a GPU, per backend, at VMamba-T-shaped workloads.

Rows: ``selective_scan`` (with D, delta_bias and softplus, as SS2D calls it),
``selective_scan_states``, ``cross_scan``, ``cross_merge`` (mode ``cross2d``) and
``cross_selective_scan`` (an SS2D's whole scan core, channel-last input) at the four
stages of VMamba-T s1l8 at 224x224 (K = 4 directions, d_inner = ssm_ratio * C_stage channels
per direction, N = d_state = 1, or ``--d-state``: 16 is vanilla VMamba's and Res-VMamba's), plus a headline workload: the stage-1 selective
scan with 4 x 192 channels. Columns: forward and forward+backward, median milliseconds (wall
clock, or CPU time: ``--clock``) over ``--repeats`` runs, for every backend available on this machine. The headline
workload also runs Python loops over L with autograd through them (written like VMamba's
``selective_scan_torch`` fallback: precompute exp(dt*A) and dt*B*u, then one step per
position; see ``official_style_loop`` and ``unbind_loop``) and prints how many times faster
each backend is.

    python tools/bench_ops.py [--threads 2] [--batch 2] [--quick] [--loop both] [--json FILE]
    python tools/bench_ops.py --device cuda --batch 128 --loop none   # every GPU backend
    python tools/bench_ops.py --backends cpu --cpu-isas all --loop none   # the CPU kernels' paths
    python tools/bench_ops.py --ops cross_selective_scan --d-state 16 --loop none   # one op, N = 16

``--clock cpu`` reports the process's CPU time instead of the wall clock (on a machine shared
with other jobs it is the steadier of the two; with several threads it is their sum).

``--cpu-isas`` times the ``cpu`` backend once per instruction-set path of its kernels (rows
``cpu:avx512``, ``cpu:avx2``, ``cpu:generic``), one path after the other at each cell, in one
process: compare them within one run.

On a GPU every timed call is followed by a synchronisation, so the times are kernel times plus
launch overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # time this clone's build

from vmamba_zoo.ops import (  # noqa: E402  (after the path set-up)
    BACKENDS,
    available_backends,
    cross_merge,
    cross_scan,
    cross_selective_scan,
    selective_scan,
    selective_scan_states,
)

OPS = ("selective_scan", "selective_scan_states", "cross_scan", "cross_merge", "cross_selective_scan")

# VMamba-T s1l8 at 224x224: stage widths C0 * 2^i with C0 = 96, feature maps 56, 28, 14, 7.
TINY_DIMS = (96, 192, 384, 768)
TINY_SIDES = (56, 28, 14, 7)
DIRECTIONS = 4


def _loop_terms(u, delta, A, B, C, delta_bias, softplus):
    channels, groups = u.shape[1], B.shape[1]
    dt = delta + delta_bias[:, None]
    dt = F.softplus(dt) if softplus else dt
    B_c = B.repeat_interleave(channels // groups, dim=1)  # (batch, channels, N, L)
    C_c = C.repeat_interleave(channels // groups, dim=1)
    decay = torch.exp(dt.unsqueeze(2) * A[None, :, :, None])
    drive = dt.unsqueeze(2) * B_c * u.unsqueeze(2)
    return decay, drive, C_c, u.new_zeros(u.shape[0], channels, A.shape[1])


def official_style_loop(u, delta, A, B, C, D, delta_bias, softplus: bool = True):
    """Written like VMamba's fallback: one autograd step per position, indexing the precomputed
    terms at each step. Each index's backward materialises a full-size gradient, so the backward
    is quadratic in L: this is what a CPU user of the original code pays."""
    decay, drive, C_c, h = _loop_terms(u, delta, A, B, C, delta_bias, softplus)
    ys = []
    for step in range(u.shape[-1]):
        h = decay[..., step] * h + drive[..., step]
        ys.append((h * C_c[..., step]).sum(-1))
    return torch.stack(ys, dim=-1) + D[:, None] * u


def unbind_loop(u, delta, A, B, C, D, delta_bias, softplus: bool = True):
    """A kinder loop baseline: the same steps over ``unbind`` views, whose backward is one stack
    (linear in L). Ratios against it are the conservative ones."""
    decay, drive, C_c, h = _loop_terms(u, delta, A, B, C, delta_bias, softplus)
    ys = []
    for a_l, b_l, c_l in zip(decay.unbind(-1), drive.unbind(-1), C_c.unbind(-1)):
        h = a_l * h + b_l
        ys.append((h * c_l).sum(-1))
    return torch.stack(ys, dim=-1) + D[:, None] * u


LOOPS = {"official": official_style_loop, "unbind": unbind_loop}


def scan_inputs(batch: int, groups: int, group_channels: int, state: int, length: int) -> dict:
    channels = groups * group_channels
    gen = torch.Generator().manual_seed(0)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen) * scale

    return {
        "u": randn(batch, channels, length),
        "delta": randn(batch, channels, length, scale=0.5) - 2.0,
        "A": -torch.rand(channels, state, generator=gen) - 0.5,
        "B": randn(batch, groups, state, length),
        "C": randn(batch, groups, state, length),
        "D": randn(channels),
        "delta_bias": randn(channels, scale=0.1),
    }


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


# The clock median_ms reads: wall time, or with --clock cpu the CPU time of the process (all its
# threads), which a machine shared with other jobs inflates less.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = CLOCKS["wall"]


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    _synchronize()
    times = []
    for _ in range(repeats):
        start = _clock()
        fn()
        _synchronize()
        times.append(_clock() - start)
    return 1e3 * statistics.median(times)


def fwd_and_fwdbwd(forward: Callable[[dict], torch.Tensor], inputs: dict, grad_names: tuple[str, ...],
                   repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median ms of ``forward`` without autograd, and of forward + backward w.r.t. ``grad_names``."""

    def fwd():
        with torch.no_grad():
            forward(inputs)

    def fwd_bwd():
        leaves = {k: (v.detach().requires_grad_() if k in grad_names else v) for k, v in inputs.items()}
        out = forward(leaves)
        out.backward(torch.ones_like(out))

    return median_ms(fwd, repeats, warmup), median_ms(fwd_bwd, repeats, warmup)


def cross_selective_scan_inputs(batch: int, width: int, side: int, state: int = 1) -> dict:
    """An SS2D of ``width`` channels (d_state ``state``, Δ rank ceil(width / 16)) on a side x side map."""
    gen = torch.Generator().manual_seed(0)
    rank = -(-width // 16)
    return {
        "x": torch.randn(batch, side, side, width, generator=gen),
        "x_proj_weight": torch.randn(DIRECTIONS, rank + 2 * state, width, generator=gen) * width**-0.5,
        "dt_projs_weight": torch.randn(DIRECTIONS, width, rank, generator=gen) * rank**-0.5,
        "dt_projs_bias": torch.randn(DIRECTIONS, width, generator=gen) * 0.1 - 4.0,
        "A": -torch.rand(DIRECTIONS * width, state, generator=gen) - 0.5,
        "D": torch.randn(DIRECTIONS * width, generator=gen),
    }


@contextlib.contextmanager
def _cpu_isa(backend: str):
    """Runs the block with the ``cpu`` kernels on the path a ``cpu:<path>`` backend names."""
    name, _, isa = backend.partition(":")
    if not isa:
        yield
        return
    from vmamba_zoo import _C

    previous = _C.active_cpu_isa()
    _C.set_cpu_isa(isa)
    try:
        yield
    finally:
        _C.set_cpu_isa(previous)


def _op_backend(backend: str) -> str:
    return backend.partition(":")[0]


def cross_selective_scan_call(backend: str):
    return lambda t: cross_selective_scan(**t, backend=_op_backend(backend))


def scan_call(backend: str):
    return lambda t: selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"], t["delta_bias"],
                                    delta_softplus=True, backend=_op_backend(backend))


def states_call(backend: str):
    return lambda t: selective_scan_states(t["u"], t["delta"], t["A"], t["B"], t["delta_bias"],
                                           delta_softplus=True, backend=_op_backend(backend))


def _to(tensors: dict, device: torch.device) -> dict:
    return {k: v.to(device) for k, v in tensors.items()}


def workloads(ssm_ratio: float, stages: int) -> list[tuple[str, int, int]]:
    """(name, channels per direction, feature-map side) of the first ``stages`` VMamba-T stages."""
    return [(f"stage{i + 1}", int(ssm_ratio * dim), side)
            for i, (dim, side) in enumerate(zip(TINY_DIMS[:stages], TINY_SIDES[:stages]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--ssm-ratio", type=float, default=1.0, help="d_inner / C per stage (s1l8: 1.0)")
    parser.add_argument("--d-state", type=int, default=1,
                        help="state size N of every workload (default 1: VMamba-T; 16: vanilla VMamba, Res-VMamba)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per cell (default 7, quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, stages 1-2 only, one loop run")
    parser.add_argument("--loop", choices=("both", "unbind", "official", "none"), default="both",
                        help="Python-loop baselines for the headline (official: quadratic backward, slow)")
    parser.add_argument("--ops", default=None, metavar="OPS",
                        help=f"comma list of the ops to time at the stages (default: all of {', '.join(OPS)})")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall: elapsed time (default); cpu: CPU time of the process, all threads summed")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the tensors live (cuda: the 'triton', 'cuda' and 'torch' backends)")
    parser.add_argument("--backends", default=None,
                        help="comma list of backends to time (default: every one available on the device)")
    parser.add_argument("--cpu-isas", default=None, metavar="PATHS",
                        help="time the cpu backend on each of these kernel paths (comma list of avx512, "
                             "avx2, generic, or all: every path this CPU supports)")
    args = parser.parse_args()
    if args.backends is not None:
        args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in args.backends if b not in BACKENDS]
        if unknown or not args.backends:
            parser.error(f"--backends takes a comma list of {', '.join(BACKENDS)}, got {unknown or args.backends}")
    ops = OPS if args.ops is None else tuple(o.strip() for o in args.ops.split(",") if o.strip())
    if not ops or any(o not in OPS for o in ops):
        parser.error(f"--ops takes a comma list of {', '.join(OPS)}, got {args.ops!r}")
    if args.d_state < 1:
        parser.error(f"--d-state takes a positive state size, got {args.d_state}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")

    if args.clock == "cpu" and args.device == "cuda":
        parser.error("--clock cpu times the CPU backends; on a GPU use the wall clock")
    global _clock
    _clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 7)
    device = torch.device(args.device)
    wanted = args.backends or BACKENDS
    backends = [name for name, reason in available_backends(device).items() if reason is None and name in wanted]
    skipped = {name: reason for name, reason in available_backends(device).items()
               if reason is not None and name in wanted}
    if not backends:
        parser.error(f"none of {wanted} runs on {device}: {skipped}")
    if args.cpu_isas is not None:
        if "cpu" not in backends:
            parser.error("--cpu-isas times the cpu backend, which this run does not include")
        from vmamba_zoo import _C

        supported = _C.supported_cpu_isas()
        isas = supported if args.cpu_isas == "all" else [i.strip() for i in args.cpu_isas.split(",") if i.strip()]
        if not isas or any(i not in supported for i in isas):
            parser.error(f"--cpu-isas takes a comma list of the paths this CPU supports ({', '.join(supported)}) "
                         f"or all, got {args.cpu_isas!r}")
        at = backends.index("cpu")
        backends[at:at + 1] = [f"cpu:{i}" for i in isas]
    stages = 2 if args.quick else len(TINY_DIMS)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {where}, threads={torch.get_num_threads()}, batch={args.batch}, "
          f"d_state={args.d_state}, repeats={repeats} (median ms, {args.clock} clock)")
    for name, reason in skipped.items():
        print(f"  backend {name!r} skipped: {reason}")

    results: list[dict] = []

    def record(op: str, workload: str, shape: str, backend: str, fwd_ms: float, fwdbwd_ms: float) -> None:
        results.append({"op": op, "workload": workload, "shape": shape, "backend": backend,
                        "fwd_ms": round(fwd_ms, 3), "fwd_bwd_ms": round(fwdbwd_ms, 3)})

    scan_grads = ("u", "delta", "A", "B", "C", "D", "delta_bias")
    for workload, width, side in workloads(args.ssm_ratio, stages):
        length = side * side
        inputs = _to(scan_inputs(args.batch, DIRECTIONS, width, args.d_state, length), device)
        shape = f"u=({args.batch},{DIRECTIONS * width},{length}) N={args.d_state}"
        states_grads = ("u", "delta", "A", "B", "delta_bias")
        x = {"x": torch.randn(args.batch, width, side, side, device=device)}
        ys = {"ys": torch.randn(args.batch, DIRECTIONS, width, length, device=device)}
        css = _to(cross_selective_scan_inputs(args.batch, width, side, args.d_state), device)
        for backend in backends:
            with _cpu_isa(backend):
                op_backend = _op_backend(backend)
                if "selective_scan" in ops:
                    record("selective_scan", workload, shape, backend,
                           *fwd_and_fwdbwd(scan_call(backend), inputs, scan_grads, repeats))
                if "selective_scan_states" in ops:
                    record("selective_scan_states", workload, shape, backend,
                           *fwd_and_fwdbwd(states_call(backend), inputs, states_grads, repeats))
                if "cross_scan" in ops:
                    record("cross_scan", workload, f"x=({args.batch},{width},{side},{side})", backend,
                           *fwd_and_fwdbwd(lambda t, b=op_backend: cross_scan(t["x"], "cross2d", backend=b),
                                           x, ("x",), repeats))
                if "cross_merge" in ops:
                    record("cross_merge", workload, f"ys=({args.batch},4,{width},{length})", backend,
                           *fwd_and_fwdbwd(lambda t, b=op_backend, s=side: cross_merge(t["ys"], s, s, "cross2d", backend=b),
                                           ys, ("ys",), repeats))
                # forward: the fused kernel on "cpu"; forward + backward: the chain of the ops above
                if "cross_selective_scan" in ops:
                    record("cross_selective_scan", workload, f"x=({args.batch},{side},{side},{width})", backend,
                           *fwd_and_fwdbwd(cross_selective_scan_call(backend), css, tuple(css), repeats))

    # The headline: stage-1 selective scan with 4 x 192 channels, every backend against the loop.
    headline = _to(scan_inputs(args.batch, DIRECTIONS, 192, 1, 56 * 56), device)
    headline_shape = f"u=({args.batch},{DIRECTIONS * 192},{56 * 56}) N=1"
    ratios: dict[str, dict[str, float]] = {}
    loops = [] if args.loop == "none" else (list(LOOPS) if args.loop == "both" else [args.loop])
    for loop_name in loops:
        loop_repeats = 1 if args.quick or loop_name == "official" else 3
        rounds = []
        # Alternate loop and backends so that a change in machine load hits both alike.
        for _ in range(loop_repeats):
            loop = fwd_and_fwdbwd(lambda t: LOOPS[loop_name](**t), headline, scan_grads, 1, warmup=0)
            ours = {}
            for b in backends:
                with _cpu_isa(b):
                    ours[b] = fwd_and_fwdbwd(scan_call(b), headline, scan_grads, repeats)
            rounds.append((loop, ours))
        loop_fwd = statistics.median(r[0][0] for r in rounds)
        loop_fwdbwd = statistics.median(r[0][1] for r in rounds)
        record("selective_scan", "headline", headline_shape, f"{loop_name}-loop", loop_fwd, loop_fwdbwd)
        for b in backends:
            if b not in {r["backend"] for r in results if r["workload"] == "headline"}:
                record("selective_scan", "headline", headline_shape, b,
                       statistics.median(r[1][b][0] for r in rounds), statistics.median(r[1][b][1] for r in rounds))
            ratios[f"{b} vs {loop_name}-loop"] = {
                "fwd": statistics.median(r[0][0] / r[1][b][0] for r in rounds),
                "fwd_bwd": statistics.median(r[0][1] / r[1][b][1] for r in rounds),
            }

    header = f"{'op':<22} {'workload':<9} {'shape':<26} {'backend':<12} {'fwd ms':>9} {'fwd+bwd ms':>11}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['op']:<22} {r['workload']:<9} {r['shape']:<26} {r['backend']:<12} "
              f"{r['fwd_ms']:>9.2f} {r['fwd_bwd_ms']:>11.2f}")
    for pair, ratio in ratios.items():
        print(f"speed-up {pair} (headline, median of per-round ratios): "
              f"forward {ratio['fwd']:.1f}x, forward+backward {ratio['fwd_bwd']:.1f}x")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": where, "threads": torch.get_num_threads(), "batch": args.batch,
                       "d_state": args.d_state, "repeats": repeats, "clock": args.clock,
                       "torch": torch.__version__, "results": results, "speedup_vs_loop": ratios}, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
