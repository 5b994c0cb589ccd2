"""zip archives: every member the central directory lists, read in place from a seekable stream.

Each reader turns one format into :class:`Entry` objects in archive order, so nothing is extracted
to disk and memory stays bounded by a chunk per open member. Every byte a reader decompresses goes
through a :class:`Meter`: the budget must see the bytes an archive forces us to expand, including
members nobody reads but that sit in front of ones somebody does.
"""

from __future__ import annotations

import calendar
import io
import struct
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.archives.base import (
    ArchiveFormat,
    Entry,
    ExpansionBudget,
    Forward,
    Meter,
    reading,
    special_kind,
)
from veriscan.sources.member_names import ANALYZER
from veriscan.sources.zip_local import LOCAL_HEADER_SIZE, Shifts, locate
from veriscan.sources.zip_members import open_member, open_zip, unsupported


class ZipFormat(ArchiveFormat):
    id = "zip"
    mime = "application/zip"

    def sniff(self, head: bytes) -> bool:
        return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))

    def read(
        self, stream: BinaryIO, budget: ExpansionBudget, damage: list[Problem]
    ) -> Iterator[Entry]:
        return read_zip(stream, budget, damage)


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
            if info.header_offset + LOCAL_HEADER_SIZE + info.compress_size > end:
                lost += 1
                problem = Problem(
                    ANALYZER,
                    "the archive ends before this member's data (truncated): content not read",
                    ProblemCode.TRUNCATED,
                )
                yield Entry(name, info.file_size, _zip_mtime(info), problems=[problem])
                continue
            yield _zip_entry(stream, info, budget, shifts)
        if lost:
            damage.append(
                Problem(
                    ANALYZER,
                    f"zip archive is truncated: {lost} member(s) lie past its end",
                    ProblemCode.ARCHIVE_TRUNCATED,
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
        special=special_kind(mode),
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
