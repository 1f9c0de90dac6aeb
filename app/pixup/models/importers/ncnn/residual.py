"""Real-CUGAN 4× networks end in a residual only: their runtime adds the input, upscaled ×4 by
nearest neighbour, after the network (realcugan-ncnn-vulkan does it in a post-process shader).
`add_input_residual` appends that step to the converted graph so the ONNX model is complete.

The network loses a border to unpadded convolutions, so the residual is the centre crop of the
input that matches the output (computed in the graph from the tensor shapes, for any size).
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper


def add_input_residual(model: onnx.ModelProto, factor: int) -> onnx.ModelProto:
    """A copy of `model` whose output is output + nearest×`factor`(centre crop of input)."""
    graph_in = model.graph.input[0].name
    graph_out = model.graph.output[0].name
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    raw = f"{graph_out}__residual_free"
    for node in g.node:  # the network now feeds `raw`; the new Add produces the graph output
        node.output[:] = [raw if name == graph_out else name for name in node.output]
        node.input[:] = [raw if name == graph_out else name for name in node.input]
    p = "_pixup/residual/"
    g.initializer.extend(
        [
            helper.make_tensor(p + "hw", TensorProto.INT64, [2], [2, 3]),
            helper.make_tensor(p + "factor", TensorProto.INT64, [], [factor]),
            helper.make_tensor(p + "two", TensorProto.INT64, [], [2]),
            helper.make_tensor(
                p + "scales", TensorProto.FLOAT, [4], [1.0, 1.0, float(factor), float(factor)]
            ),
        ]
    )
    g.node.extend(
        [
            helper.make_node("Shape", [graph_in], [p + "in_shape"]),
            helper.make_node("Shape", [raw], [p + "out_shape"]),
            helper.make_node("Gather", [p + "in_shape", p + "hw"], [p + "in_hw"], axis=0),
            helper.make_node("Gather", [p + "out_shape", p + "hw"], [p + "out_hw"], axis=0),
            helper.make_node("Div", [p + "out_hw", p + "factor"], [p + "crop_hw"]),
            helper.make_node("Sub", [p + "in_hw", p + "crop_hw"], [p + "spare"]),
            helper.make_node("Div", [p + "spare", p + "two"], [p + "start"]),
            helper.make_node("Add", [p + "start", p + "crop_hw"], [p + "end"]),
            helper.make_node("Slice", [graph_in, p + "start", p + "end", p + "hw"], [p + "crop"]),
            helper.make_node("Resize", [p + "crop", "", p + "scales"], [p + "up"], mode="nearest",
                             coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
            helper.make_node("Add", [raw, p + "up"], [graph_out]),
        ]
    )
    onnx.checker.check_model(out)
    return out
