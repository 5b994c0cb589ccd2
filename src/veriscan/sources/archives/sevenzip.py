"""7z archives: solid blocks decoded once, in order, through the expansion budget."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final

import py7zr
import py7zr.exceptions
from py7zr.compressor import SupportedMethods

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.archive_wording import CRC
from veriscan.sources.archives.base import (
    MAX_READ,
    ArchiveError,
    ArchiveFormat,
    Entry,
    ExpansionBudget,
    Forward,
    LimitExceeded,
    Meter,
    special_kind,
    translated,
)
from veriscan.sources.member_names import ANALYZER

_7Z_SIGNATURE: Final = 32


class SevenZipFormat(ArchiveFormat):
    id = "7z"
    mime = "application/x-7z-compressed"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"7z\xbc\xaf\x27\x1c")

    def read(
        self, stream: BinaryIO, budget: ExpansionBudget, damage: list[Problem]
    ) -> Iterator[Entry]:
        return read_7z(stream, budget, damage)


def read_7z(stream: BinaryIO, budget: ExpansionBudget, damage: list[Problem]) -> Iterator[Entry]:
    """Read a 7z from a seekable stream, decoding each folder once, front to back."""
    if not isinstance(stream, io.IOBase):
        raise ArchiveError("7z archives need a seekable file object")
    try:
        stream.seek(0)
        archive = py7zr.SevenZipFile(stream, mode="r")
    except py7zr.exceptions.PasswordRequired as exc:
        raise ArchiveError("7z archive's file list is encrypted; password required") from exc
    except ArchiveError:
        raise
    except Exception as exc:
        # py7zr raises a wide, version-dependent set of exceptions on malformed input.
        raise translated("unreadable 7z archive", exc) from exc
    try:
        yield from _SevenZipWalk(archive, stream, budget).entries()
        damage.extend(_after_7z(archive, stream))
    finally:
        archive.close()


def _after_7z(archive: py7zr.SevenZipFile, stream: BinaryIO) -> list[Problem]:
    """Non-zero bytes after the 7z header that ends the archive: 7-Zip ignores them, we say so."""
    header = archive.sig_header
    end = _7Z_SIGNATURE + header.nextheaderofs + header.nextheadersize
    size = stream.seek(0, io.SEEK_END)
    if size <= end:
        return []
    stream.seek(end)
    while chunk := stream.read(MAX_READ):
        if any(chunk):
            return [
                Problem(
                    ANALYZER,
                    f"{size - end} bytes after the end of the 7z archive at byte {end} are not "
                    "part of it: not examined",
                    ProblemCode.ARCHIVE_TRAILING_DATA,
                )
            ]
    return []


class _SevenZipWalk:
    """Pulls bytes from py7zr's per-folder decoder instead of its push-style extract API.

    ``extract(factory=...)`` pushes whole archives through callbacks and refuses hostile names
    outright; decoding folders here lets a caller pull one member at a time with bounded memory
    and still see every name. Bytes of members skipped inside a solid folder are decoded and
    charged to the budget; a broken folder only makes its own members unreadable.
    """

    def __init__(
        self, archive: py7zr.SevenZipFile, stream: BinaryIO, budget: ExpansionBudget
    ) -> None:
        self._archive = archive
        self._stream = stream
        self._budget = budget
        main = archive.header.main_streams
        self._folders: list[Any] = list(main.unpackinfo.folders) if main else []
        self._positions: list[int] = list(main.packinfo.packpositions) if main else []
        self._folder_index = {id(folder): i for i, folder in enumerate(self._folders)}
        self._index = -1
        self._decoder: Any = None
        self._meter = Meter(budget)
        self._left = 0
        self._failure: ArchiveError | None = None

    def entries(self) -> Iterator[Entry]:
        for info in getattr(self._archive, "files", ()):
            if info.is_directory:
                continue
            folder = info.folder
            locked = folder is not None and SupportedMethods.needs_password(folder.coders)
            if not locked:
                self._start(info)
            stamp = info.lastwritetime
            yield Entry(
                name=info.filename,
                size=info.uncompressed or 0,
                mtime=stamp.totimestamp() if stamp is not None else None,
                encrypted=locked,
                special="symbolic link" if info.is_symlink else special_kind(info.st_fmt or 0),
                source=None if locked else self._source(info),
            )

    def _start(self, info: Any) -> None:
        if info.folder is None or info.emptystream:
            return
        index = self._folder_index[id(info.folder)]
        if index != self._index:
            self._index, self._decoder, self._failure, self._left = index, None, None, 0
            self._meter = Meter(self._budget, lambda: self._packed(index))
        try:
            while self._left > 0:
                self._left -= len(self._decode(min(self._left, MAX_READ)))
        except LimitExceeded:
            raise
        except ArchiveError:
            pass
        self._left = info.uncompressed or 0

    def _packed(self, index: int) -> int:
        return self._positions[index + 1] - self._positions[index]

    def _decode(self, size: int) -> bytes:
        if self._failure is not None:
            raise self._failure
        try:
            if self._decoder is None:
                self._stream.seek(self._archive.afterheader + self._positions[self._index])
                folder = self._folders[self._index]
                self._decoder = folder.get_decompressor(self._packed(self._index), True)
            while True:
                before = self._stream.tell()
                data: bytes = self._decoder.decompress(self._stream, size)
                if data:
                    break
                if self._stream.tell() == before:
                    raise ArchiveError("7z folder data ends before its declared size")
        except ArchiveError as exc:
            self._failure = exc
            raise
        except Exception as exc:
            self._failure = translated("unreadable 7z data", exc)
            raise self._failure from exc
        self._meter.charge(len(data))
        return data

    def _source(self, info: Any) -> Callable[[], Forward]:
        what = f"7z member {info.filename!r}"
        expected: int | None = info.crc32
        crc = 0

        def read(size: int) -> bytes:
            nonlocal crc
            if size <= 0 or self._left <= 0 or info.emptystream:
                return b""
            data = self._decode(min(size, self._left))
            self._left -= len(data)
            crc = zlib.crc32(data, crc)
            if self._left == 0 and expected is not None and crc != expected:
                raise ArchiveError(f"{what}: {CRC[1]}", CRC[0])
            return data

        return lambda: Forward(read, what)
