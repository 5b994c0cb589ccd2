"""Project VIC VICS JSON (v1.x and v2.0): read as a stream, written back as VICS 2.0.

A VICS export often puts millions of media records into a single case, so the file is never
loaded whole: ijson hands over one media object at a time and the reader yields it at once.
Everything a media record says is kept in ``HashRecord.extra`` (PhotoDNA, MediaFiles, Exifs,
keys this code has never heard of) so an export can give the record back as it came. PhotoDNA
stays there as data only: veriscan cannot compute it, so it is never a hash to match on.
"""

from __future__ import annotations

import re
from codecs import BOM_UTF8 as _BOM
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from veriscan.matching.lists.jsonguard import (
    CHUNK_BYTES,
    Limits,
    SkeletonGuard,
    close_parser,
    guarded_items,
)
from veriscan.matching.lists.jsonrecord import RefusedRecord
from veriscan.matching.lists.records import (
    BadLine,
    HashRecord,
    ListEvent,
    ListFormatError,
    normalise_hash,
)
from veriscan.matching.lists.schemes import CATEGORY_ZERO_CHOICES, DEFAULT_CATEGORY_ZERO, Scheme

CONTEXT_KEYS = ("@odata.context", "odata.metadata")
SCHEME_SEGMENTS = ("US", "UK", "Default", "CUSTOM")
ROOTS = ("Cases", "Media")
_CONTEXT = re.compile(
    r"ProjectVic/DataModels/(?P<version>\d+)(?:\.\d+)*\.xml"
    r"(?:/(?P<scheme>[^/#]+)/\$metadata)?#(?P<root>Cases|Media)",
    re.IGNORECASE,
)
_DOTNET_DATE = re.compile(r"/Date\((?P<ms>-?\d+)(?:[+-]\d{4})?\)/")
_HASH_KINDS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "PDQ": "pdq"}
_HASH_NAMES = {kind: name for name, kind in _HASH_KINDS.items()}
_TAG_NAME_KEYS = ("Name", "Value", "TagName", "Tag")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class VicsHeader:
    version: str
    context: str
    scheme: str | None
    root: str


def read_header(path: Path) -> VicsHeader:
    """The file's OData context, read without going further than needed.

    Exporters put the context first, so this usually touches only the first few bytes; a file
    that puts it after ``value`` is scanned to the end, still in constant memory.
    """
    with _open(path) as fh:
        context = _find_context(fh, path)
    match = _CONTEXT.search(context)
    if match is None:
        raise ListFormatError(f"{path}: {context[:120]!r} is not a Project VIC VICS context")
    version = match["version"]
    if version not in ("1", "2"):
        raise ListFormatError(f"{path}: VICS data model version {version} is not supported")
    root = next(r for r in ROOTS if r.casefold() == match["root"].casefold())
    scheme: str | None = None
    if version == "2" and match["scheme"] is not None:
        raw = match["scheme"]
        scheme = next((s for s in SCHEME_SEGMENTS if s.casefold() == raw.casefold()), raw)
    return VicsHeader(version=version, context=context, scheme=scheme, root=root)


def read_vics(
    path: Path,
    scheme: Scheme,
    category_zero: str = DEFAULT_CATEGORY_ZERO,
    limits: Limits | None = None,
) -> Iterator[ListEvent]:
    """Yield one event per media record, in file order, numbered from 1.

    The header and ``category_zero`` are checked before the generator is handed back, so a file
    that is not VICS at all fails at the call rather than at the first ``next()``.
    """
    if category_zero not in CATEGORY_ZERO_CHOICES:
        choices = ", ".join(CATEGORY_ZERO_CHOICES)
        raise ValueError(f"category_zero must be one of {choices}, got {category_zero!r}")
    header = read_header(path)
    return _stream(path, header, scheme, category_zero, limits or Limits())


def _stream(
    path: Path, header: VicsHeader, scheme: Scheme, category_zero: str, limits: Limits
) -> Iterator[ListEvent]:
    cases = header.root == "Cases"
    prefix = "value.item.Media.item" if cases else "value.item"
    ordinal = 0
    with _open(path) as fh:
        try:
            for item in guarded_items(fh, prefix, 4 if cases else 2, limits):
                ordinal += 1
                if isinstance(item, RefusedRecord):
                    yield BadLine(ordinal, f"media record {item.reason}")
                else:
                    yield _event(item.value, ordinal, scheme, category_zero, item.notes)
        except (ijson.JSONError, UnicodeDecodeError, ListFormatError) as exc:
            raise ListFormatError(
                f"{path}: the JSON breaks off after media record {ordinal}: {exc}"
            ) from None


def _open(path: Path) -> BinaryIO:
    """Open past a UTF-8 BOM, which Windows tools add and yajl rejects."""
    fh = path.open("rb")
    if fh.read(len(_BOM)) != _BOM:
        fh.seek(0)
    return fh


def _find_context(fh: BinaryIO, path: Path) -> str:
    """The context string, read through the guard so nothing under ``value`` is parsed."""
    guard = SkeletonGuard(2, Limits(), cut_all=True)
    events = ijson.sendable_list()
    coro = ijson.parse_coro(events)
    started = False
    key: str | None = None
    try:
        while chunk := fh.read(CHUNK_BYTES):
            if skeleton := guard.feed(chunk):
                coro.send(skeleton)
            guard.units.clear()
            for prefix, event, value in events:
                if not started and event != "start_map":
                    raise ListFormatError(
                        f"{path}: not a VICS file: the top level is not a JSON object"
                    )
                started = True
                if key is not None:
                    if event != "string":
                        raise ListFormatError(f"{path}: {key!r} is not a string")
                    return str(value)
                if prefix == "" and event == "map_key" and value in CONTEXT_KEYS:
                    key = str(value)
            del events[:]
        close_parser(coro, guard.finish())
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ListFormatError(f"{path}: not valid JSON: {exc}") from None
    keys = " or ".join(repr(k) for k in CONTEXT_KEYS)
    raise ListFormatError(f"{path}: not a VICS file: no {keys} key at the top level")


