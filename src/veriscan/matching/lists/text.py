"""Readers for the text list formats: CSV/TSV with a header, plain one-hash-per-line, PDQ text.

Every reader is a generator over the file's physical lines, so a 10M-line list is imported in
constant memory and every refused line can be reported with the line number a person would see in
an editor. Problems that make the whole file unreadable (no hash column, an empty file) raise
:class:`ListFormatError` when iteration starts, the same way the other list readers do.
"""

from __future__ import annotations

import csv
import io
from codecs import BOM_UTF8 as _BOM
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from veriscan.matching.lists.lines import MAX_LINE_BYTES, Unreadable, decoded_lines
from veriscan.matching.lists.records import (
    HASH_LENGTHS,
    BadLine,
    HashBlock,
    HashRecord,
    ListEvent,
    ListFormatError,
    normalise_hash,
)
from veriscan.matching.lists.sniff import (
    _COLUMN_ALIASES,
    _HASH_COLUMNS,
)
from veriscan.matching.lists.sniff import sniff_format as sniff_format

CategoryMap = Callable[[str], str | None]

_HEX_DIGITS = b"0123456789abcdef"
_PLAIN_KINDS = {32: "md5", 40: "sha1", 64: "sha256"}


def _article(kind: str) -> str:
    return "an" if kind == "md5" else "a"


def _parse_quality(cell: str) -> int:
    value = cell.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > 100:
        raise ValueError(f"quality must be a whole number 0..100, got {value[:40]!r}")
    return int(value)


def _detect_delimiter(header: str) -> str:
    if "\t" in header:
        return "\t"
    if ";" in header and "," not in header:
        return ";"
    return ","


def _split_row(text: str, delimiter: str) -> list[str]:
    """One physical line parsed alone, in strict mode.

    Parsing line by line (rather than one reader over the file) keeps line numbers exact and stops
    a single stray quote from swallowing the rest of a multi-million-line list into one cell; hash
    lists do not carry cells that span lines.
    """
    return next(csv.reader((text,), delimiter=delimiter, strict=True))


class _Columns:
    """Where each known field sits in a row, worked out once from the header."""

    def __init__(self, header: list[str]) -> None:
        self.width = len(header)
        self.hashes: list[tuple[int, str, str]] = []
        self.extra: list[tuple[int, str]] = []
        self.quality: int | None = None
        self.labels: int | None = None
        self.category: int | None = None
        self.series: int | None = None
        seen: dict[str, str] = {}
        for index, cell in enumerate(header):
            name = cell.strip()
            field = _COLUMN_ALIASES.get(name.lower())
            if field is None:
                self.extra.append((index, name or f"column_{index + 1}"))
                continue
            if field in seen:
                raise ListFormatError(
                    f"header names the {field} column twice ({seen[field]!r} and {name!r})"
                )
            seen[field] = name
            if field in _HASH_COLUMNS:
                self.hashes.append((index, field, name))
            else:
                setattr(self, field, index)
        if not self.hashes:
            raise ListFormatError(
                "header has no hash column (expected one of md5, sha1, sha256, pdq); "
                f"found {[c.strip() for c in header]!r}"
            )


def read_csv_list(
    path: Path, *, delimiter: str | None = None, category: CategoryMap | None = None
) -> Iterator[ListEvent]:
    """Yield one record per data row of a CSV/TSV list that starts with a header row.

    Tools export such lists with any subset of columns, so only the header decides what a row
    means; columns this reader does not know are kept in ``extra`` so an export can return them.
    """
    with closing(decoded_lines(path)) as lines:
        columns, sep = _read_header(path, lines, delimiter)
        label_seps = ("|",) if sep == ";" else (";", "|")
        for number, text in lines:
            if isinstance(text, Unreadable):
                yield BadLine(number, str(text))
                continue
            if not text.strip():
                continue
            try:
                cells = _split_row(text, sep)
            except csv.Error as exc:
                yield BadLine(number, f"cannot be parsed as CSV: {exc}")
                continue
            yield _csv_row(number, cells, columns, label_seps, category)


