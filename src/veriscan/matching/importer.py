"""Streaming list import: records go to flat files as they are read, then sorted and indexed.

No stage keeps a Python object per entry: digests are appended as raw bytes and become numpy
arrays only when the reader is done; entries that carry more than hashes (a category, a series,
VICS fields) go to a small SQLite table in batches; bad lines go to ``bad-lines.tsv`` with their
numbers, so an import report can show them and nothing is dropped silently, and an entry kept with
a field changed (a number too wide for 64 bits, kept as text) is listed in ``field-notes.tsv``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from veriscan.matching.counts import ImportCounts
from veriscan.matching.lists.records import BadLine, HashBlock, HashRecord, ListEvent
from veriscan.matching.signals.base import SignalType

__all__ = ["ImportCounts", "write_list"]

BATCH = 5000
ENTRIES_DB = "entries.sqlite"
NOTES = "field-notes.tsv"
"""Entries imported with a field changed on the way in (a number beyond 64 bits kept as text)."""
_INSERT_ENTRIES = (
    "INSERT INTO entries (id, line, md5, sha1, sha256, pdq, pdq_quality, category, series,"
    " labels, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


def _entries_db(directory: Path) -> sqlite3.Connection:
    db = sqlite3.connect(directory / ENTRIES_DB)
    db.execute(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, line INTEGER NOT NULL, md5 TEXT, sha1 TEXT,"
        " sha256 TEXT, pdq TEXT, pdq_quality INTEGER, category TEXT, series TEXT,"
        " labels TEXT NOT NULL, extra TEXT NOT NULL)"
    )
    return db


def _row(entry: int, rec: HashRecord) -> tuple[Any, ...]:
    return (
        entry,
        rec.line,
        rec.md5,
        rec.sha1,
        rec.sha256,
        rec.pdq,
        rec.pdq_quality,
        rec.category,
        rec.series,
        json.dumps(list(rec.labels)),
        json.dumps(dict(rec.extra), default=str, sort_keys=True),
    )


def _plain(rec: HashRecord) -> bool:
    """An entry with nothing but hashes needs no row: its id and the list's defaults say it all."""
    return rec.category is None and rec.series is None and not rec.labels and not rec.extra


def write_list(
    directory: Path,
    events: Iterable[ListEvent],
    min_quality: int,
    signals: Sequence[SignalType[Any]],
) -> ImportCounts:
    """Consume a reader into ``directory`` (new, empty); each signal type builds its own index
    from the entries; returns what was read."""
    counts = ImportCounts()
    builders = [s.builder(directory, min_quality, counts) for s in signals]
    db = _entries_db(directory)
    rows: list[tuple[Any, ...]] = []
    with (
        (directory / "bad-lines.tsv").open("w", encoding="utf-8") as bad,
        (directory / NOTES).open("w", encoding="utf-8") as notes,
    ):
        bad.write("line\treason\n")
        notes.write("line\tnote\n")
        for event in events:
            if isinstance(event, BadLine):
                counts.bad_lines += 1
                reason = " ".join(event.reason.split())
                bad.write(f"{event.line}\t{reason}\n")
                if len(counts.first_bad) < 20:
                    counts.first_bad.append((event.line, reason))
                continue
            if isinstance(event, HashBlock):
                for builder in builders:
                    builder.add_block(event, counts.records)
                counts.records += len(event.digests)
                continue
            entry = counts.records
            counts.records += 1
            for note in event.notes:
                counts.field_notes += 1
                notes.write(f"{event.line}\t{' '.join(note.split())}\n")
            for builder in builders:
                builder.add(entry, event)
            if event.category is not None:
                counts.categories[event.category] += 1
            if not _plain(event):
                rows.append(_row(entry, event))
                if len(rows) >= BATCH:
                    db.executemany(_INSERT_ENTRIES, rows)
                    rows.clear()
    db.executemany(_INSERT_ENTRIES, rows)
    db.commit()
    db.close()
    for builder in builders:
        builder.finish()
    return counts
