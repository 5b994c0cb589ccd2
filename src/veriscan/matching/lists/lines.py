"""Physical lines of a text list, bounded: no line is held whole past MAX_LINE_BYTES.

A list with one 2 GB line and no newline would otherwise be read into memory as one string, and
a NUL byte or broken UTF-8 would reach the CSV parser; each becomes a bad line with its number.
"""

from __future__ import annotations

from codecs import BOM_UTF8 as _BOM
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20
"""A longer list line is a bad line, read past without being held (real ones are short)."""


class Unreadable(str):
    """Stands in for a line that is not text: its value is the reason."""


def _physical_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """Raw lines with their endings, None for one longer than MAX_LINE_BYTES (skipped in
    pieces, so one 2 GB line without a newline costs no more memory than a normal one)."""
    number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield number, raw
            continue
        while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield number, None


def decoded_lines(path: Path) -> Generator[tuple[int, str], None, None]:
    """Physical lines as text without their line ending; an :class:`Unreadable` for a line
    that is not UTF-8, holds a NUL byte or is too long.

    Lines are decoded one at a time (not the file as a whole) so one corrupt line costs one
    BadLine rather than the whole import.
    """
    with path.open("rb") as handle:
        for number, raw in _physical_lines(handle):
            if raw is None:
                yield number, Unreadable(f"longer than {MAX_LINE_BYTES} bytes")
                continue
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if b"\0" in raw:
                yield number, Unreadable("holds a NUL byte")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, Unreadable("not valid UTF-8")
                continue
            yield number, text.rstrip("\r\n")
