"""Model container formats read from the first bytes the pipeline captured.

Everything here works on ``head`` (at most HEAD_LIMIT bytes of the file's start) because seized
checkpoints run to tens of gigabytes and the identifying structure (safetensors JSON header, GGUF
key/values, torch ``data.pkl``) sits at the front. Pickles are walked opcode by opcode with
``pickletools.genops`` and a small stack model: loading one would run whatever code it names.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any, TypeGuard

from veriscan.analyzers.models.pickles import (
    PickleScan,
    TorchInfo,
    is_allowed_global,
    is_dangerous_global,
    pickle_globals,
    scan_pickle,
    torch_info,
)
from veriscan.analyzers.models.zipwalk import zip64_compressed_size
from veriscan.domain import JSON

__all__ = [
    "ModelFormatError",
    "PickleScan",
    "TorchInfo",
    "is_allowed_global",
    "is_dangerous_global",
    "pickle_globals",
    "read_diffusers_index",
    "read_gguf",
    "read_safetensors_header",
    "read_torch_legacy",
    "read_torch_zip",
    "scan_pickle",
    "sniff_model",
]

HEAD_LIMIT = 64 * 1024 * 1024
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
MAX_DIMS = 64
MAX_GGUF_KV = 1_000_000
MAX_GGUF_TENSORS = 10_000_000
GGUF_ARRAY_KEEP = 32
MAX_ZIP_MEMBERS = 10_000
MAX_JSON_SNIFF = 1024 * 1024
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_LEGACY_MAGIC_OP = b"\x8a\x0a" + TORCH_LEGACY_MAGIC.to_bytes(10, "little")
_ZIP_LOCAL = b"PK\x03\x04"
_DTYPE_BITS = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16, "I64": 64, "I32": 32, "I16": 16}
_DTYPE_BITS |= {"I8": 8, "U64": 64, "U32": 32, "U16": 16, "U8": 8, "BOOL": 8}
_DTYPE_BITS |= {"F8_E4M3": 8, "F8_E5M2": 8}


class ModelFormatError(Exception):
    """The bytes claim a model format but cannot be read as one; callers report, never load.

    The message is fixed forensic wording that is stored as a problem, so it never quotes a
    library's exception; the library's exception is chained as the cause, for the run log.
    """


@dataclass(frozen=True)
class TensorEntry:
    dtype: str
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]


@dataclass
class SafetensorsHeader:
    header_length: int
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str]

    def shapes(self) -> dict[str, tuple[int, ...] | None]:
        """The form ``classify`` takes, so every container feeds it the same way."""
        return {name: entry.shape for name, entry in self.tensors.items()}


@dataclass
class GgufInfo:
    version: int
    tensor_count: int
    kv_count: int
    metadata: dict[str, JSON]
    array_lengths: dict[str, int]
    byte_order: str
    truncated: bool

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str | None:
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) else None

    def to_json(self) -> dict[str, JSON]:
        return {
            "version": self.version,
            "tensor_count": self.tensor_count,
            "metadata": self.metadata,
            "array_lengths": self.array_lengths,
            "byte_order": "little" if self.byte_order == "<" else "big",
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class DiffusersIndex:
    class_name: str
    diffusers_version: str
    components: dict[str, str]


def sniff_model(head: bytes) -> str | None:
    """Cheap, allocation-light checks so every captured file can be offered to this analyzer."""
    if len(head) >= 9 and head[8:9] == b"{":
        length = int.from_bytes(head[:8], "little")
        if 2 <= length <= MAX_SAFETENSORS_HEADER:
            return "safetensors"
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:4] == _ZIP_LOCAL:
        names = [m.name for m in _zip_members(head, limit=16)]
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "pytorch-zip"
        return None
    if _is_torch_legacy(head):
        return "pytorch-legacy"
    if _diffusers_doc(head) is not None:
        return "diffusers-index"
    return None


def read_safetensors_header(head: bytes, size: int) -> SafetensorsHeader:
    if len(head) < 8:
        raise ModelFormatError("safetensors: fewer than 8 bytes")
    length = int.from_bytes(head[:8], "little")
    if not 2 <= length <= MAX_SAFETENSORS_HEADER:
        raise ModelFormatError(f"safetensors: header length {length} out of range")
    if 8 + length > size:
        raise ModelFormatError("safetensors: header runs past the end of the file")
    if 8 + length > len(head):
        raise ModelFormatError("safetensors: header truncated in the captured bytes")
    try:
        doc = json.loads(head[8 : 8 + length])
    except (ValueError, RecursionError) as exc:
        nested = isinstance(exc, RecursionError)
        why = "not JSON that can be read: nested too deeply" if nested else "not JSON"
        raise ModelFormatError(f"safetensors: header is {why}") from exc
    if not isinstance(doc, dict):
        raise ModelFormatError("safetensors: header is not a JSON object")
    data_length = size - 8 - length
    metadata: dict[str, str] = {}
    tensors: dict[str, TensorEntry] = {}
    for name, entry in doc.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise ModelFormatError("safetensors: __metadata__ is not an object")
            # Non-string values break the format's rule but are evidence: keep them as JSON text.
            metadata = {k: v if isinstance(v, str) else json.dumps(v) for k, v in entry.items()}
        else:
            tensors[name] = _tensor_entry(name, entry, data_length)
    return SafetensorsHeader(length, tensors, metadata)


def _tensor_entry(name: str, entry: Any, data_length: int) -> TensorEntry:
    if not isinstance(entry, dict):
        raise ModelFormatError(f"safetensors: tensor {name[:80]!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or not _uints(shape) or len(shape) > MAX_DIMS:
        raise ModelFormatError(f"safetensors: tensor {name[:80]!r} has a bad dtype or shape")
    if not _uints(offsets) or len(offsets) != 2:
        raise ModelFormatError(f"safetensors: tensor {name[:80]!r} has bad data_offsets")
    begin, end = offsets
    if not begin <= end <= data_length:
        raise ModelFormatError(f"safetensors: tensor {name[:80]!r} lies outside the file")
    bits = _DTYPE_BITS.get(dtype)
    if bits is not None and math.prod(shape) * bits != (end - begin) * 8:
        raise ModelFormatError(f"safetensors: tensor {name[:80]!r} size disagrees with its shape")
    return TensorEntry(dtype, tuple(shape), (begin, end))


def _uints(value: object) -> TypeGuard[list[int]]:
    return isinstance(value, list) and all(
        type(v) is int and v >= 0
        for v in value  # bool is an int subclass; not a dimension
    )


class _TruncatedError(Exception):
    """The captured bytes end inside a structure; what was read so far still counts."""


class _Cursor:
    def __init__(self, data: bytes, pos: int, order: str, wide: bool) -> None:
        self.data, self.pos, self.order, self.wide = data, pos, order, wide

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise _TruncatedError
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def unpack(self, code: str) -> Any:
        return struct.unpack(self.order + code, self.take(struct.calcsize(code)))[0]

    def count(self) -> int:
        return int(self.unpack("Q" if self.wide else "I"))

    def string(self) -> str:
        return self.take(self.count()).decode("utf-8", "replace")


_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q"}
_GGUF_SCALARS[12] = "d"
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def read_gguf(head: bytes) -> GgufInfo:
    """Header and key/values; a head that ends mid-way gives what came before, marked truncated."""
    if head[:4] != b"GGUF" or len(head) < 8:
        raise ModelFormatError("gguf: no GGUF header")
    order, version = "<", struct.unpack_from("<I", head, 4)[0]
    if version > 0xFFFF and struct.unpack_from(">I", head, 4)[0] in (1, 2, 3):
        order, version = ">", struct.unpack_from(">I", head, 4)[0]
    if version not in (1, 2, 3):
        raise ModelFormatError(f"gguf: unsupported version {version}")
    cur = _Cursor(head, 8, order, wide=version >= 2)
    try:
        tensor_count, kv_count = cur.count(), cur.count()
    except _TruncatedError as exc:
        raise ModelFormatError("gguf: header truncated") from exc
    if kv_count > MAX_GGUF_KV or tensor_count > MAX_GGUF_TENSORS:
        raise ModelFormatError("gguf: implausible tensor or key/value count")
    metadata: dict[str, JSON] = {}
    lengths: dict[str, int] = {}
    truncated = False
    try:
        for _ in range(kv_count):
            key = cur.string()
            vtype = cur.unpack("I")
            if vtype == _GGUF_ARRAY:
                metadata[key], lengths[key] = _gguf_array(cur, 0)
            else:
                metadata[key] = _gguf_value(cur, vtype)
    except _TruncatedError:
        truncated = True
    return GgufInfo(version, tensor_count, kv_count, metadata, lengths, order, truncated)


def _gguf_value(cur: _Cursor, vtype: int) -> JSON:
    if vtype == _GGUF_STRING:
        return cur.string()
    code = _GGUF_SCALARS.get(vtype)
    if code is None:
        raise ModelFormatError(f"gguf: unknown value type {vtype}")
    value = cur.unpack(code)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # keep the record strict JSON
    return value


def _gguf_array(cur: _Cursor, depth: int) -> tuple[list[JSON], int]:
    """Keeps the first items only: tokenizer vocabularies run to 150k strings of no forensic use."""
    if depth > 3:
        raise ModelFormatError("gguf: arrays nested too deeply")
    itype, n = cur.unpack("I"), cur.count()
    code = _GGUF_SCALARS.get(itype)
    if code is not None:
        if n * struct.calcsize(code) > len(cur.data) - cur.pos:
            raise _TruncatedError
        kept = [_gguf_value(cur, itype) for _ in range(min(n, GGUF_ARRAY_KEEP))]
        cur.pos += (n - len(kept)) * struct.calcsize(code)
        return kept, n
    items: list[JSON] = []
    for _ in range(n):  # every item consumes at least one byte, so the head bounds this loop
        item = _gguf_array(cur, depth + 1)[0] if itype == _GGUF_ARRAY else _gguf_value(cur, itype)
        if len(items) < GGUF_ARRAY_KEEP:
            items.append(item)
    return items, n


@dataclass(frozen=True)
class _Member:
    name: str
    method: int
    data_start: int
    compressed: int | None


def _zip_members(head: bytes, limit: int = MAX_ZIP_MEMBERS) -> list[_Member]:
    """Local headers in order: the central directory sits at the end, which was not captured."""
    members: list[_Member] = []
    pos = 0
    while len(members) < limit and head[pos : pos + 4] == _ZIP_LOCAL and pos + 30 <= len(head):
        flags, method = struct.unpack_from("<HH", head, pos + 6)
        comp, _uncomp, nlen, xlen = struct.unpack_from("<IIHH", head, pos + 18)
        name = head[pos + 30 : pos + 30 + nlen].decode("utf-8", "replace")
        extra = head[pos + 30 + nlen : pos + 30 + nlen + xlen]
        start = pos + 30 + nlen + xlen
        known: int | None = comp
        if comp == 0xFFFFFFFF:
            known = zip64_compressed_size(extra)
        elif flags & 0x08 and comp == 0:
            known = None  # sizes follow the data in a descriptor; the walk cannot go past it
        members.append(_Member(name, method, start, known))
        if known is None:
            break
        pos = start + known
    return members


def read_torch_zip(head: bytes) -> TorchInfo:
    members = _zip_members(head)
    pkl = next((m for m in members if m.name.rsplit("/", 1)[-1] == "data.pkl"), None)
    if pkl is None:
        raise ModelFormatError("pytorch-zip: no data.pkl among the captured members")
    end = len(head) if pkl.compressed is None else min(len(head), pkl.data_start + pkl.compressed)
    raw = head[pkl.data_start : end]
    if pkl.method == 8:
        try:
            raw = zlib.decompressobj(-15).decompress(raw, HEAD_LIMIT)
        except zlib.error as exc:
            raise ModelFormatError("pytorch-zip: data.pkl does not inflate") from exc
    elif pkl.method != 0:
        raise ModelFormatError(f"pytorch-zip: data.pkl uses compression method {pkl.method}")
    return torch_info("zip", [scan_pickle(raw)], [m.name for m in members])


def read_torch_legacy(head: bytes) -> TorchInfo:
    """Pre-1.6 torch.save: magic, protocol and sys_info pickles, then the object pickle."""
    if not _is_torch_legacy(head):
        raise ModelFormatError("pytorch-legacy: no torch magic number")
    scans: list[PickleScan] = []
    pos = 0
    for _ in range(4):
        scans.append(scan_pickle(head, pos))
        if not scans[-1].complete:
            break
        pos = scans[-1].end
    return torch_info("legacy", scans, [])


def _is_torch_legacy(head: bytes) -> bool:
    if head[:1] != b"\x80" or len(head) < 2 or not 2 <= head[1] <= 5:
        return False
    rest = head[2:]
    if rest[:1] == b"\x95":  # protocol 4+ FRAME opcode before the first object
        rest = rest[9:]
    return rest.startswith(_LEGACY_MAGIC_OP)


def _diffusers_doc(head: bytes) -> dict[str, Any] | None:
    if len(head) > MAX_JSON_SNIFF or not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return None
    try:
        doc = json.loads(head.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    if isinstance(doc, dict) and "_class_name" in doc and "_diffusers_version" in doc:
        return doc
    return None


def read_diffusers_index(head: bytes) -> DiffusersIndex:
    """model_index.json names the pipeline class and the library class of every component."""
    doc = _diffusers_doc(head)
    if doc is None:
        raise ModelFormatError("diffusers: not a model_index/config JSON")
    components = {
        key: ".".join(str(v) for v in value)
        for key, value in doc.items()
        if not key.startswith("_") and isinstance(value, list) and len(value) == 2
    }
    return DiffusersIndex(str(doc["_class_name"]), str(doc["_diffusers_version"]), components)
