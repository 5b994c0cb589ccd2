"""Model container readers: safetensors, GGUF, diffusers JSON, truncated and garbage input.

Every fixture is built here from tiny arrays or hand-written bytes; nothing is downloaded, and the
torch readers face the same garbage as the rest (their own tests are in test_pickles.py).
"""

from __future__ import annotations

import contextlib
import json
import random
import struct
import time

import numpy as np
import pytest
from safetensors.numpy import save

from veriscan.analyzers.models.formats import (
    ModelFormatError,
    read_diffusers_index,
    read_gguf,
    read_safetensors_header,
    read_torch_legacy,
    read_torch_zip,
    scan_pickle,
    sniff_model,
)

ATTN2_K = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


def safetensors_bytes(
    shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None = None
) -> bytes:
    return save({k: np.zeros(s, dtype=np.float16) for k, s in shapes.items()}, metadata=metadata)


SD1_SHAPES = {
    ATTN2_K: (320, 768),
    "cond_stage_model.transformer.text_model.final_layer_norm.weight": (768,),
}


# --- sniffing ----------------------------------------------------------------------------


def test_sniff_recognises_each_container() -> None:
    assert sniff_model(safetensors_bytes({"a.weight": (2, 2)})) == "safetensors"
    assert sniff_model(gguf_bytes([("general.architecture", 8, "llama")])) == "gguf"
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.21.0"}
    assert sniff_model(json.dumps(index).encode()) == "diffusers-index"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        json.dumps({"hello": "world"}).encode(),
        b"\x10\x00\x00\x00\x00\x00\x00\x00[1, 2]",  # length fits but no JSON object follows
        (10**12).to_bytes(8, "little") + b"{}",  # header length beyond any plausible bound
    ],
)
def test_sniff_rejects_other_bytes(head: bytes) -> None:
    assert sniff_model(head) is None


# --- safetensors -------------------------------------------------------------------------


def test_safetensors_header_names_shapes_and_metadata() -> None:
    metadata = {"ss_output_name": "lighthouse", "ss_tag_frequency": '{"a": {"b": 1}}'}
    blob = safetensors_bytes(SD1_SHAPES, metadata)
    header = read_safetensors_header(blob, len(blob))
    assert header.metadata == metadata
    assert header.shapes()[ATTN2_K] == (320, 768)
    assert header.tensors[ATTN2_K].dtype == "F16"
    assert header.header_length == int.from_bytes(blob[:8], "little")


def test_safetensors_header_only_needs_the_head() -> None:
    blob = safetensors_bytes(SD1_SHAPES)
    cut = blob[: 8 + int.from_bytes(blob[:8], "little")]
    assert read_safetensors_header(cut, len(blob)).shapes()[ATTN2_K] == (320, 768)


def _with_header(doc: object, data: bytes = b"", size: int | None = None) -> tuple[bytes, int]:
    text = json.dumps(doc).encode()
    blob = len(text).to_bytes(8, "little") + text + data
    return blob, len(blob) if size is None else size


@pytest.mark.parametrize(
    ("blob", "size", "message"),
    [
        (b"\x05\x00", 2, "fewer than 8"),
        ((200 * 1024 * 1024).to_bytes(8, "little") + b"{", 10**10, "out of range"),
        ((1).to_bytes(8, "little") + b"{", 9, "out of range"),
        (*_with_header({"a": 1})[:1], 5, "past the end"),
        ((500).to_bytes(8, "little") + b'{"a":', 10_000, "truncated"),
        ((6).to_bytes(8, "little") + b"{nope}", 14, "not JSON"),
        (*_with_header([1, 2]), "not a JSON object"),
        (*_with_header({"__metadata__": [1]}), "__metadata__"),
        (*_with_header({"t": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}), "outside"),
        (
            *_with_header({"t": {"dtype": "F16", "shape": [3], "data_offsets": [0, 4]}}, b"1234"),
            "size",
        ),
        (*_with_header({"t": {"dtype": "F16", "shape": [-1], "data_offsets": [0, 0]}}), "shape"),
        (*_with_header({"t": {"dtype": "F16", "shape": [True], "data_offsets": [0, 2]}}), "shape"),
        (
            *_with_header({"t": {"dtype": "F16", "shape": [1] * 100, "data_offsets": [0, 2]}}),
            "shape",
        ),
        (*_with_header({"t": {"dtype": "F16", "shape": [1], "data_offsets": [2, 0]}}), "outside"),
        (*_with_header({"t": {"dtype": "F16", "shape": [1], "data_offsets": [0]}}), "data_offsets"),
        (*_with_header({"t": "F16"}), "not an object"),
        ((4000).to_bytes(8, "little") + b"[" * 3990 + b"]" * 10, 4008, "not JSON"),
    ],
)
def test_safetensors_bad_headers_raise_model_format_error(
    blob: bytes, size: int, message: str
) -> None:
    with pytest.raises(ModelFormatError, match=message):
        read_safetensors_header(blob, size)


def test_safetensors_non_string_metadata_is_kept_as_json_text() -> None:
    blob, size = _with_header({"__metadata__": {"epoch": 3, "name": "x"}})
    assert read_safetensors_header(blob, size).metadata == {"epoch": "3", "name": "x"}


# --- GGUF --------------------------------------------------------------------------------


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _gguf_value(vtype: int, value: object) -> bytes:
    formats = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }
    if vtype == 8:
        assert isinstance(value, str)
        return _gguf_string(value)
    if vtype == 9:
        assert isinstance(value, tuple)
        itype, items = value
        return struct.pack("<IQ", itype, len(items)) + b"".join(
            _gguf_value(itype, i) for i in items
        )
    return struct.pack("<" + formats[vtype], value)


