"""Zip members read by their central-directory entry, whatever their local header or method says.

``zipfile.ZipFile.open`` refuses a member whose local header names it differently from the central
directory, and decodes four compression methods only. Both used to lose members silently. Here the
local header is checked by hand (:mod:`veriscan.sources.zip_local`: a mismatch becomes a problem
and the content is still read), the
four standard methods still go through :class:`zipfile.ZipExtFile`, and Deflate64 (what Windows
Explorer writes for large files), zstd, xz and PPMd are decoded with the codecs py7zr already
brings (inflate64, backports.zstd, pyppmd). Any other method is named in a problem instead.
"""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from typing import BinaryIO, Final, Protocol

import inflate64
import pyppmd

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.archive_wording import CORRUPT_DATA, CRC, log_failure
from veriscan.sources.archives.base import ArchiveError
from veriscan.sources.member_names import ANALYZER
from veriscan.sources.zip_local import UTF8_FLAG as _UTF8_FLAG

try:  # Python 3.14 ships zstd; older ones use its backport
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    from backports import zstd

_IN_CHUNK: Final = 1 << 14
_PATCHED_FLAG: Final = 0x20

STANDARD_METHODS: Final = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
EXTRA_METHODS: Final = {9: "Deflate64", 93: "zstd", 95: "xz", 98: "PPMd"}
_OTHER_METHODS: Final = {
    1: "Shrink",
    2: "Reduce",
    3: "Reduce",
    4: "Reduce",
    5: "Reduce",
    6: "Implode",
    10: "PKWARE DCL Implode",
    18: "IBM TERSE",
    19: "IBM LZ77",
    96: "JPEG (WinZip)",
    97: "WavPack",
    99: "AES encryption",
}


def method_name(method: int) -> str:
    return EXTRA_METHODS.get(method) or _OTHER_METHODS.get(method) or "unknown"


def open_zip(stream: BinaryIO) -> zipfile.ZipFile:
    """``zipfile`` refuses a whole archive over one name flagged UTF-8 that is not; such names
    are read again as bytes and kept, undecodable bytes as surrogate escapes."""
    try:
        return zipfile.ZipFile(stream)
    except UnicodeDecodeError:
        pass
    unflagged = _Unflagged(stream)
    archive = zipfile.ZipFile(unflagged)
    for info, flagged in zip(archive.infolist(), unflagged.flagged, strict=False):
        if flagged:
            raw = info.orig_filename.encode("cp437")
            info.orig_filename = info.filename = raw.decode("utf-8", "surrogateescape")
            info.flag_bits |= _UTF8_FLAG
    return archive


class _Unflagged:
    """Hands zipfile its central directory with the UTF-8 flags cleared, noting where they were.

    zipfile reads the whole directory in one call that starts at its first record; only a read
    that starts with a central record is changed.
    """

    _RECORD: Final = struct.Struct("<4s4xH18x3H")

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.flagged: list[bool] = []

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        if not data.startswith(b"PK\x01\x02") or self.flagged:
            return data
        out = bytearray(data)
        at = 0
        while at + 46 <= len(out) and out[at : at + 4] == b"PK\x01\x02":
            _, flags, name_len, extra_len, comment_len = self._RECORD.unpack_from(out, at)
            self.flagged.append(bool(flags & _UTF8_FLAG))
            struct.pack_into("<H", out, at + 8, flags & ~_UTF8_FLAG)
            at += 46 + name_len + extra_len + comment_len
        return bytes(out)


def unsupported(info: zipfile.ZipInfo) -> Problem | None:
    """Why the member's content cannot be decoded, if it cannot."""
    method = info.compress_type
    if info.flag_bits & _PATCHED_FLAG:
        reason = "is stored as patch data (flag bit 5), which veriscan cannot decode"
    elif method in STANDARD_METHODS or method in EXTRA_METHODS:
        return None
    else:
        reason = (
            f"uses compression method {method} ({method_name(method)}), "
            "which veriscan cannot decode"
        )
    return Problem(
        ANALYZER,
        f"member {reason}: recorded, content not read or hashed",
        ProblemCode.UNSUPPORTED_COMPRESSION,
    )


class _Window:
    """The member's compressed bytes; seeks before each read because the archive shares the file."""

    def __init__(self, stream: BinaryIO, start: int, length: int) -> None:
        self._stream = stream
        self._pos = start
        self._left = length

    def read(self, size: int = -1, /) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        if size <= 0:
            return b""
        self._stream.seek(self._pos)
        data = self._stream.read(size)
        self._pos += len(data)
        self._left -= len(data)
        return data

    def close(self) -> None:
        """The archive's file belongs to the caller."""


