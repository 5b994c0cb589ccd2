"""A tiny detector bundle built in code, so tests never depend on the shipped (trained) model.

The graph honours the bundle contract (``patches`` (N, 3, P, P) float32 -> ``logits`` (N,)) with a
fixed, seeded convolution whose mean response depends on the pixels, so different images get
different scores while the same image always gets the same one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from veriscan.analyzers.detect.bundle import (
    INPUT,
    ONNX_NAME,
    OUTPUT,
    BundleMeta,
    Calibration,
    write_meta,
)

FILTERS = 4


def tiny_graph(patch: int, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.5, (FILTERS, 3, 3, 3)).astype(np.float32)
    inits = [
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array(np.zeros(FILTERS, np.float32), "b"),
        numpy_helper.from_array(np.array(8.0, np.float32), "scale"),
        numpy_helper.from_array(np.array(-1.0, np.float32), "shift"),
    ]
    nodes = [
        helper.make_node("Conv", [INPUT, "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("ReduceMean", ["relu"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "shift"], [OUTPUT]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-detector",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", 3, patch, patch])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_bundle(
    folder: Path,
    *,
    patch: int = 32,
    patches: int = 16,
    threshold: float = 0.5,
    a: float = 1.0,
    b: float = 0.0,
    seed: int = 0,
) -> Path:
    """Write detector.onnx + detector.json into ``folder``; ``b`` far from 0 forces the score."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(tiny_graph(patch, seed), folder / ONNX_NAME)
    meta = BundleMeta(
        name="tiny-test",
        version=str(seed),
        design="conv3x3-mean",
        patch=patch,
        patches=patches,
        threshold=threshold,
        calibration=Calibration(a=a, b=b),
    )
    write_meta(meta, folder)
    return folder