def _read_header(
    path: Path, lines: Iterator[tuple[int, str]], delimiter: str | None
) -> tuple[_Columns, str]:
    for number, text in lines:
        if isinstance(text, Unreadable):
            raise ListFormatError(f"{path}: header line {number} is {text}")
        if not text.strip():
            continue
        sep = delimiter if delimiter is not None else _detect_delimiter(text)
        try:
            return _Columns(_split_row(text, sep)), sep
        except csv.Error as exc:
            raise ListFormatError(f"{path}: header line {number} cannot be parsed: {exc}") from exc
        except ListFormatError as exc:
            raise ListFormatError(f"{path}: {exc}") from exc
    raise ListFormatError(f"{path}: empty list, no header row")


def _csv_row(
    number: int,
    cells: list[str],
    columns: _Columns,
    label_seps: tuple[str, ...],
    category: CategoryMap | None,
) -> ListEvent:
    if len(cells) != columns.width:
        return BadLine(number, f"expected {columns.width} cells, got {len(cells)}")
    hashes: dict[str, str] = {}
    for index, kind, name in columns.hashes:
        cell = cells[index].strip()
        if not cell:
            continue
        try:
            hashes[kind] = normalise_hash(kind, cell)
        except ValueError as exc:
            return BadLine(number, f"column {name!r}: {exc}")
    if not hashes:
        return BadLine(number, "no hash")
    quality: int | None = None
    if columns.quality is not None and cells[columns.quality].strip():
        try:
            quality = _parse_quality(cells[columns.quality])
        except ValueError as exc:
            return BadLine(number, str(exc))
    scheme_key: str | None = None
    if columns.category is not None:
        raw_category = cells[columns.category].strip()
        if raw_category:
            try:
                scheme_key = category(raw_category) if category is not None else raw_category
            except ValueError as exc:
                return BadLine(number, f"category {raw_category[:80]!r}: {exc}")
    labels: tuple[str, ...] = ()
    if columns.labels is not None:
        raw_labels = cells[columns.labels]
        for extra_sep in label_seps[1:]:
            raw_labels = raw_labels.replace(extra_sep, label_seps[0])
        labels = tuple(p.strip() for p in raw_labels.split(label_seps[0]) if p.strip())
    series: str | None = None
    if columns.series is not None:
        series = cells[columns.series].strip() or None
    extra: dict[str, Any] = {}
    for index, name in columns.extra:
        value = cells[index].strip()
        if value:
            extra[name] = value
    return HashRecord(
        line=number,
        pdq_quality=quality,
        category=scheme_key,
        series=series,
        labels=labels,
        extra=extra,
        md5=hashes.get("md5"),
        sha1=hashes.get("sha1"),
        sha256=hashes.get("sha256"),
        pdq=hashes.get("pdq"),
    )


def read_plain_list(path: Path, *, kind: str | None = None) -> Iterator[ListEvent]:
    """Yield one record per hash of a one-hash-per-line list.

    A plain list has no header, so its kind comes from ``kind`` or from the first valid line; a
    list that mixes kinds is almost always two lists pasted together, so the odd lines are refused
    one by one with their numbers rather than silently imported under a guessed kind.
    """
    if kind is not None and kind not in HASH_LENGTHS:
        raise ValueError(f"unknown hash kind {kind!r}; expected one of {sorted(HASH_LENGTHS)}")
    return _plain_events(path, kind)


def _make_record(kind: str) -> Callable[[int, str], HashRecord]:
    if kind == "md5":
        return lambda number, value: HashRecord(line=number, md5=value)
    if kind == "sha1":
        return lambda number, value: HashRecord(line=number, sha1=value)
    if kind == "sha256":
        return lambda number, value: HashRecord(line=number, sha256=value)
    return lambda number, value: HashRecord(line=number, pdq=value)


_BLOCK_BYTES = 4 << 20
_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


