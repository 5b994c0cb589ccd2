"""Which list format a file's first bytes look like (each list format's ``sniff`` asks here)."""

from __future__ import annotations

from codecs import BOM_UTF8 as _BOM
from pathlib import Path

from veriscan.matching.lists.records import ListFormatError

_HEX_SET = frozenset("0123456789abcdef")
_HASH_COLUMNS = ("md5", "sha1", "sha256", "pdq")
_COLUMN_ALIASES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha-1": "sha1",
    "sha_1": "sha1",
    "sha256": "sha256",
    "sha-256": "sha256",
    "sha_256": "sha256",
    "pdq": "pdq",
    "quality": "quality",
    "pdq_quality": "quality",
    "label": "labels",
    "labels": "labels",
    "category": "category",
    "series": "series",
}
_SNIFF_BYTES = 64 * 1024
_SQLITE_MAGIC = b"SQLite format 3\x00"


def sniff_format(path: Path) -> str:
    """Guess a list's format from its first bytes: "vics", "csv", "plain", "pdq" or "nsrl".

    Only the start of the file is read, so sniffing a multi-gigabyte list is instant; the chosen
    reader still validates every line, so a wrong guess shows up as bad lines or a format error.
    """
    kind = head_kind(read_head(path))
    if kind is None:
        raise ListFormatError(f"{path}: empty file, nothing to import")
    return kind


def read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_SNIFF_BYTES)


def head_kind(head: bytes) -> str | None:
    """The format a file's first bytes look like; None for an empty (or blank) file."""
    if head.startswith(_SQLITE_MAGIC):
        return "nsrl"
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    text = head.decode("utf-8", errors="replace")
    if not text.strip():
        return None
    if text.lstrip().startswith("{"):
        return "vics"
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        return _sniff_line(line)
    return "plain"


def _sniff_line(line: str) -> str:
    first, comma, rest = (part.strip() for part in line.partition(","))
    if comma and len(first) == 64 and set(first.lower()) <= _HEX_SET and rest.isdigit():
        return "pdq"
    has_delimiter = any(sep in line for sep in (",", ";", "\t"))
    if has_delimiter and any(ch.isalpha() for ch in line):
        return "csv"
    if line.lower() in _COLUMN_ALIASES and _COLUMN_ALIASES[line.lower()] in _HASH_COLUMNS:
        return "csv"
    return "plain"
