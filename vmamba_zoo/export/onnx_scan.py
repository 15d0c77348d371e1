"""The recurrence ``h_l = a_l h_{l-1} + b_l`` as a sequential ONNX ``Scan`` (standard opset).

``torch.onnx.export`` translates each ``vmamba_zoo::linear_scan`` node into a placeholder node
``LinearScan`` of the domain ``vmamba_zoo.export`` (:func:`translation_table`);
:func:`expand_linear_scans` then replaces every placeholder by a standard ``Scan`` along the
last axis whose body is one multiply-add, and drops the domain, so the file needs no custom-op
library. A sequential scan reads and writes every element once; the log-depth form does
``ceil(log2 L)`` full passes, and in ONNX Runtime it was the slower of the two (README,
"Export").
"""

from __future__ import annotations

import functools

import torch

from .runtimes import require

DOMAIN = "vmamba_zoo.export"
PLACEHOLDER = "LinearScan"


@functools.lru_cache(maxsize=None)
def _placeholder_opset():
    onnx = require("onnx")
    onnxscript = require("onnxscript")
    schema = onnx.defs.OpSchema(
        PLACEHOLDER, DOMAIN, 1,
        inputs=[onnx.defs.OpSchema.FormalParameter("a", "T"), onnx.defs.OpSchema.FormalParameter("b", "T")],
        outputs=[onnx.defs.OpSchema.FormalParameter("h", "T")],
        type_constraints=[("T", ["tensor(float)", "tensor(double)"], "a and b")],
    )
    if not onnx.defs.has(PLACEHOLDER, DOMAIN):
        onnx.defs.register_schema(schema)
    return onnxscript.values.Opset(DOMAIN, 1)


def translation_table() -> dict[object, object]:
    """``custom_translation_table`` entries for ``torch.onnx.export``."""
    opset = _placeholder_opset()

    def linear_scan(a, b):
        return getattr(opset, PLACEHOLDER)(a, b)

    return {torch.ops.vmamba_zoo.linear_scan.default: linear_scan}


def _scan_body(onnx, elem_type: int):
    helper = onnx.helper
    names = ("h_in", "a_t", "b_t")
    return helper.make_graph(
        [
            helper.make_node("Mul", ["a_t", "h_in"], ["decayed"]),
            helper.make_node("Add", ["decayed", "b_t"], ["h_out"]),
            helper.make_node("Identity", ["h_out"], ["h_t"]),
        ],
        "linear_scan_step",
        [helper.make_tensor_value_info(n, elem_type, None) for n in names],
        [helper.make_tensor_value_info(n, elem_type, None) for n in ("h_out", "h_t")],
    )


def expand_linear_scans(model):
    """Replace every ``LinearScan`` placeholder of the ONNX ``model`` (in place) by a ``Scan``
    along the last axis, starting from zeros; returns the model."""
    onnx = require("onnx")
    helper = onnx.helper
    values = {v.name: v.type.tensor_type for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    nodes = []
    for index, node in enumerate(model.graph.node):
        if node.domain != DOMAIN:
            nodes.append(node)
            continue
        if node.op_type != PLACEHOLDER:
            raise ValueError(f"unexpected node {node.op_type} of domain {DOMAIN}")
        a, b = node.input
        prefix = f"linear_scan_{index}"
        if b not in values or not values[b].HasField("shape"):
            raise ValueError(f"the exported graph does not record the rank of {b}, the input of a scan")
        elem_type, last_axis = values[b].elem_type, len(values[b].shape.dim) - 1
        zero = helper.make_tensor("zero", elem_type, [1], [0.0])
        # the sequence axis goes first: OpenVINO's Scan gave wrong numbers scanning another axis
        to_front = [last_axis, *range(last_axis)]
        to_back = [*range(1, last_axis + 1), 0]
        nodes += [
            helper.make_node("Transpose", [a], [f"{prefix}_a"], perm=to_front, name=f"{prefix}_a"),
            helper.make_node("Transpose", [b], [f"{prefix}_b"], perm=to_front, name=f"{prefix}_b"),
            helper.make_node("Shape", [b], [f"{prefix}_state_shape"], end=last_axis, name=f"{prefix}_shape"),
            helper.make_node("ConstantOfShape", [f"{prefix}_state_shape"], [f"{prefix}_h0"], value=zero,
                             name=f"{prefix}_h0"),
            helper.make_node(
                "Scan", [f"{prefix}_h0", f"{prefix}_a", f"{prefix}_b"], [f"{prefix}_h_last", f"{prefix}_h"],
                name=prefix, body=_scan_body(onnx, elem_type), num_scan_inputs=2,
            ),
            helper.make_node("Transpose", [f"{prefix}_h"], [node.output[0]], perm=to_back, name=f"{prefix}_h"),
        ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    kept = [o for o in model.opset_import if o.domain != DOMAIN]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model
