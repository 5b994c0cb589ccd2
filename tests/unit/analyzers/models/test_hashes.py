"""ModelHasher against independent whole-buffer computations, under every chunking we can think of.

hypothesis is not installed, so chunkings come from a seeded random generator plus hand-placed
boundaries at the offsets where the hasher slices (8, 9, the end of the safetensors header, and
both edges of the AutoV1 window).
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Iterable
from typing import Any

import blake3
import numpy as np
import pytest
from numpy.typing import NDArray
from safetensors.numpy import save

from veriscan.analyzers.models.hashes import (
    AUTOV1_END,
    AUTOV1_OFFSET,
    ModelHasher,
    civitai_forms,
)

HELLO_SHA256 = "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_CHUNK = 3 * 1024 * 1024


def header_length(data: bytes) -> int:
    return int.from_bytes(data[:8], "little")


def reference(data: bytes, *, safetensors: bool) -> dict[str, str]:
    """The digests computed the way the tools that define them do, over the whole buffer."""
    sha = hashlib.sha256(data).hexdigest()
    out = {
        "sha256": sha,
        "autov1": hashlib.sha256(data[AUTOV1_OFFSET:AUTOV1_END]).hexdigest()[:8],
        "autov2": sha[:10],
        "crc32": f"{zlib.crc32(data) & 0xFFFFFFFF:08x}",
        "blake3": blake3.blake3(data).hexdigest(),
    }
    if safetensors:
        addnet = hashlib.sha256(data[8 + header_length(data) :]).hexdigest()
        out["addnet"] = addnet
        out["addnet12"] = addnet[:12]
    return out


def hash_in_pieces(data: bytes, cuts: Iterable[int]) -> dict[str, str]:
    hasher = ModelHasher()
    previous = 0
    for cut in sorted({c for c in cuts if 0 < c < len(data)} | {len(data)}):
        hasher.update(data[previous:cut])
        previous = cut
    assert hasher.size == len(data)
    return hasher.digests()


def random_cuts(rng: random.Random, size: int) -> list[int]:
    """Log-uniform chunk sizes up to 64 B, 4 KiB or 3 MB, so tiny and huge chunks both occur."""
    top = rng.choice((6, 12, 21.6))
    cuts, pos = [], 0
    while pos < size:
        pos += min(MAX_CHUNK, int(2 ** rng.uniform(0, top)))
        cuts.append(pos)
    return cuts


def make_safetensors(data_bytes: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    tensors: dict[str, NDArray[Any]] = {
        "model.diffusion.weight": rng.integers(0, 256, data_bytes, dtype=np.uint8),
        "model.bias": rng.standard_normal(17).astype(np.float32),
    }
    return save(tensors, metadata={"ss_network_module": "networks.lora"})


@pytest.fixture(scope="module")
def model_file() -> bytes:
    data = make_safetensors(AUTOV1_END + 300_000)
    assert len(data) > AUTOV1_END
    assert data[8:9] == b"{"
    return data


@pytest.fixture(scope="module")
def plain_file() -> bytes:
    return random.Random(7).randbytes(AUTOV1_END + 123_457)


def test_civitai_vector() -> None:
    hasher = ModelHasher()
    hasher.update(b"hello world")
    digests = hasher.digests()
    assert digests["sha256"] == HELLO_SHA256.lower()
    assert digests["autov2"] == "b94d27b993"
    forms = civitai_forms(digests)
    assert forms["SHA256"] == HELLO_SHA256
    assert forms["AutoV2"] == "B94D27B993"
    assert "AutoV3" not in forms


def test_addnet_matches_kohya(model_file: bytes) -> None:
    digests = hash_in_pieces(model_file, [])
    tensor_data = model_file[8 + header_length(model_file) :]
    expected = hashlib.sha256(tensor_data).hexdigest()
    assert digests["addnet"] == expected
    assert digests["addnet12"] == expected[:12]
    assert digests["addnet"] != digests["sha256"]
    assert civitai_forms(digests)["AutoV3"] == expected.upper()


def test_autov1_matches_a1111(plain_file: bytes) -> None:
    digests = hash_in_pieces(plain_file, [])
    window = plain_file[0x100000 : 0x100000 + 0x10000]
    assert len(window) == 0x10000
    assert digests["autov1"] == hashlib.sha256(window).hexdigest()[:8]


def test_crc32_and_blake3_match_direct_computation(plain_file: bytes) -> None:
    digests = hash_in_pieces(plain_file, range(0, len(plain_file), 65_537))
    assert digests["crc32"] == format(zlib.crc32(plain_file), "08x")
    assert digests["blake3"] == blake3.blake3(plain_file).hexdigest()
    assert len(digests["blake3"]) == 64


def test_whole_buffer_matches_reference(model_file: bytes, plain_file: bytes) -> None:
    assert hash_in_pieces(model_file, []) == reference(model_file, safetensors=True)
    assert hash_in_pieces(plain_file, []) == reference(plain_file, safetensors=False)


def boundary_plans(model: bytes) -> list[list[int]]:
    """Cuts at the model file's slicing offsets, applied to the plain file too."""
    start = 8 + header_length(model)
    edges = [8, 9, start, AUTOV1_OFFSET, AUTOV1_END]
    near = [e + d for e in edges for d in (-1, 0, 1)]
    return [
        edges,
        near,
        [*range(1, 64), start, AUTOV1_OFFSET, AUTOV1_END],
        list(range(1, start + 3)),
        [*range(AUTOV1_OFFSET - 5, AUTOV1_OFFSET + 5), AUTOV1_END - 1, AUTOV1_END + 1],
        [4],
        [7, start - 1],
        [AUTOV1_OFFSET + 1, AUTOV1_END - 1],
        list(range(MAX_CHUNK, len(model), MAX_CHUNK)),
    ]


