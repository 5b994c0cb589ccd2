"""Writing VICS 2.0 #Media files: one media object per record, streamed.

The record is authoritative for what veriscan keeps in columns; whatever else the source said
(`extra`) is written back as it came, so an export re-imports with every field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from veriscan.matching.lists.records import HashRecord
from veriscan.matching.lists.schemes import Scheme
from veriscan.matching.lists.vics import (
    _HASH_NAMES,
    CONTEXT_KEYS,
    ROOTS,
    SCHEME_SEGMENTS,
    _field,
    _hash_kind,
)


def context_url(scheme_segment: str, root: str = "Media") -> str:
    if scheme_segment not in SCHEME_SEGMENTS:
        raise ValueError(f"scheme segment must be one of {', '.join(SCHEME_SEGMENTS)}")
    if root not in ROOTS:
        raise ValueError(f"root must be one of {', '.join(ROOTS)}")
    return (
        f"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/{scheme_segment}/$metadata#{root}"
    )


def _put(out: dict[str, Any], name: str, value: Any, keep_none: bool = False) -> None:
    """Set ``name`` and drop other spellings of it, so a reader never sees two disagreeing keys;
    an existing exact key keeps its place in the record."""
    for key in [k for k in out if k != name and k.casefold() == name.casefold()]:
        del out[key]
    if value is None and not keep_none:
        out.pop(name, None)
    else:
        out[name] = value


def media_record(record: HashRecord, scheme: Scheme, media_id: int) -> dict[str, Any]:
    """A VICS 2.0 media object: the record's own fields over what the source said.

    The record is authoritative for the keys it has columns for, so a hash, series or tag list
    the record no longer has is removed instead of being written back stale.
    """
    wanted = {
        "md5": record.md5.upper() if record.md5 else None,
        "sha1": record.sha1.upper() if record.sha1 else None,
        "sha256": record.sha256.upper() if record.sha256 else None,
        "pdq": record.pdq,
    }
    out: dict[str, Any] = dict(record.extra)
    existing_id = _field(out, "MediaID")
    _put(out, "MediaID", existing_id if existing_id is not None else media_id)
    _put(out, "Category", scheme.to_vics(record.category), keep_none=True)
    _put(out, "MD5", wanted["md5"])
    _put(out, "SHA1", wanted["sha1"])
    _put(out, "Series", record.series)
    _put(out, "Tags", list(record.labels) if record.labels else None)
    old = _field(out, "AlternativeHashes")
    entries: list[Any] = []
    placed: set[str] = set()
    for entry in old if isinstance(old, list) else []:
        kind = _hash_kind(_field(entry, "HashName")) if isinstance(entry, dict) else None
        if kind is None:
            entries.append(entry)
            continue
        value = wanted[kind]
        if value is None or kind in placed:
            continue
        kept = {k: v for k, v in entry.items() if k.casefold() not in ("hashname", "hashvalue")}
        entries.append({"HashName": _HASH_NAMES[kind], "HashValue": value, **kept})
        placed.add(kind)
    for kind in ("sha256", "pdq"):
        value = wanted[kind]
        if value is not None and kind not in placed:
            entries.append({"HashName": _HASH_NAMES[kind], "HashValue": value})
    if entries or old is not None:
        _put(out, "AlternativeHashes", entries)
    return out


def write_vics(
    out: TextIO, records: Iterable[HashRecord], scheme: Scheme, scheme_segment: str = "US"
) -> int:
    """Stream a VICS 2.0 #Media file, one record at a time, and return how many were written.

    MediaIDs from the source are kept; records without one get their position in the output.
    """
    context = context_url(scheme_segment)
    out.write("{" + json.dumps(CONTEXT_KEYS[0]) + ": " + json.dumps(context) + ', "value": [')
    count = 0
    for count, record in enumerate(records, 1):
        out.write(("\n" if count == 1 else ",\n") + json.dumps(media_record(record, scheme, count)))
    out.write("\n]}\n")
    return count