def gguf_bytes(kvs: list[tuple[str, int, object]], version: int = 3, tensors: int = 2) -> bytes:
    body = b"".join(_gguf_string(k) + struct.pack("<I", t) + _gguf_value(t, v) for k, t, v in kvs)
    return b"GGUF" + struct.pack("<IQQ", version, tensors, len(kvs)) + body


GGUF_KVS: list[tuple[str, int, object]] = [
    ("general.architecture", 8, "flux"),
    ("general.name", 8, "Lighthouse Model"),
    ("general.quantization_version", 4, 2),
    ("general.file_type", 5, -1),
    ("flux.scale", 6, 0.5),
    ("flux.big", 10, 2**40),
    ("flux.neg", 11, -(2**40)),
    ("flux.precise", 12, 1.25),
    ("flux.flag", 7, True),
    ("flux.small", 0, 7),
    ("flux.signed", 1, -7),
    ("flux.u16", 2, 65535),
    ("flux.i16", 3, -300),
    ("tokenizer.ggml.tokens", 9, (8, tuple(f"tok{i}" for i in range(100)))),
    ("flux.dims", 9, (5, (1, 2, 3))),
    ("flux.nested", 9, (9, ((5, (1, 2)), (5, (3,))))),
]


def test_gguf_header_and_every_value_type() -> None:
    info = read_gguf(gguf_bytes(GGUF_KVS))
    assert (info.version, info.tensor_count, info.kv_count, info.truncated) == (3, 2, 16, False)
    assert info.architecture == "flux"
    assert info.name == "Lighthouse Model"
    assert info.metadata["general.file_type"] == -1
    assert info.metadata["flux.scale"] == 0.5
    assert info.metadata["flux.big"] == 2**40
    assert info.metadata["flux.flag"] is True
    assert info.metadata["flux.dims"] == [1, 2, 3]
    assert info.metadata["flux.nested"] == [[1, 2], [3]]
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, list) and len(tokens) == 32 and tokens[0] == "tok0"
    assert info.array_lengths["tokenizer.ggml.tokens"] == 100
    assert json.loads(json.dumps(info.to_json()))["byte_order"] == "little"


def test_gguf_cut_inside_key_values_keeps_what_came_before() -> None:
    blob = gguf_bytes(GGUF_KVS)
    cut = blob[: blob.index(b"flux.scale") + 4]
    info = read_gguf(cut)
    assert info.truncated
    assert info.architecture == "flux"
    assert "flux.scale" not in info.metadata


def test_gguf_big_endian_and_non_finite_floats() -> None:
    blob = b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + struct.pack(">Q", 1) + b"x"
    blob += struct.pack(">I", 6) + struct.pack(">f", float("nan"))
    info = read_gguf(blob)
    assert info.byte_order == ">" and info.metadata == {"x": "nan"}


@pytest.mark.parametrize(
    "blob",
    [
        b"GGU",
        b"GGUF\x03\x00",
        b"GGUF" + struct.pack("<I", 99) + b"\x00" * 16,
        b"GGUF" + struct.pack("<IQ", 3, 1),
        b"GGUF" + struct.pack("<IQQ", 3, 0, 2**62),
        gguf_bytes([("x", 8, "y")]).replace(struct.pack("<I", 8), struct.pack("<I", 77)),
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + _gguf_string("a")
        + struct.pack("<I", 9)
        + struct.pack("<IQ", 9, 1) * 6,
    ],
)
def test_gguf_garbage_raises_model_format_error(blob: bytes) -> None:
    with pytest.raises(ModelFormatError):
        read_gguf(blob)


def test_gguf_huge_array_count_is_truncation_not_a_hang() -> None:
    blob = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _gguf_string("a") + struct.pack("<I", 9)
    for itype in (5, 8):
        info = read_gguf(blob + struct.pack("<IQ", itype, 2**60) + b"\x00" * 64)
        assert info.truncated and info.metadata == {}


# --- diffusers ---------------------------------------------------------------------------


def test_diffusers_model_index() -> None:
    doc = {
        "_class_name": "StableDiffusionXLPipeline",
        "_diffusers_version": "0.19.0.dev0",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "force_zeros_for_empty_prompt": True,
    }
    index = read_diffusers_index(json.dumps(doc, indent=2).encode())
    assert index.class_name == "StableDiffusionXLPipeline"
    assert index.diffusers_version == "0.19.0.dev0"
    assert index.components == {
        "unet": "diffusers.UNet2DConditionModel",
        "text_encoder_2": "transformers.CLIPTextModelWithProjection",
    }
    with pytest.raises(ModelFormatError):
        read_diffusers_index(b'{"_class_name": "x"}')


# --- fuzz --------------------------------------------------------------------------------


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randint(0, len(data))
        out.append(bytes(data[:cut]) if rng.random() < 0.5 else bytes(data))
    return out


def test_mutated_inputs_only_ever_raise_model_format_error() -> None:
    rng = random.Random(1234)
    seeds = [
        safetensors_bytes({"a.weight": (2, 3)}, {"k": "v"}),
        gguf_bytes(GGUF_KVS),
        json.dumps({"_class_name": "A", "_diffusers_version": "1"}).encode(),
    ]
    readers = [
        lambda b: read_safetensors_header(b, len(b)),
        read_gguf,
        read_torch_zip,
        read_torch_legacy,
        read_diffusers_index,
        sniff_model,
        scan_pickle,
    ]
    started = time.monotonic()
    for seed in seeds:
        for blob in [*_mutations(seed, rng, 150), bytes(rng.randrange(256) for _ in range(64))]:
            for reader in readers:
                with contextlib.suppress(ModelFormatError):
                    reader(blob)
    assert time.monotonic() - started < 60