class _Codec(Protocol):
    @property
    def needs_input(self) -> bool: ...

    @property
    def eof(self) -> bool: ...

    def decode(self, data: bytes, limit: int) -> bytes: ...


class _Incremental:
    """zstd, xz and PPMd decompressors already bound their output per call."""

    def __init__(
        self, decompressor: zstd.ZstdDecompressor | lzma.LZMADecompressor | pyppmd.Ppmd8Decoder
    ) -> None:
        self._dec = decompressor

    @property
    def needs_input(self) -> bool:
        return bool(self._dec.needs_input)

    @property
    def eof(self) -> bool:
        return bool(self._dec.eof)

    def decode(self, data: bytes, limit: int) -> bytes:
        if isinstance(self._dec, pyppmd.Ppmd8Decoder):
            return bytes(self._dec.decode(data, limit))
        return bytes(self._dec.decompress(data, limit))


class _Deflate64:
    """inflate64 returns all output for its input, so small inputs keep each step bounded."""

    def __init__(self) -> None:
        self._dec = inflate64.Inflater()
        self._out = b""

    @property
    def needs_input(self) -> bool:
        return not self._out and not self._dec.eof

    @property
    def eof(self) -> bool:
        return bool(self._dec.eof) and not self._out

    def decode(self, data: bytes, limit: int) -> bytes:
        if data:
            self._out += self._dec.inflate(data)
        out, self._out = self._out[:limit], self._out[limit:]
        return out


def _ppmd(params: bytes, what: str) -> _Incremental:
    """PPMd variant I rev. 1, as zip stores it: two bytes of parameters, then the coded data."""
    if len(params) < 2:
        raise ArchiveError(f"{what}: PPMd parameters missing")
    value = int.from_bytes(params[:2], "little")
    order, mem_mb, restore = (value & 0xF) + 1, ((value >> 4) & 0xFF) + 1, value >> 12
    if order < 2 or restore > 1:
        raise ArchiveError(
            f"{what}: PPMd parameters (order {order}, restore method {restore}) are not supported"
        )
    return _Incremental(pyppmd.Ppmd8Decoder(order, mem_mb << 20, restore))


class _Decoded:
    """A member decoded by a codec zipfile lacks; checks size and CRC as ZipExtFile does."""

    def __init__(self, window: _Window, info: zipfile.ZipInfo, what: str) -> None:
        self._window = window
        self._what = what
        self._left = info.file_size
        self._expected = info.CRC
        self._crc = 0
        method = info.compress_type
        self._codec: _Codec
        if method == 9:
            self._codec = _Deflate64()
        elif method == 93:
            self._codec = _Incremental(zstd.ZstdDecompressor())
        elif method == 95:
            self._codec = _Incremental(lzma.LZMADecompressor(lzma.FORMAT_XZ))
        else:
            self._codec = _ppmd(window.read(2), what)

    def read(self, size: int = -1, /) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        if want <= 0:
            return b""
        out = b""
        stalled = 0
        while not out:
            if self._codec.eof:
                raise ArchiveError(
                    f"{self._what}: compressed data ends {self._left} bytes early",
                    ProblemCode.ARCHIVE_TRUNCATED,
                )
            data = b""
            if self._codec.needs_input:
                data = self._window.read(_IN_CHUNK)
                if not data:
                    raise ArchiveError(
                        f"{self._what}: compressed data is truncated", ProblemCode.ARCHIVE_TRUNCATED
                    )
            try:
                out = self._codec.decode(data, want)
            except (ValueError, EOFError, lzma.LZMAError, zstd.ZstdError, pyppmd.PpmdError) as exc:
                log_failure(self._what, exc)
                raise ArchiveError(f"{self._what}: {CORRUPT_DATA[1]}", CORRUPT_DATA[0]) from exc
            stalled = 0 if out or data else stalled + 1
            if stalled > 2:
                raise ArchiveError(f"{self._what}: decoder made no progress")
        self._left -= len(out)
        self._crc = zlib.crc32(out, self._crc)
        if self._left == 0 and self._crc != self._expected:
            raise ArchiveError(f"{self._what}: {CRC[1]}", CRC[0])
        return out

    def close(self) -> None:
        self._window.close()


def open_member(
    stream: BinaryIO, info: zipfile.ZipInfo, data_offset: int
) -> zipfile.ZipExtFile | _Decoded:
    """A reader of the member's content, from the data offset its local header gave."""
    what = f"zip member {info.orig_filename!r}"
    window = _Window(stream, data_offset, info.compress_size)
    if info.compress_type in STANDARD_METHODS:
        return zipfile.ZipExtFile(window, "r", info)
    return _Decoded(window, info, what)
