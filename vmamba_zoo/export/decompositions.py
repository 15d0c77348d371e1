"""The export forms of the ``torch.ops.vmamba_zoo.*`` custom ops, as a decomposition table for
``ExportedProgram.run_decompositions``. Each form lives next to its op's backends, as
``export.py`` in the op's folder.

With ``keep_linear_scan`` the forms leave the recurrence ``h_l = a_l h_{l-1} + b_l`` as one
``vmamba_zoo::linear_scan`` node, which the ONNX export writes as a sequential ONNX ``Scan``
(:mod:`.onnx_scan`); without it they solve it with the log-depth scan in standard ops and the
program holds standard aten ops only."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from ..ops.cross_scan import export as cross_scan_export
from ..ops.cross_selective_scan import export as cross_selective_scan_export
from ..ops.selective_scan import export as selective_scan_export
from ..ops.state_fusion import export as state_fusion_export


def custom_op_forms(keep_linear_scan: bool = False) -> dict[object, Callable]:
    """{custom op overload: its standard-op form} for every op of :mod:`vmamba_zoo.ops`."""
    scan = selective_scan_export.linear_scan_op if keep_linear_scan else selective_scan_export.linear_scan

    def selective_scan(u, delta, A, B, C, D, delta_bias, delta_softplus, backend):
        return selective_scan_export.fwd(u, delta, A, B, C, D, delta_bias, delta_softplus, scan)

    def selective_scan_states(u, delta, A, B, delta_bias, delta_softplus, backend):
        return selective_scan_export.states_fwd(u, delta, A, B, delta_bias, delta_softplus, scan)

    def cross_scan(x, mode, backend):
        return cross_scan_export.scan(x, mode)

    def cross_merge(ys, H, W, mode, backend):
        return cross_scan_export.merge(ys, H, W, mode)

    ops = torch.ops.vmamba_zoo
    forms = {
        ops.selective_scan.default: selective_scan,
        ops.selective_scan_states.default: selective_scan_states,
        ops.cross_scan.default: cross_scan,
        ops.cross_merge.default: cross_merge,
        ops.cross_selective_scan.default: functools.partial(cross_selective_scan_export.fwd, scan=scan),
        ops.state_fusion.default: state_fusion_export.fwd,
    }
    if not keep_linear_scan:
        forms[ops.linear_scan.default] = selective_scan_export.linear_scan
    return forms


def decomposition_table(keep_linear_scan: bool = False) -> dict[object, Callable]:
    """torch.export's default (core aten) decompositions plus :func:`custom_op_forms`."""
    table = torch.export.default_decompositions()
    for op, form in custom_op_forms(keep_linear_scan).items():
        table[op] = form
    return table
