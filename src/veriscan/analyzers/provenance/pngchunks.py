"""PNG text and EXIF chunks read by walking the chunk list, without decoding any pixels.

Pillow only reaches chunks that follow the image data by decoding the whole image (its ``text``
property and ``getexif`` both call ``load``), which made metadata reading cost as much as a full
decode. Generators write their chunks before or after IDAT, so every chunk is walked here, with
decompression bounded so a zTXt/iTXt bomb cannot expand past the text limit.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from veriscan.analyzers.provenance.base import MAX_TEXT_BYTES

SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
MAX_CHUNKS = 100_000


@dataclass
class PngChunks:
    text: dict[str, str] = field(default_factory=dict)
    exif: bytes | None = None
    problems: list[str] = field(default_factory=list)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"expands past {MAX_TEXT_BYTES} bytes")
    return out


def _text_chunk(kind: bytes, body: bytes) -> tuple[str, str]:
    keyword, sep, rest = body.partition(b"\0")
    if not sep:
        raise ValueError("no keyword separator")
    key = keyword.decode("latin-1")
    if kind == b"tEXt":
        return key, rest[:MAX_TEXT_BYTES].decode("latin-1")
    if kind == b"zTXt":
        return key, _inflate(rest[1:]).decode("latin-1")
    compressed, rest = rest[:1] == b"\x01", rest[2:]
    _language, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    raw = _inflate(text) if compressed else text[:MAX_TEXT_BYTES]
    return key, raw.decode("utf-8", errors="replace")


def read_png_chunks(data: bytes) -> PngChunks:
    """Text chunks (first occurrence of each keyword wins, as in Pillow) and the eXIf payload."""
    found = PngChunks()
    if not data.startswith(SIGNATURE):
        return found
    pos = len(SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if pos + 8 > len(data):
            break
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            found.problems.append(f"{_chunk_name(kind)} chunk truncated at offset {pos}")
            return found
        if kind in TEXT_TYPES:
            try:
                key, value = _text_chunk(kind, body)
            except (ValueError, zlib.error, UnicodeDecodeError) as exc:
                if isinstance(exc, zlib.error):
                    why = "compressed text does not inflate"
                elif isinstance(exc, UnicodeDecodeError):
                    why = "text is not valid UTF-8"
                else:
                    why = str(exc)  # _text_chunk's own fixed wordings, never a library's
                found.problems.append(f"{_chunk_name(kind)} chunk at offset {pos}: {why}")
            else:
                found.text.setdefault(key, value)
        elif kind == b"eXIf" and found.exif is None:
            found.exif = body
        elif kind == b"IEND":
            return found
        pos += 12 + length
    found.problems.append("no IEND chunk: the file is truncated or has trailing damage")
    return found


def _chunk_name(kind: bytes) -> str:
    """A chunk type as printed in a problem: four letters, or hex when damage made it binary."""
    return kind.decode("ascii") if kind.isalpha() else f"0x{kind.hex()}"
