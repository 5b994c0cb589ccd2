"""gzip, bzip2 and xz decoded stream by stream, so that nothing after the last stream goes unseen.

The standard library's readers stop quietly at bytes that do not start a new stream (bz2 and
lzma) or fail on them after the fact (gzip); either way an examiner would not learn that the file
holds more than the archive. Decoding here is bounded per read, as the metering needs.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import BinaryIO, Final

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.archives.base import CHUNK
from veriscan.sources.member_names import ANALYZER

MAGIC: Final = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}
"""How each codec's streams start; the archive formats sniff with the same bytes."""


class Counted:
    """Counts compressed bytes consumed so a stream's ratio can be judged as it is read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


def _decoder(codec: str) -> zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor:
    if codec == "gzip":
        return zlib.decompressobj(wbits=31)
    if codec == "bzip2":
        return bz2.BZ2Decompressor()
    if codec == "xz":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)
    raise ValueError(f"unknown codec {codec!r}")


class Unpacked:
    """Concatenated compressed streams, decoded one after another with bounded output per read.

    Zero bytes between or after streams are padding (gzip and xz allow it); anything else after
    the last stream is not compressed data and is reported in ``damage``, never silently dropped.
    """

    def __init__(self, codec: str, raw: Counted, damage: list[Problem]) -> None:
        self._codec = codec
        self._raw = raw
        self._damage = damage
        self._dec = _decoder(codec)
        self._input = b""
        self._done = False
        self._started = False
        self._stream_start = 0
        self._stream_out = 0
        self.mtime: float | None = None

    def read1(self, size: int = -1, /) -> bytes:
        size = CHUNK if size < 0 else size
        while not self._done and size > 0:
            if self._dec.eof:
                self._next_stream()
                continue
            if not self._input and self._wants_input():
                self._input = self._raw.read(CHUNK)
                if not self._started and self._codec == "gzip" and len(self._input) >= 8:
                    self.mtime = float(int.from_bytes(self._input[4:8], "little")) or None
                self._started = True
                if not self._input and self._stream_start and not self._stream_out:
                    self._trailing(self._stream_start, self._raw.count - self._stream_start)
                    break
                if not self._input:
                    raise EOFError("compressed stream ended before its end-of-stream marker")
            out = self._decode(size)
            if out:
                return out
        return b""

    def _wants_input(self) -> bool:
        if isinstance(self._dec, bz2.BZ2Decompressor | lzma.LZMADecompressor):
            return bool(self._dec.needs_input)
        return not self._dec.unconsumed_tail

    def _decode(self, size: int) -> bytes:
        data, self._input = self._input, b""
        try:
            if isinstance(self._dec, bz2.BZ2Decompressor | lzma.LZMADecompressor):
                out = self._dec.decompress(data, size)
            else:
                out = self._dec.decompress(self._dec.unconsumed_tail + data, size)
        except (OSError, EOFError, zlib.error, lzma.LZMAError):
            if self._stream_start == 0 or self._stream_out:
                raise
            # Bytes after a complete stream that only look like the start of another one.
            self._trailing(self._stream_start, self._raw.count - self._stream_start)
            return b""
        self._stream_out += len(out)
        return out

    def _next_stream(self) -> None:
        rest = self._dec.unused_data + self._input
        self._input = b""
        while True:
            rest = rest.lstrip(b"\0")
            if rest or not (more := self._raw.read(CHUNK)):
                break
            rest = more
        if not rest:
            self._done = True
            return
        magic = MAGIC[self._codec]
        while len(rest) < len(magic) and (more := self._raw.read(CHUNK)):
            rest += more
        at = self._raw.count - len(rest)
        if rest.startswith(magic):
            self._dec, self._input = _decoder(self._codec), rest
            self._stream_start, self._stream_out = at, 0
            return
        self._trailing(at, len(rest))

    def _trailing(self, at: int, held: int) -> None:
        extra = held + sum(len(chunk) for chunk in iter(lambda: self._raw.read(CHUNK), b""))
        self._damage.append(
            Problem(
                ANALYZER,
                f"{extra} bytes after the end of the {self._codec} data at byte {at} are not "
                f"{self._codec} data: not examined",
                ProblemCode.ARCHIVE_TRAILING_DATA,
            )
        )
        self._done = True
