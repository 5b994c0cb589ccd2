"""A model file that cannot be read gets fixed wording with its format named once (issue 15)."""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import pytest

from veriscan.analyzers.failures import LOGGER, attach_run_log
from veriscan.analyzers.models.analyzer import ModelAnalyzer
from veriscan.domain import Problem
from veriscan.settings import Settings


def problems(name: str, data: bytes) -> list[Problem]:
    state = ModelAnalyzer(Settings()).begin(name)
    state.update(data)
    return [fact for fact in state.finish() if isinstance(fact, Problem)]


def safetensors(header: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header + bytes(64)


@pytest.mark.parametrize(
    ("header", "wording"),
    [
        (b"{nope} ", "safetensors: header is not JSON"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "safetensors: header is not JSON"),
        (
            json.dumps({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 999]}}).encode(),
            "safetensors: tensor 't' lies outside the file",
        ),
    ],
)
def test_unreadable_safetensors_wording(header: bytes, wording: str, tmp_path: Path) -> None:
    attach_run_log(tmp_path, "m1")
    try:
        (problem,) = problems("model.safetensors", safetensors(header))
    finally:
        for handler in list(LOGGER.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                LOGGER.removeHandler(handler)
    assert problem.code == "model-unreadable"
    assert problem.message.startswith(wording)
    assert not problem.message.startswith("safetensors: safetensors:")
    assert "Error" not in problem.message and "(" not in problem.message


def test_cut_pickle_note_has_no_exception_text() -> None:
    import pickle

    from veriscan.analyzers.models.pickles import scan_pickle

    data = pickle.dumps({"weights": [1.0, 2.0, 3.0], "name": "x" * 40}, protocol=2)
    scan = scan_pickle(data[: len(data) // 2])
    assert scan.problem is not None
    assert scan.problem.startswith("pickle walk stopped at byte ")
    assert scan.problem.endswith("the opcode stream is damaged or cut short")
