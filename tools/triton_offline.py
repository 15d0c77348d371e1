"""Compile the Triton kernels of vmamba_zoo.ops for NVIDIA GPUs without a GPU, and report their
register use.

Each kernel is specialised exactly as the backend launches it (the same arguments, built on
``meta`` tensors by the backend's own launch helpers, the same constexprs and alignment
specialisation), compiled by ``triton.compile`` for a ``GPUTarget`` (sm_80, sm_90), and the cubin's
resource usage is read with the ``cuobjdump`` that ships with Triton: registers per thread, spill
stack, shared memory. The specialisation goes through Triton's own launch binder (internals of
Triton 3.8: ``create_function_from_signature``, ``JITFunction._pack_args``), so that what is
compiled is what a launch would compile. Use it after changing a kernel (CI runs it through
tests/test_triton_offline.py)::

    python tools/triton_offline.py [--arch 80 90] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import torch

# Shapes of the VMamba stages (N = 1 for v2/v3 models, 16 for v0 / Res-VMamba), plus one length
# that is not a multiple of 16 (no vectorised layout); one group of 192 channels.
SCAN_SHAPES = [(N, L) for N in (1, 16) for L in (256, 784, 3136, 197)]
GROUP_CHANNELS = 192
CROSS_SHAPES = [(56, 56), (7, 7), (5, 3)]
DEFAULT_ARCHS = (80, 90)


@dataclass
class KernelReport:
    kernel: str
    variant: str
    shape: str
    arch: int
    registers: int
    spill_stack_bytes: int
    shared_bytes: int
    compile_s: float


def compile_offline(raw_fn, args: tuple, meta: dict, arch: int):
    """``triton.compile`` of ``raw_fn`` specialised for ``args`` / ``meta`` as a launch would be."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import JITFunction, create_function_from_signature

    jit = JITFunction(raw_fn)
    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(jit.signature, jit.params, backend)
    bound, specialization, options = binder(*args, **meta)
    options, signature, constexprs, attrs = jit._pack_args(backend, meta, bound, specialization, options)
    return triton.compile(ASTSource(jit, signature, constexprs, attrs), target=target, options=options.__dict__)


def resource_usage(cubin: bytes) -> dict[str, int]:
    """REG / STACK / SHARED of the (single) kernel of a cubin, from Triton's cuobjdump."""
    import triton

    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(cubin)
    try:
        out = subprocess.run([tool, "--dump-resource-usage", f.name], capture_output=True, text=True,
                             check=True).stdout
    finally:
        os.unlink(f.name)
    fields = dict(re.findall(r"\b(REG|STACK|SHARED|LOCAL):(\d+)", out.split("Function", 1)[-1]))
    if "REG" not in fields:
        raise RuntimeError(f"no resource usage in cuobjdump output:\n{out}")
    return {k: int(v) for k, v in fields.items()}


def _scan_launches(N: int, L: int):
    """(kernel name, variant, raw function, args, meta) of every selective-scan launch at (N, L)."""
    from vmamba_zoo.ops.selective_scan import triton as scan

    def t(*shape, dtype=torch.float32):
        return torch.empty(*shape, device="meta", dtype=dtype)

    channels = GROUP_CHANNELS
    launches = []
    for dtype in (torch.float32, torch.bfloat16):
        u, delta = t(1, channels, L, dtype=dtype), t(1, channels, L, dtype=dtype)
        A, B, C = t(channels, N), t(1, 1, N, L, dtype=dtype), t(1, 1, N, L, dtype=dtype)
        D, bias = t(channels), t(channels)
        name = str(dtype).removeprefix("torch.")
        (y, _, last, _), _, args, meta = scan.forward_launch(u, delta, A, B, C, D, bias, True, states=False,
                                                             checkpoints=False)
        launches.append(("selective_scan_fwd", f"y {name}", scan.KERNELS["fwd"], args, meta))
        (_, _, _, ckpt), _, args, meta = scan.forward_launch(u, delta, A, B, None, None, bias, True, states=False,
                                                             checkpoints=True)
        launches.append(("selective_scan_fwd", f"checkpoints {name}", scan.KERNELS["fwd"], args, meta))
        _, _, args, meta = scan.backward_launch(u, delta, A, B, C, D, bias, True, y, last, ckpt,
                                                deterministic=False)
        launches.append(("selective_scan_bwd", f"y {name}", scan.KERNELS["bwd"], args, meta))
    u, delta, A, B, bias = t(1, channels, L), t(1, channels, L), t(channels, N), t(1, 1, N, L), t(channels)
    (_, hs, _, _), _, args, meta = scan.forward_launch(u, delta, A, B, None, None, bias, True, states=True,
                                                       checkpoints=False)
    launches.append(("selective_scan_fwd", "states float32", scan.KERNELS["fwd"], args, meta))
    (_, _, _, ckpt), *_ = scan.forward_launch(u, delta, A, B, None, None, bias, True, states=False,
                                              checkpoints=True)
    _, _, args, meta = scan.backward_launch(u, delta, A, B, None, None, bias, True, hs, None, ckpt,
                                            deterministic=True)
    launches.append(("selective_scan_bwd", "states deterministic float32", scan.KERNELS["bwd"], args, meta))
    return launches


