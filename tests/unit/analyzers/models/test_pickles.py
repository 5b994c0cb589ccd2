"""Torch checkpoints (zip and legacy) walked as pickles: globals, keys, shapes, malicious payloads.

The pickle bytes are written opcode by opcode, as torch.save lays them out; they are only ever
walked by the code under test, never loaded, and the malicious ones prove that nothing runs.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import random
import struct
import time
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from veriscan.analyzers.models.formats import (
    TORCH_LEGACY_MAGIC,
    ModelFormatError,
    pickle_globals,
    read_torch_legacy,
    read_torch_zip,
    scan_pickle,
    sniff_model,
)

ATTN2_K = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


# --- hand-written pickle opcodes (protocol 2), as torch.save writes them ---------------------


def uni(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def integer(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def tensor_expr(shape: tuple[int, ...], storage: str = "0") -> bytes:
    """_rebuild_tensor_v2(persistent storage, offset, size, stride, requires_grad, hooks)."""
    persid = b"(" + uni("storage") + glob("torch", "HalfStorage") + uni(storage) + uni("cpu")
    persid += integer(int(np.prod(shape))) + b"tQ"
    size = b"(" + b"".join(integer(d) for d in shape) + b"t"
    stride = b"(" + b"".join(integer(1) for _ in shape) + b"t"
    hooks = glob("collections", "OrderedDict") + b")R"
    args = b"(" + persid + integer(0) + size + stride + b"\x89" + hooks + b"t"
    return glob("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def state_dict_pickle(shapes: dict[str, tuple[int, ...]]) -> bytes:
    items = b"".join(uni(k) + tensor_expr(s, str(i)) for i, (k, s) in enumerate(shapes.items()))
    return b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + items + b"u."


def torch_zip(data_pkl: bytes, compress: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compress) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", b"\x00" * 64)
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


def malicious_pickle(command: str) -> bytes:
    return b"\x80\x02" + glob("os", "system") + uni(command) + b"\x85R."


SD1_SHAPES = {
    ATTN2_K: (320, 768),
    "cond_stage_model.transformer.text_model.final_layer_norm.weight": (768,),
}


def test_sniff_recognises_torch_containers() -> None:
    blob = torch_zip(state_dict_pickle(SD1_SHAPES))
    assert sniff_model(blob) == "pytorch-zip"
    assert sniff_model(blob[:4096]) == "pytorch-zip"  # the first kilobytes are enough
    assert sniff_model(legacy_checkpoint()) == "pytorch-legacy"
    assert sniff_model(pickle.dumps({"plain": 1}, protocol=2)) is None  # no torch magic
    assert sniff_model(torch_zip(b"x").replace(b"archive/data.pkl", b"archive/other.pk")) is None


# --- torch pickles -----------------------------------------------------------------------


def test_torch_zip_keys_shapes_and_allowed_globals() -> None:
    shapes = {**SD1_SHAPES, "model.diffusion_model.out.2.bias": (4,)}
    info = read_torch_zip(torch_zip(state_dict_pickle(shapes)))
    assert info.container == "zip"
    assert info.shapes == shapes
    assert info.keys == list(shapes)
    assert info.shape_map()[ATTN2_K] == (320, 768)
    assert set(info.globals) == {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch.HalfStorage",
    }
    assert info.suspicious == [] and info.dangerous == []
    assert info.complete and info.problems == []
    assert info.members[:2] == ["archive/data.pkl", "archive/byteorder"]


def test_torch_zip_deflated_data_pkl() -> None:
    info = read_torch_zip(torch_zip(state_dict_pickle(SD1_SHAPES), zipfile.ZIP_DEFLATED))
    assert info.shapes == SD1_SHAPES


def test_torch_zip_head_ending_inside_the_archive() -> None:
    blob = torch_zip(state_dict_pickle(SD1_SHAPES))
    cut = blob[: blob.index(b"archive/data/0")]
    assert read_torch_zip(cut).shapes == SD1_SHAPES


def test_malicious_checkpoint_is_flagged_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    blob = torch_zip(malicious_pickle(f"touch {marker}"))
    assert sniff_model(blob) == "pytorch-zip"
    info = read_torch_zip(blob)
    assert info.globals == ["os.system"]
    assert info.suspicious == ["os.system"]
    assert info.dangerous == ["os.system"]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # protocol 4: STACK_GLOBAL takes its module and name from two (memoised) string pushes
        (b"\x80\x04\x8c\x05posix\x94\x8c\x06system\x94\x93\x8c\x02id\x85R.", "posix.system"),
        (b"\x80\x02" + glob("builtins", "exec") + uni("print(1)") + b"\x85R.", "builtins.exec"),
        (b"\x80\x02" + glob("subprocess", "Popen") + uni("id") + b"\x85R.", "subprocess.Popen"),
        (b"\x80\x02" + glob("__builtin__", "eval") + uni("1") + b"\x85R.", "__builtin__.eval"),
        (b"\x80\x02(" + uni("id") + b"ios\nsystem\n.", "os.system"),  # INST
        (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93.", "os.system"),  # memo GETs
        (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x940\x93.", "<unresolved>"),  # POP breaks it
        (b"\x80\x02\x82\x01.", "<extension 1>"),
    ],
)
def test_code_execution_globals_are_dangerous(payload: bytes, expected: str) -> None:
    info = read_torch_zip(torch_zip(payload))
    assert expected in info.globals
    assert expected in info.suspicious and expected in info.dangerous


def test_unknown_but_harmless_globals_are_suspicious_only() -> None:
    payload = b"\x80\x02" + glob("pytorch_lightning.callbacks", "ModelCheckpoint") + b")\x81."
    info = read_torch_zip(torch_zip(payload))
    assert info.suspicious == ["pytorch_lightning.callbacks.ModelCheckpoint"]
    assert info.dangerous == []


def test_pickle_globals_matches_what_pickle_itself_would_import() -> None:
    ours = pickle.dumps({"layer.weight": [1, 2]}, protocol=4)
    assert pickle_globals(ours) == []
    assert pickle_globals(pickle.dumps(OrderedDict(a=1), protocol=4)) == ["collections.OrderedDict"]
    assert pickle_globals(pickle.dumps(OrderedDict(a=1), protocol=2)) == ["collections.OrderedDict"]


def legacy_checkpoint() -> bytes:
    parts = [
        pickle.dumps(TORCH_LEGACY_MAGIC, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        state_dict_pickle(SD1_SHAPES),
        pickle.dumps(["0", "1"], protocol=2),
    ]
    return b"".join(parts) + b"\x00" * 32


def test_legacy_checkpoint_is_walked_pickle_by_pickle() -> None:
    blob = legacy_checkpoint()
    assert sniff_model(blob) == "pytorch-legacy"
    info = read_torch_legacy(blob)
    assert info.container == "legacy"
    assert info.shapes == SD1_SHAPES and info.complete
    with pytest.raises(ModelFormatError):
        read_torch_legacy(pickle.dumps({}, protocol=2))


@pytest.mark.parametrize(
    "blob",
    [
        b"PK\x03\x04" + b"\x00" * 10,
        torch_zip(b"x").replace(b"archive/data.pkl", b"archive/other.pk"),
        torch_zip(state_dict_pickle(SD1_SHAPES), zipfile.ZIP_BZIP2),
    ],
)
def test_torch_zip_unreadable_raises_model_format_error(blob: bytes) -> None:
    with pytest.raises(ModelFormatError):
        read_torch_zip(blob)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x80\x02" + uni("a"),  # no STOP
        b"\x80\x02R.",  # REDUCE on an empty stack
        b"\x80\x02t.",  # TUPLE without MARK
        b"\x80\x02\xff.",  # not an opcode
        b"\x80\x02" + b"(" * 200_000 + b".",
        b"\x80\x02X\xff\xff\xff\x7f",
    ],
)
def test_broken_pickles_give_a_problem_not_an_exception(payload: bytes) -> None:
    started = time.monotonic()
    info = read_torch_zip(torch_zip(payload))
    assert not info.complete and info.problems
    assert time.monotonic() - started < 10


def test_scan_pickle_reports_its_end_offset() -> None:
    first = pickle.dumps("a.b", protocol=2)
    scan = scan_pickle(first + b"garbage")
    assert scan.complete and scan.end == len(first) and scan.strings == ["a.b"]


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


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pickletools on bad STRING escapes
def test_mutated_checkpoints_only_ever_raise_model_format_error() -> None:
    rng = random.Random(4321)
    seeds = [
        torch_zip(state_dict_pickle(SD1_SHAPES)),
        torch_zip(malicious_pickle("true")),
        legacy_checkpoint(),
        state_dict_pickle(SD1_SHAPES),
    ]
    started = time.monotonic()
    for seed in seeds:
        for blob in _mutations(seed, rng, 300):
            for reader in (read_torch_zip, read_torch_legacy, sniff_model, scan_pickle):
                with contextlib.suppress(ModelFormatError):
                    reader(blob)
    assert time.monotonic() - started < 60