def test_boundary_chunkings(model_file: bytes, plain_file: bytes) -> None:
    for data, safetensors in ((model_file, True), (plain_file, False)):
        expected = reference(data, safetensors=safetensors)
        for plan in boundary_plans(model_file):
            assert hash_in_pieces(data, plan) == expected, plan


@pytest.mark.parametrize("seed", range(40))
def test_random_chunkings(seed: int, model_file: bytes, plain_file: bytes) -> None:
    rng = random.Random(seed)
    data, safetensors = (model_file, True) if seed % 2 == 0 else (plain_file, False)
    assert hash_in_pieces(data, random_cuts(rng, len(data))) == reference(
        data, safetensors=safetensors
    )


def test_big_chunks_spanning_everything() -> None:
    data = make_safetensors(MAX_CHUNK * 2, seed=3)
    expected = reference(data, safetensors=True)
    assert hash_in_pieces(data, [MAX_CHUNK]) == expected
    assert hash_in_pieces(data, [5, MAX_CHUNK + 5]) == expected


@pytest.mark.parametrize(
    "size", [0, 1, 7, 8, 9, 100, AUTOV1_OFFSET - 1, AUTOV1_OFFSET, AUTOV1_OFFSET + 1]
)
def test_short_plain_files(size: int) -> None:
    data = random.Random(size).randbytes(size)
    digests = hash_in_pieces(data, [1, 3, 8])
    assert digests == reference(data, safetensors=False)
    if size <= AUTOV1_OFFSET:
        assert digests["autov1"] == EMPTY_SHA256[:8]


def test_file_ending_inside_autov1_window() -> None:
    data = make_safetensors(AUTOV1_OFFSET + 50)
    assert AUTOV1_OFFSET < len(data) < AUTOV1_END
    digests = hash_in_pieces(data, [AUTOV1_OFFSET + 3])
    assert digests["autov1"] == hashlib.sha256(data[AUTOV1_OFFSET:]).hexdigest()[:8]
    assert digests == reference(data, safetensors=True)


def test_small_safetensors() -> None:
    data = make_safetensors(10)
    for plan in ([], list(range(1, len(data))), [8], [9]):
        assert hash_in_pieces(data, plan) == reference(data, safetensors=True)


def test_header_only_safetensors_hashes_empty_tensor_data() -> None:
    data = save({})
    digests = hash_in_pieces(data, list(range(1, len(data))))
    assert digests["addnet"] == EMPTY_SHA256


def test_truncated_safetensors_has_no_addnet(model_file: bytes) -> None:
    start = 8 + header_length(model_file)
    for size in (3, 8, 9, start - 1):
        assert "addnet" not in hash_in_pieces(model_file[:size], [])
    assert "addnet" in hash_in_pieces(model_file[:start], [])


@pytest.mark.parametrize(
    "prefix",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        (40).to_bytes(8, "little") + b"[" + b" " * 39,
        (1).to_bytes(8, "little") + b"{",
        (0).to_bytes(8, "little"),
        (100_000_001).to_bytes(8, "little") + b"{}",
        (2**64 - 1).to_bytes(8, "little") + b"{}",
    ],
)
def test_non_safetensors_has_no_addnet(prefix: bytes) -> None:
    data = prefix + bytes(200)
    for plan in ([], list(range(1, 12))):
        digests = hash_in_pieces(data, plan)
        assert "addnet" not in digests
        assert "addnet12" not in digests
        assert digests == reference(data, safetensors=False)


def test_accepts_buffers_and_reports_incrementally() -> None:
    hasher = ModelHasher()
    hasher.update(bytearray(b"hello "))
    assert hasher.digests()["sha256"] == hashlib.sha256(b"hello ").hexdigest()
    hasher.update(memoryview(b"world"))
    hasher.update(b"")
    assert hasher.digests()["sha256"] == HELLO_SHA256.lower()
    assert hasher.size == 11


def test_civitai_forms_names_and_case(model_file: bytes) -> None:
    digests = hash_in_pieces(model_file, [])
    forms = civitai_forms(digests)
    assert set(forms) == {"AutoV1", "AutoV2", "AutoV3", "SHA256", "CRC32", "BLAKE3"}
    assert forms["AutoV1"] == digests["autov1"].upper()
    assert forms["CRC32"] == digests["crc32"].upper()
    assert forms["BLAKE3"] == digests["blake3"].upper()
    assert len(forms["AutoV1"]) == 8
    assert len(forms["AutoV2"]) == 10