class _PlainState:
    """What the lines read so far decided: the list's kind, once a first valid line set it."""

    def __init__(self, kind: str | None) -> None:
        self.fixed = kind
        self.kind = kind
        self.want = HASH_LENGTHS[kind] if kind is not None else -1
        self.make = _make_record(kind) if kind is not None else None

    def line(self, number: int, raw: bytes) -> ListEvent | None:
        value = raw.strip()
        if number == 1 and value.startswith(_BOM):
            value = value[len(_BOM) :].strip()
        if not value or value[0] == 0x23:
            return None
        low = value.lower()
        if len(low) == self.want and self.make is not None and not low.translate(None, _HEX_DIGITS):
            return self.make(number, low.decode("ascii"))
        if low.translate(None, _HEX_DIGITS):
            return BadLine(number, _not_hex_reason(value))
        pdq = self.fixed == "pdq" and len(low) == 64
        line_kind = "pdq" if pdq else _PLAIN_KINDS.get(len(low))
        if line_kind is None:
            return BadLine(number, _length_reason(len(low), self.kind))
        if self.kind is None:
            self.kind, self.want, self.make = line_kind, len(low), _make_record(line_kind)
            return self.make(number, low.decode("ascii"))
        return BadLine(
            number,
            f"line {number} holds {_article(line_kind)} {line_kind} hash "
            f"but this list holds {self.kind}",
        )

    def block(self, data: bytes, first_line: int) -> HashBlock | None:
        """The whole block as one HashBlock when every line is a valid hash of the list's kind."""
        if self.kind is None or not data:
            return None
        width = self.want + (2 if data.endswith(b"\r\n") else 1)
        if len(data) % width:
            return None
        rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, width)
        if (rows[:, -1] != 0x0A).any() or (width == self.want + 2 and (rows[:, -2] != 0x0D).any()):
            return None
        nibbles = _NIBBLE[rows[:, : self.want]]
        if (nibbles == 255).any():
            return None
        digests = ((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).astype(np.uint8)
        return HashBlock(self.kind, digests, first_line)


def _plain_events(path: Path, kind: str | None) -> Iterator[ListEvent]:
    """Blocks of up to 4 MB: a block of clean lines becomes one HashBlock (vectorised), any
    other block goes line by line with bytes-level checks (no regex, no exception per line).

    The result is the same lowercase hex :func:`normalise_hash` would give.
    """
    state = _PlainState(kind)
    number = 1
    size = 64 << 10
    with path.open("rb") as handle:
        while True:
            data = handle.read(size)
            size = min(size * 2, _BLOCK_BYTES)
            if not data:
                break
            long_line = False
            if not data.endswith(b"\n"):
                data += handle.readline(MAX_LINE_BYTES + 1)
                cut = data.rfind(b"\n") + 1
                if not data.endswith(b"\n") and len(data) - cut > MAX_LINE_BYTES:
                    data, long_line = data[:cut], True
            fast = state.block(data, number) if number > 1 else None
            if fast is not None:
                yield fast
                number += len(fast.digests)
            else:
                for raw in io.BytesIO(data):
                    event = state.line(number, raw)
                    if event is not None:
                        yield event
                    number += 1
            if long_line:
                while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                yield BadLine(number, f"longer than {MAX_LINE_BYTES} bytes")
                number += 1


def _not_hex_reason(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8"
    return f"not hexadecimal: {text[:80]!r}"


def _length_reason(size: int, list_kind: str | None) -> str:
    if list_kind is not None:
        return f"{list_kind} must be {HASH_LENGTHS[list_kind]} hex digits, got {size}"
    return f"{size} hex digits is not an md5 (32), sha1 (40) or sha256 (64) hash"


def read_pdq_list(path: Path) -> Iterator[ListEvent]:
    """Yield one record per line of a ThreatExchange PDQ text list ("hash,quality" or "hash").

    Quality is kept because matchers drop low-quality hashes, which match far too much.
    """
    for number, text in decoded_lines(path):
        if isinstance(text, Unreadable):
            yield BadLine(number, str(text))
            continue
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(",")
        if len(parts) > 2:
            yield BadLine(number, f"expected 'hash' or 'hash,quality', got {len(parts)} fields")
            continue
        try:
            pdq = normalise_hash("pdq", parts[0])
            quality = _parse_quality(parts[1]) if len(parts) == 2 else None
        except ValueError as exc:
            yield BadLine(number, str(exc))
            continue
        yield HashRecord(line=number, pdq=pdq, pdq_quality=quality)
