from __future__ import annotations

import os

import pytest

from veriscan.analyzers.models.analyzer import ModelAnalyzer
from veriscan.analyzers.models.formats import ModelFormatError
from veriscan.analyzers.models.onnx import read_onnx, sniff_onnx
from veriscan.domain import Attribute
from veriscan.settings import Settings


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(number: int, body: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(body)) + body


def onnx_model(inputs: list[str]) -> bytes:
    graph = ld(2, b"main") + b"".join(ld(11, ld(1, name.encode())) for name in inputs)
    graph += ld(12, ld(1, b"out_sample"))
    return (
        varint(1 << 3)
        + varint(8)
        + ld(2, b"pytorch")
        + ld(3, b"2.1.0")
        + ld(7, graph)
        + ld(8, ld(1, b"") + varint(2 << 3) + varint(17))
    )


def test_unet_export_is_recognised() -> None:
    data = onnx_model(["sample", "timestep", "encoder_hidden_states"])
    assert sniff_onnx(data)
    info = read_onnx(data)
    assert (info.ir_version, info.producer, info.kind) == (8, "pytorch", "unet")
    assert info.opsets == [("", 17)] and info.graph_complete


def test_whole_analyzer_reports_onnx_with_hashes() -> None:
    data = onnx_model(["latent_sample"]) + bytes(5000)
    state = ModelAnalyzer(Settings()).begin("vae_decoder.onnx")
    for i in range(0, len(data), 777):
        state.update(data[i : i + 777])
    (fact,) = state.finish()
    assert isinstance(fact, Attribute)
    assert fact.value["format"] == "onnx" and fact.value["kind"] == "vae"
    assert len(fact.value["hashes"]["blake3"]) == 64


@pytest.mark.parametrize(
    "head", [b"", b"\x08", b"\x08\x08garbage", b"\x01" + os.urandom(4095), b"\x12\x03abc"]
)
def test_other_bytes_are_not_onnx(head: bytes) -> None:
    assert not sniff_onnx(head)
    with pytest.raises(ModelFormatError):
        read_onnx(head)
