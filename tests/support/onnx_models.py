"""Tiny ONNX classifiers built in the test with the ``onnx`` package (no downloaded weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Two outputs from the mean of each channel: logit0 = 2R - B + 0.1, logit1 = -R + 3G + 0.5B - 0.2
WEIGHTS = np.array([[2.0, 0.0, -1.0], [-1.0, 3.0, 0.5]], dtype=np.float32)
BIAS = np.array([0.1, -0.2], dtype=np.float32)


def tiny_classifier(path: Path, side: int = 8, outputs: int = 2) -> Path:
    """NCHW float32 1x3xSIDExSIDE -> GlobalAveragePool -> Flatten -> Gemm -> 1xOUTPUTS."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.resize(WEIGHTS, (outputs, 3)).astype(np.float32)
    bias = np.resize(BIAS, (outputs,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, outputs])],
        initializer=[numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path
