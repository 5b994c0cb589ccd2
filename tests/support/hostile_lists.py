"""Hostile hash-list files, written in code: VICS bombs and text lines no reader should hold.

Every file keeps two good records around the hostile one, so a test can check that the rest of
the file still imports. Hash values are fixed hex; nothing here describes real material.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

MEDIA_CONTEXT = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
CASES_CONTEXT = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
GOOD_MD5 = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
HOSTILE_MD5 = "00112233445566778899aabbccddeeff"
MiB = 1 << 20


def _good(index: int) -> bytes:
    return json.dumps({"MediaID": index + 1, "Category": 1, "MD5": GOOD_MD5[index]}).encode()


def write_vics(path: Path, hostile: Callable[[], list[bytes]], cases: bool = False) -> Path:
    """A #Media (or #Cases) file: good record, the hostile record's pieces, good record."""
    context = CASES_CONTEXT if cases else MEDIA_CONTEXT
    with path.open("wb") as fh:
        fh.write(b'{"@odata.context": ' + json.dumps(context).encode() + b', "value": [')
        if cases:
            fh.write(b'{"CaseID": 1, "Media": [')
        fh.write(_good(0) + b",\n")
        for piece in hostile():
            fh.write(piece)
        fh.write(b",\n" + _good(1))
        fh.write(b"]}]}" if cases else b"]}")
    return path


def nested_arrays(levels: int) -> Callable[[], list[bytes]]:
    """A record whose field holds ``levels`` nested arrays (the 24 GB bomb at 100,000)."""
    head = b'{"MediaID": 9, "MD5": "%s", "X": ' % HOSTILE_MD5.encode()
    return lambda: [head, b"[" * levels, b"]" * levels, b"}"]


def nested_objects(levels: int) -> Callable[[], list[bytes]]:
    head = b'{"MediaID": 9, "MD5": "%s", "X": ' % HOSTILE_MD5.encode()
    return lambda: [head, b'{"a": ' * levels, b"1", b"}" * levels, b"}"]


def bare_nested_arrays(levels: int) -> Callable[[], list[bytes]]:
    """The record itself is the nest (a top-level array in place of a media object)."""
    return lambda: [b"[" * levels, b"]" * levels]


def long_string(size: int) -> Callable[[], list[bytes]]:
    """One string of ``size`` bytes, written in pieces so the builder itself stays small."""
    head = b'{"MediaID": 9, "MD5": "%s", "Comment": "' % HOSTILE_MD5.encode()
    piece = b"z" * MiB
    return lambda: [head, *([piece] * (size // MiB)), b"z" * (size % MiB), b'"}']


def wide_integer(value: int) -> Callable[[], list[bytes]]:
    """A media record whose MediaSize does not fit a signed 64-bit column."""
    record = {"MediaID": 9, "MD5": HOSTILE_MD5, "MediaSize": value}
    return lambda: [json.dumps(record).encode()]


def write_long_line(path: Path, fmt: str, size: int) -> Path:
    """A text list (csv, plain or pdq) with one line of ``size`` bytes and no newline in it."""
    with path.open("wb") as fh:
        if fmt == "csv":
            fh.write(b"md5,series\n")
        good = [g.encode() + (b",s" if fmt == "csv" else b"") for g in GOOD_MD5]
        if fmt == "pdq":
            good = [(g * 2).encode() + b",100" for g in GOOD_MD5]
        fh.write(good[0] + b"\n")
        piece = b"a" * MiB
        for _ in range(size // MiB):
            fh.write(piece)
        fh.write(b"a" * (size % MiB) + b"\n")
        fh.write(good[1] + b"\n")
    return path


def write_dirty_lines(path: Path, fmt: str) -> Path:
    """A text list with a NUL byte in one line and invalid UTF-8 in the next."""
    lines = [GOOD_MD5[0].encode(), b"0011\x0022" + b"3" * 26, b"\xff\xfe" + b"4" * 30]
    lines.append(GOOD_MD5[1].encode())
    if fmt == "csv":
        lines = [b"md5,series"] + [line + b",s" for line in lines]
    if fmt == "pdq":
        lines = [line * 2 + b",90" for line in lines]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path
