"""ONNX model files recognised from the protobuf header, without an ONNX runtime or library.

An ONNX file is a serialised ``ModelProto``: ``ir_version`` (field 1), producer name and version,
then the graph (field 7) and the opset imports (field 8). Stable Diffusion exports split a
pipeline into one ONNX file per component, and the graph's input names tell them apart; those
names are read only when they lie inside the captured head (large initialisers can push them out,
and then the kind stays unknown rather than guessed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veriscan.analyzers.models.formats import ModelFormatError

MAX_FIELDS = 100_000
_INPUTS_TO_KIND = (
    ({"sample", "timestep", "encoder_hidden_states"}, "unet"),
    ({"latent_sample"}, "vae"),
    ({"input_ids"}, "text-encoder"),
    ({"controlnet_cond"}, "controlnet"),
)


@dataclass
class OnnxInfo:
    ir_version: int
    producer: str | None = None
    producer_version: str | None = None
    opsets: list[tuple[str, int]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    graph_complete: bool = False

    @property
    def kind(self) -> str:
        names = set(self.inputs)
        for wanted, kind in _INPUTS_TO_KIND:
            if wanted <= names:
                return kind
        return "unknown"

    def to_json(self) -> dict[str, Any]:
        return {
            "ir_version": self.ir_version,
            "producer": self.producer,
            "producer_version": self.producer_version,
            "opsets": [list(o) for o in self.opsets],
            "inputs": self.inputs,
            "graph_complete": self.graph_complete,
        }


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ModelFormatError("protobuf varint runs past the data")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Top-level (field, wire type, value) triples, up to where the captured bytes end.

    Only the head of a file is captured, so a field cut at the end is normal and ends the list;
    a wire type ONNX never uses means these bytes are not ONNX at all.
    """
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data) and len(out) < MAX_FIELDS:
        try:
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            value: int | bytes = 0
            if wire == 0:
                value, pos = _varint(data, pos)
        except ModelFormatError:
            break
        if wire == 0:
            out.append((number, wire, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, wire, data[pos : pos + length]))
            if pos + length > len(data):
                break
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ModelFormatError(f"protobuf wire type {wire} is not used by ONNX")
    return out


def _text(value: int | bytes) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _ir_version(fields: list[tuple[int, int, int | bytes]]) -> int | None:
    if not fields:
        return None
    number, wire, value = fields[0]
    return value if number == 1 and wire == 0 and isinstance(value, int) else None


def sniff_onnx(head: bytes) -> bool:
    """ir_version first, then a printable producer name or the graph: rare enough by chance."""
    if len(head) < 8 or head[0] != 0x08:
        return False
    try:
        fields = _fields(head[:4096])
    except ModelFormatError:
        return False
    version = _ir_version(fields)
    if version is None or not 3 <= version <= 20:
        return False
    producer = next((_text(v) for n, w, v in fields if n == 2 and w == 2), None)
    return bool(producer and producer.isprintable()) or any(n == 7 for n, _, _ in fields)


def read_onnx(head: bytes) -> OnnxInfo:
    fields = _fields(head)
    version = _ir_version(fields)
    if version is None:
        raise ModelFormatError("not an ONNX ModelProto: no ir_version first")
    info = OnnxInfo(ir_version=version)
    for number, wire, value in fields[1:]:
        if wire != 2 or not isinstance(value, bytes):
            continue
        if number == 2:
            info.producer = _text(value)
        elif number == 3:
            info.producer_version = _text(value)
        elif number == 7:
            _read_graph(value, info)
        elif number == 8:
            sub = {n: v for n, _, v in _fields(value)}
            domain = _text(sub.get(1, b"")) or ""
            opset = sub.get(2, 0)
            info.opsets.append((domain, opset if isinstance(opset, int) else 0))
    return info


def _read_graph(graph: bytes, info: OnnxInfo) -> None:
    try:
        fields = _fields(graph)
    except ModelFormatError:
        return
    for number, wire, value in fields:
        if number == 11 and wire == 2 and isinstance(value, bytes):
            name = next((_text(v) for n, w, v in _fields(value) if n == 1 and w == 2), None)
            if name:
                info.inputs.append(name)
    info.graph_complete = any(n == 12 for n, _, _ in fields)
