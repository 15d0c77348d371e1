"""``python -m vmamba_zoo.ops.report``: which op backends this installation can run, and why not,
and which instruction-set path the ``cpu`` backend's kernels take."""

from __future__ import annotations

import torch

from .backends import available_backends

CPU_ISA_ENV_VAR = "VMAMBA_ZOO_CPU_ISA"


def cpu_isa_line() -> str:
    """The CPU kernels' active instruction-set path, the ones this CPU supports, and the override."""
    try:
        from .. import _C
    except ImportError as exc:
        return f"cpu kernels: not built ({exc})"
    try:
        active = _C.active_cpu_isa()
    except ValueError as exc:  # an invalid VMAMBA_ZOO_CPU_ISA
        return f"cpu kernels: {exc}"
    return (
        f"cpu kernels: {active} path (compiled: {', '.join(_C.compiled_cpu_isas())}; "
        f"this CPU supports: {', '.join(_C.supported_cpu_isas())}; {CPU_ISA_ENV_VAR} overrides)"
    )


def main() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        print(f"vmamba_zoo.ops backends on {device}:")
        for name, reason in available_backends(device).items():
            print(f"  {name:<7} {'available' if reason is None else 'unavailable: ' + reason}")
    print(cpu_isa_line())


if __name__ == "__main__":
    main()
