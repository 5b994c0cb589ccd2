"""ONNX export, verified against PyTorch before a bundle may ship.

The exported graph, not the PyTorch model, is what examiners run and what ``eval`` grades, so an
export that computes something else (an operator translated differently, a lost buffer) must stop
training loudly instead of shipping numbers nobody measured.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from veriscan.analyzers.detect.bundle import INPUT, ONNX_NAME, OUTPUT
from veriscan.detector_training.evaluate import session

OPSET: Final = 17
TOLERANCE: Final = 1e-4


class ExportError(RuntimeError):
    """The ONNX graph does not reproduce the PyTorch model."""


def export_onnx(
    model: nn.Module,
    folder: Path,
    *,
    patch: int,
    check_batch: int = 7,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``folder/detector.onnx`` with a dynamic batch axis and prove it matches PyTorch.

    The check runs at a batch size other than the one traced, so a batch size baked into the
    graph fails here rather than at inference.
    """
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ONNX_NAME
    model = model.to("cpu").eval()
    dummy = torch.rand(2, 3, patch, patch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            dynamo=False,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "n"}, OUTPUT: {0: "n"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    onnx.checker.check_model(str(path))
    generator = torch.Generator().manual_seed(seed)
    batch = torch.rand(check_batch, 3, patch, patch, generator=generator)
    with torch.no_grad():
        expected = model(batch).numpy()
    got = session(path, threads=1).run([OUTPUT], {INPUT: batch.numpy()})[0]
    if got.shape != (check_batch,):
        raise ExportError(f"ONNX output shape {got.shape}, expected ({check_batch},)")
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= tolerance:
        raise ExportError(f"ONNX logits differ from PyTorch by {diff:.3g} (> {tolerance:g})")
    return {
        "opset": OPSET,
        "bytes": path.stat().st_size,
        "max_abs_diff": diff,
        "check_batch": check_batch,
    }
