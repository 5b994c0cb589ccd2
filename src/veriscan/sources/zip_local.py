"""Where a zip member's data starts, found from its local header even when bytes have moved.

The central directory gives each member's local header offset. The local header is read by hand
rather than by ``zipfile`` so that a name that differs from the directory's becomes a problem
instead of a refusal, and a header that inserted or removed bytes have moved is found by its name.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.archives.base import ArchiveError
from veriscan.sources.member_names import ANALYZER

_LOCAL: Final = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIG: Final = b"PK\x03\x04"
LOCAL_HEADER_SIZE: Final = _LOCAL.size
"""A local header's fixed part, before the name and extra field."""
UTF8_FLAG: Final = 0x800
_SHIFT_WINDOW: Final = 1 << 20
_SEARCH_LIMIT: Final = 64 << 20


@dataclass
class Located:
    """Where a member's data starts, or None when it cannot be read; problems say why or what."""

    data_offset: int | None
    problems: list[Problem] = field(default_factory=list)


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    encoding = "utf-8" if info.flag_bits & UTF8_FLAG else "cp437"
    return info.orig_filename.encode(encoding, "surrogateescape")


def _shown(raw: bytes, utf8: bool) -> str:
    return raw.decode("utf-8" if utf8 else "cp437", "surrogateescape")


def locate(stream: BinaryIO, info: zipfile.ZipInfo, shifts: Shifts | None = None) -> Located:
    """Read the member's local header: where its data starts and whether it agrees on the name."""
    central = _raw_name(info)
    start = info.header_offset
    shifted: Problem | None = None
    try:
        # zipfile shifts every offset when the directory is not where its record says; a cut
        # in front of it can push the first offsets below zero.
        header = b""
        if start >= 0:
            stream.seek(start)
            header = stream.read(_LOCAL.size)
        if len(header) < _LOCAL.size or header[:4] != _LOCAL_SIG:
            found = _search_local(stream, start, central, shifts or Shifts())
            if found is None:
                return Located(
                    None,
                    [
                        Problem(
                            ANALYZER,
                            "no local header where the central directory places this member: "
                            "content not read",
                            ProblemCode.ARCHIVE_ERROR,
                        )
                    ],
                )
            shifted = Problem(
                ANALYZER,
                f"local header found at byte {found}, {found - start:+d} bytes from where the "
                f"central directory places it (byte {start}): bytes were inserted or removed "
                "before it; content read from there and checked against its CRC-32",
                ProblemCode.ARCHIVE_SHIFTED_MEMBER,
            )
            start = found
            stream.seek(start)
            header = stream.read(_LOCAL.size)
        fields = _LOCAL.unpack(header)
        name_len, extra_len = fields[-2], fields[-1]
        local = stream.read(name_len)
    except OSError as exc:
        raise ArchiveError(
            f"zip member {info.orig_filename!r}: read failed: {exc.strerror or 'I/O error'}",
            ProblemCode.READ_ERROR,
        ) from exc
    located = Located(start + _LOCAL.size + name_len + extra_len)
    if shifted is not None:
        located.problems.append(shifted)
    if local != central:
        local_utf8 = bool(fields[3] & UTF8_FLAG)
        located.problems.append(
            Problem(
                ANALYZER,
                f"local header names this member {_shown(local, local_utf8)!r}, the central "
                f"directory {info.orig_filename!r}: recorded under the central directory's "
                "name, content read from the data both headers point to",
                ProblemCode.NAME_MISMATCH,
            )
        )
    return located


@dataclass
class Shifts:
    """Per archive: the last shift found, tried first, and the bytes searched so far.

    One insertion moves every later header by the same amount, so usually one search serves all;
    the search total is capped so a hostile archive cannot make every member cost a scan.
    """

    delta: int = 0
    searched: int = 0


def _search_local(stream: BinaryIO, near: int, name: bytes, shifts: Shifts) -> int | None:
    """The local header of ``name`` nearest to ``near``, within :data:`_SHIFT_WINDOW` bytes.

    Bytes inserted into or cut from a zip move every later local header away from the offset the
    central directory gives; the header is still there, and its name says whose it is.
    """
    if shifts.delta and _is_local(stream, near + shifts.delta, name):
        return near + shifts.delta
    if shifts.searched >= _SEARCH_LIMIT:
        return None
    low = max(0, near - _SHIFT_WINDOW)
    stream.seek(low)
    window = stream.read(2 * _SHIFT_WINDOW + _LOCAL.size + len(name))
    shifts.searched += len(window)
    best: int | None = None
    at = window.find(_LOCAL_SIG)
    while at >= 0:
        closer = best is None or abs(low + at - near) < abs(best - near)
        if closer and _names(window, at, name):
            best = low + at
        at = window.find(_LOCAL_SIG, at + 1)
    if best is not None:
        shifts.delta = best - near
    return best


def _is_local(stream: BinaryIO, at: int, name: bytes) -> bool:
    if at < 0:
        return False
    stream.seek(at)
    return _names(stream.read(_LOCAL.size + len(name)), 0, name)


def _names(data: bytes, at: int, name: bytes) -> bool:
    """Whether ``data`` holds, at ``at``, a local header for ``name``."""
    if data[at : at + 4] != _LOCAL_SIG or at + _LOCAL.size > len(data):
        return False
    begin = at + _LOCAL.size
    return _LOCAL.unpack_from(data, at)[-2] == len(name) and data[begin : begin + len(name)] == name
