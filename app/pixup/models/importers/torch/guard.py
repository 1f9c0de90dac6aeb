"""A size guard in front of an exported graph: inputs below the architecture's minimum, or not a
multiple of its size step, fail with an ordinary ONNX Runtime error instead of reaching the model.

Why: traced window-attention graphs compute integer sizes such as `height // window`; at sizes
the architecture does not support they divide by zero inside ONNX Runtime, which on x86 is a
hardware trap (SIGFPE) that kills the whole process. pixup's inspection probes tiny sizes (1×1
first), so without the guard importing an OmniSR model would crash pixup. With it, the probe gets
an error for those sizes and moves on, and measures the minimum and multiple as usual.

The guard is a Reshape of the input to its own shape, with 1 added to any side that is too small
or off the step: the element counts then differ and Reshape refuses.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

GUARDED_SUFFIX = "_size_checked"


def add_size_guard(model: onnx.ModelProto, minimum: int, multiple: int) -> bool:
    """Insert the guard before every use of the graph's (NCHW) input; False when there is nothing
    to guard (minimum ≤ 1 and multiple 1)."""
    minimum, multiple = max(minimum, 1), max(multiple, 1)
    if minimum <= 1 and multiple == 1:
        return False
    graph = model.graph
    source = graph.input[0].name
    checked = source + GUARDED_SUFFIX
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == source:
                node.input[i] = checked

    def const(name: str, values: list[int]) -> str:
        graph.initializer.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
        return name

    nodes = [
        helper.make_node("Shape", [source], ["pixup_guard_shape"]),
        helper.make_node(
            "Slice",
            [
                "pixup_guard_shape",
                const("pixup_guard_0", [0]),
                const("pixup_guard_2", [2]),
                const("pixup_guard_axis", [0]),
            ],
            ["pixup_guard_nc"],
        ),
        helper.make_node(
            "Slice",
            ["pixup_guard_shape", "pixup_guard_2", const("pixup_guard_4", [4]), "pixup_guard_axis"],
            ["pixup_guard_hw"],
        ),
        helper.make_node(
            "Less", ["pixup_guard_hw", const("pixup_guard_min", [minimum, minimum])], ["pixup_guard_small"]
        ),
    ]
    bad = "pixup_guard_small"
    if multiple > 1:
        nodes += [
            helper.make_node(
                "Mod",
                ["pixup_guard_hw", const("pixup_guard_step", [multiple, multiple])],
                ["pixup_guard_rest"],
            ),
            helper.make_node(
                "Greater", ["pixup_guard_rest", const("pixup_guard_zero", [0, 0])], ["pixup_guard_off_step"]
            ),
            helper.make_node("Or", ["pixup_guard_small", "pixup_guard_off_step"], ["pixup_guard_bad"]),
        ]
        bad = "pixup_guard_bad"
    nodes += [
        helper.make_node("Cast", [bad], ["pixup_guard_bump"], to=TensorProto.INT64),
        helper.make_node("Add", ["pixup_guard_hw", "pixup_guard_bump"], ["pixup_guard_hw_or_wrong"]),
        helper.make_node(
            "Concat", ["pixup_guard_nc", "pixup_guard_hw_or_wrong"], ["pixup_guard_target"], axis=0
        ),
        helper.make_node("Reshape", [source, "pixup_guard_target"], [checked], name="size_guard"),
    ]
    for node in reversed(nodes):
        graph.node.insert(0, node)
    return True
