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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from veriscan.matching.exact import build_exact
from veriscan.matching.lists.records import (
    EXACT_KINDS,
    HASH_LENGTHS,
    BadLine,
    HashBlock,
    HashRecord,
    ListEvent,
)
from veriscan.matching.pdqindex import PdqIndex, bytes_to_words

BATCH = 5000
ENTRIES_DB = "entries.sqlite"
NOTES = "field-notes.tsv"
"""Entries imported with a field changed on the way in (a number beyond 64 bits kept as text)."""
_INSERT_ENTRIES = (
    "INSERT INTO entries (id, line, md5, sha1, sha256, pdq, pdq_quality, category, series,"
    " labels, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


@dataclass
class ImportCounts:
    records: int = 0
    bad_lines: int = 0
    hashes: Counter[str] = field(default_factory=Counter)
    pdq_low_quality: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    videos: int = 0
    video_frames: int = 0
    first_bad: list[tuple[int, str]] = field(default_factory=list)
    field_notes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "bad_lines": self.bad_lines,
            "hashes": dict(self.hashes),
            "pdq_low_quality": self.pdq_low_quality,
            "categories": dict(self.categories),
            "videos": self.videos,
            "video_frames": self.video_frames,
            "field_notes": self.field_notes,
        }


class _Spool:
    """Raw digests and their entry ids for one hash kind, appended to two flat files."""

    def __init__(self, directory: Path, kind: str) -> None:
        self.path = directory / f"{kind}.spool"
        self.ids_path = directory / f"{kind}.ids"
        self._data: BinaryIO = self.path.open("wb")
        self._ids: BinaryIO = self.ids_path.open("wb")
        self._buf = bytearray()
        self._id_buf: list[int] = []

    def add(self, digest: bytes, entry: int) -> None:
        self._buf += digest
        self._id_buf.append(entry)
        if len(self._id_buf) >= 65536:
            self.flush()

    def add_block(self, digests: np.ndarray[Any, np.dtype[np.uint8]], first_entry: int) -> None:
        self.flush()
        self._data.write(np.ascontiguousarray(digests).tobytes())
        ids = np.arange(first_entry, first_entry + len(digests), dtype=np.uint32)
        self._ids.write(ids.tobytes())

    def flush(self) -> None:
        self._data.write(self._buf)
        self._ids.write(np.asarray(self._id_buf, dtype=np.uint32).tobytes())
        self._buf.clear()
        self._id_buf.clear()

    def finish(
        self, width: int
    ) -> tuple[np.ndarray[Any, np.dtype[np.uint8]], np.ndarray[Any, np.dtype[np.uint32]]]:
        self.flush()
        self._data.close()
        self._ids.close()
        digests = np.fromfile(self.path, dtype=np.uint8).reshape(-1, width)
        ids = np.fromfile(self.ids_path, dtype=np.uint32)
        self.path.unlink()
        self.ids_path.unlink()
        return digests, ids


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
) -> ImportCounts:
    """Consume a reader into ``directory`` (new, empty); returns what was read."""
    counts = ImportCounts()
    spools = {kind: _Spool(directory, kind) for kind in (*EXACT_KINDS, "pdq")}
    db = _entries_db(directory)
    rows: list[tuple[Any, ...]] = []
    videos: list[tuple[int, list[tuple[int, str]]]] = []
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
                n = len(event.digests)
                spools[event.kind].add_block(event.digests, counts.records)
                counts.records += n
                counts.hashes[event.kind] += n
                continue
            entry = counts.records
            counts.records += 1
            for note in event.notes:
                counts.field_notes += 1
                notes.write(f"{event.line}\t{' '.join(note.split())}\n")
            for kind, value in event.hashes():
                if (
                    kind == "pdq"
                    and event.pdq_quality is not None
                    and event.pdq_quality < min_quality
                ):
                    counts.pdq_low_quality += 1
                    continue
                spools[kind].add(bytes.fromhex(value), entry)
                counts.hashes[kind] += 1
            frames = event.extra.get("frames") if event.extra else None
            if isinstance(frames, list):
                videos.append((entry, [(int(row[0]), str(row[1])) for row in frames]))
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
    for kind in EXACT_KINDS:
        digests, ids = spools[kind].finish(HASH_LENGTHS[kind] // 2)
        if len(ids):
            build_exact(directory, kind, digests, ids)
    digests, ids = spools["pdq"].finish(32)
    PdqIndex.build(bytes_to_words(digests)).save(directory / "pdq")
    np.save(directory / "pdq" / "entry.npy", ids)
    if videos:
        _write_videos(directory, videos, min_quality, counts)
    return counts


def _write_videos(
    directory: Path,
    videos: list[tuple[int, list[tuple[int, str]]]],
    min_quality: int,
    counts: ImportCounts,
) -> None:
    """Unique, quality-filtered frame hashes of each video entry, with the entry each belongs to."""
    hashes: list[bytes] = []
    owners: list[int] = []
    for entry, frames in videos:
        counts.videos += 1
        unique = sorted({h for q, h in frames if q >= min_quality})
        counts.video_frames += len(unique)
        hashes += [bytes.fromhex(h) for h in unique]
        owners += [entry] * len(unique)
    packed = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
    target = directory / "vpdq"
    PdqIndex.build(bytes_to_words(packed)).save(target)
    np.save(target / "entry.npy", np.asarray(owners, dtype=np.uint32))