def _cross_launches(H: int, W: int):
    from vmamba_zoo.ops.cross_scan import triton as cross

    launches = []
    for mode in ("cross2d", "cross2d_grouped", "atrous2"):
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.empty(2, 96, H, W, device="meta", dtype=dtype)
            name = f"{mode} {str(dtype).removeprefix('torch.')}"
            xs, _, args, meta = cross.scan_launch(x, mode)
            launches.append(("cross_scan", name, cross.KERNELS["scan"], args, meta))
            _, _, args, meta = cross.merge_launch(xs, H, W, mode)
            launches.append(("cross_merge", name, cross.KERNELS["merge"], args, meta))
    return launches


def build_reports(archs=DEFAULT_ARCHS, scan_shapes=SCAN_SHAPES, cross_shapes=CROSS_SHAPES, log=None):
    """Compile every launch for every arch; one :class:`KernelReport` per compiled kernel."""
    from vmamba_zoo.ops._triton import interpreting

    if interpreting():
        raise RuntimeError("unset TRITON_INTERPRET: the offline compile needs Triton's compiler")
    launches = [(f"N={N} L={L} Dg={GROUP_CHANNELS}", launch) for N, L in scan_shapes for launch in _scan_launches(N, L)]
    launches += [(f"{H}x{W}", launch) for H, W in cross_shapes for launch in _cross_launches(H, W)]
    reports = []
    for arch in archs:
        for shape, (kernel, variant, fn, args, meta) in launches:
            start = time.perf_counter()
            compiled = compile_offline(fn, args, meta, arch)
            usage = resource_usage(compiled.asm["cubin"])
            report = KernelReport(kernel, variant, shape, arch, usage["REG"], usage.get("STACK", 0),
                                  usage.get("SHARED", 0), round(time.perf_counter() - start, 2))
            reports.append(report)
            if log is not None:
                log(report)
    return reports


def _row(r: KernelReport) -> str:
    return (f"sm_{r.arch}  {r.kernel:<19} {r.variant:<30} {r.shape:<20} regs {r.registers:>3}  "
            f"spill {r.spill_stack_bytes:>4} B  smem {r.shared_bytes:>5} B  ({r.compile_s:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", type=int, nargs="+", default=list(DEFAULT_ARCHS),
                        help="compute capabilities to compile for (default: 80 90)")
    parser.add_argument("--json", metavar="FILE", help="also write the reports as JSON")
    args = parser.parse_args(argv)
    if any(a < 70 for a in args.arch):
        parser.error(f"--arch takes compute capabilities >= 70, got {args.arch}")
    import triton

    print(f"triton {triton.__version__}, torch {torch.__version__}: offline compile, no GPU used")
    reports = build_reports(args.arch, log=lambda r: print(_row(r), flush=True))
    spilled = [r for r in reports if r.spill_stack_bytes]
    print(f"{len(reports)} kernels compiled; {len(spilled)} with register spills")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"triton": triton.__version__, "reports": [asdict(r) for r in reports]}, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