def _event(
    obj: object, ordinal: int, scheme: Scheme, category_zero: str, notes: tuple[str, ...] = ()
) -> ListEvent:
    if not isinstance(obj, dict):
        return BadLine(ordinal, f"media record is not a JSON object ({_json_type(obj)})")
    media_id = _field(obj, "MediaID")
    who = f"MediaID {media_id}: " if media_id is not None else ""
    try:
        hashes = _hashes(obj)
        category = _category(_field(obj, "Category"), scheme, category_zero)
    except ValueError as exc:
        return BadLine(ordinal, who + str(exc))
    if not hashes:
        return BadLine(ordinal, who + "no usable hash (MD5, SHA1, SHA256 or PDQ)")
    return HashRecord(
        line=ordinal,
        md5=hashes.get("md5"),
        sha1=hashes.get("sha1"),
        sha256=hashes.get("sha256"),
        pdq=hashes.get("pdq"),
        category=category,
        series=_series(_field(obj, "Series")),
        labels=_labels(_field(obj, "Tags")),
        extra=obj,
        notes=notes,
    )


def _field(obj: Mapping[str, Any], name: str) -> Any:
    """Exact key first, then any spelling of it: exporters disagree on case (MD5 vs Md5)."""
    if name in obj:
        return obj[name]
    folded = name.casefold()
    for key, value in obj.items():
        if key.casefold() == folded:
            return value
    return None


def _hash_kind(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    return _HASH_KINDS.get(re.sub(r"[^A-Z0-9]", "", name.upper()))


def _hashes(obj: Mapping[str, Any]) -> dict[str, str]:
    """Every hash the record carries; two different values for one kind make it ambiguous."""
    found: dict[str, str] = {}

    def put(kind: str, raw: object, source: str) -> None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return
        if not isinstance(raw, str):
            raise ValueError(f"{source} is not a string ({_json_type(raw)})")
        try:
            value = normalise_hash(kind, raw)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        if found.setdefault(kind, value) != value:
            raise ValueError(f"{source} disagrees with another {_HASH_NAMES[kind]} in the record")

    put("md5", _field(obj, "MD5"), "MD5")
    put("sha1", _field(obj, "SHA1"), "SHA1")
    alternatives = _field(obj, "AlternativeHashes")
    if alternatives is None:
        return found
    if not isinstance(alternatives, list):
        raise ValueError("AlternativeHashes is not a list")
    for entry in alternatives:
        if not isinstance(entry, dict):
            raise ValueError("an AlternativeHashes entry is not an object")
        kind = _hash_kind(_field(entry, "HashName"))
        if kind is not None:
            put(kind, _field(entry, "HashValue"), f"AlternativeHashes {_HASH_NAMES[kind]}")
    return found


def _category(raw: object, scheme: Scheme, category_zero: str) -> str | None:
    code: int | None
    if raw is None:
        code = None
    elif isinstance(raw, bool):
        raise ValueError(f"Category {raw!r} is not a number")
    elif isinstance(raw, int):
        code = raw
    elif isinstance(raw, float) and raw.is_integer():
        code = int(raw)
    elif isinstance(raw, str) and not raw.strip():
        code = None
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        code = int(raw)
    else:
        raise ValueError(f"Category {str(raw)[:40]!r} is not a number")
    return scheme.from_vics(code, category_zero)


def _series(raw: object) -> str | None:
    if isinstance(raw, str):
        return raw.strip() or None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return None


def _labels(raw: object) -> tuple[str, ...]:
    """Tags come as a list, a list of objects, or one delimited string; a list already delimits,
    so its strings are kept whole (a tag may contain a comma)."""
    if isinstance(raw, str):
        return tuple(p.strip() for p in re.split(r"[;,]", raw) if p.strip())
    if not isinstance(raw, list):
        return ()
    labels: list[str] = []
    for item in raw:
        if isinstance(item, dict):
            item = next((v for k in _TAG_NAME_KEYS if (v := _field(item, k)) is not None), None)
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        if isinstance(item, str) and item.strip():
            labels.append(item.strip())
    return tuple(labels)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def parse_flag(value: object) -> bool | None:
    """VICS flags arrive as JSON booleans, "True"/"false" strings or 1/0; anything else is
    unknown rather than false, because "not said" must not read as "checked and not set"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        return {"true": True, "false": False, "1": True, "0": False}.get(value.strip().lower())
    return None


def parse_vics_date(value: object) -> datetime | None:
    """An aware UTC datetime from a .NET ``/Date(ms[+hhmm])/`` value or ISO 8601 text.

    In the .NET form the milliseconds are already UTC; the offset only records the writer's
    zone, so it is not applied. ISO text without an offset is taken as UTC.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _DOTNET_DATE.fullmatch(text)
    try:
        if match is not None:
            return _EPOCH + timedelta(milliseconds=int(match["ms"]))
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def media_counts(extra: Mapping[str, Any]) -> dict[str, int]:
    """Counts from the arrays themselves: a TotalMediaFiles-style field can disagree with them."""
    counts: dict[str, int] = {}
    for name in ("MediaFiles", "Exifs"):
        value = _field(extra, name)
        counts[name] = len(value) if isinstance(value, list) else 0
    return counts
