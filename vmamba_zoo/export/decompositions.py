"""The export forms of the ``torch.ops.vmamba_zoo.*`` custom ops, as a decomposition table for
``ExportedProgram.run_decompositions``: after it, a program holds standard aten ops only, which
every exporter (ONNX) and runtime understands. Each form lives next to its op's backends, as
``export.py`` in the op's folder."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..ops.cross_scan import export as cross_scan_export
from ..ops.cross_selective_scan import export as cross_selective_scan_export
from ..ops.selective_scan import export as selective_scan_export
from ..ops.state_fusion import export as state_fusion_export


def _selective_scan(u, delta, A, B, C, D, delta_bias, delta_softplus, backend):
    return selective_scan_export.fwd(u, delta, A, B, C, D, delta_bias, delta_softplus)


def _selective_scan_states(u, delta, A, B, delta_bias, delta_softplus, backend):
    return selective_scan_export.states_fwd(u, delta, A, B, delta_bias, delta_softplus)


def _cross_scan(x, mode, backend):
    return cross_scan_export.scan(x, mode)


def _cross_merge(ys, H, W, mode, backend):
    return cross_scan_export.merge(ys, H, W, mode)


def custom_op_forms() -> dict[object, Callable]:
    """{custom op overload: its standard-op form} for every op of :mod:`vmamba_zoo.ops`."""
    ops = torch.ops.vmamba_zoo
    return {
        ops.selective_scan.default: _selective_scan,
        ops.selective_scan_states.default: _selective_scan_states,
        ops.cross_scan.default: _cross_scan,
        ops.cross_merge.default: _cross_merge,
        ops.cross_selective_scan.default: cross_selective_scan_export.fwd,
        ops.state_fusion.default: state_fusion_export.fwd,
    }


def decomposition_table() -> dict[object, Callable]:
    """torch.export's default (core aten) decompositions plus :func:`custom_op_forms`."""
    table = torch.export.default_decompositions()
    for op, form in custom_op_forms().items():
        table[op] = form
    return table
