"""Container readers behind :mod:`veriscan.sources.archive`.

Each reader turns one format into :class:`Entry` objects in archive order, reading forward only, so
nothing is extracted to disk and memory stays bounded by a chunk per open member. Every byte a
reader decompresses goes through a :class:`Meter`: the budget must see the bytes an archive forces
us to expand, including members nobody reads but that sit in front of ones somebody does.
"""

from __future__ import annotations

import calendar
import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final

import py7zr
import py7zr.exceptions
from py7zr.compressor import SupportedMethods

from veriscan.model import Problem
from veriscan.sources.archive import (
    MAX_READ,
    ArchiveError,
    Entry,
    ExpansionBudget,
    Forward,
    LimitExceeded,
    Meter,
    reading,
    translated,
)
from veriscan.sources.archive_wording import CRC
from veriscan.sources.member_names import ANALYZER
from veriscan.sources.tar_members import read_tar
from veriscan.sources.zip_local import Shifts, locate
from veriscan.sources.zip_members import open_member, open_zip, unsupported

__all__ = ["read_7z", "read_tar", "read_zip"]

_ZIP_LOCAL_HEADER: Final = 30
_7Z_SIGNATURE: Final = 32


def _special_kind(mode: int) -> str | None:
    kinds = (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
    )
    return next((kind for test, kind in kinds if mode and test(mode)), None)


def read_zip(stream: BinaryIO, budget: ExpansionBudget, damage: list[Problem]) -> Iterator[Entry]:
    """Every member the central directory lists becomes an entry, readable or not.

    Members whose data the directory places past the end are yielded unreadable and reported again
    on the archive; a "directory" entry is skipped only when it holds no data.
    """
    with reading("unreadable zip archive"):
        end = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        archive = open_zip(stream)
    with archive:
        lost = 0
        shifts = Shifts()
        for info in archive.infolist():
            name = info.orig_filename
            if name.endswith(("/", "\\")) and info.file_size == 0:
                continue
            if info.header_offset + _ZIP_LOCAL_HEADER + info.compress_size > end:
                lost += 1
                problem = Problem(
                    ANALYZER,
                    "the archive ends before this member's data (truncated): content not read",
                    "truncated",
                )
                yield Entry(name, info.file_size, _zip_mtime(info), problems=[problem])
                continue
            yield _zip_entry(stream, info, budget, shifts)
        if lost:
            damage.append(
                Problem(
                    ANALYZER,
                    f"zip archive is truncated: {lost} member(s) lie past its end",
                    "archive-truncated",
                )
            )


def _zip_entry(
    stream: BinaryIO, info: zipfile.ZipInfo, budget: ExpansionBudget, shifts: Shifts
) -> Entry:
    what = f"zip member {info.orig_filename!r}"
    encrypted = bool(info.flag_bits & 1)
    located = locate(stream, info, shifts)
    blocked = None if encrypted else unsupported(info)
    data_offset = located.data_offset
    if blocked is not None:
        located.problems.append(blocked)

    def source() -> Forward:
        assert data_offset is not None
        with reading(what):
            handle = open_member(stream, info, data_offset)
        meter = Meter(budget, lambda: info.compress_size)
        return Forward(handle.read, what, meter, handle.close)

    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    return Entry(
        name=info.orig_filename,
        size=info.file_size,
        mtime=_zip_mtime(info),
        encrypted=encrypted,
        special=_special_kind(mode),
        source=None if data_offset is None or blocked is not None else source,
        problems=located.problems,
    )


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    """Prefer the UTC extended timestamp; DOS times carry no zone and are read as UTC."""
    extra, at = info.extra, 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + length]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            return float(struct.unpack_from("<i", body, 1)[0])
        at += 4 + length
    try:
        return float(calendar.timegm(info.date_time))
    except (ValueError, OverflowError):
        return None


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
                    "archive-trailing-data",
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
                special="symbolic link" if info.is_symlink else _special_kind(info.st_fmt or 0),
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
