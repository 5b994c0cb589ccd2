"""One imported list, opened for lookups: one index per signal type and the entries table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from veriscan.matching.base import Entry, HashList
from veriscan.matching.exact import ExactTable
from veriscan.matching.library import Library, ListMeta
from veriscan.matching.lists.records import EXACT_KINDS, HashRecord
from veriscan.matching.registry import signal_types
from veriscan.matching.signals.base import EmptyIndex, SignalIndex, SignalType
from veriscan.matching.signals.exact import ExactIndex


class StoredList(HashList):
    """A list folder; each signal type's index is loaded (memory-mapped) on first use."""

    def __init__(self, folder: Path, signals: Sequence[SignalType[Any]] | None = None) -> None:
        self.folder = folder
        self.meta = ListMeta.load(folder)
        self.name = self.meta.name
        self.known_good = self.meta.known_good
        self.pdq_threshold = self.meta.pdq_threshold
        self.min_quality = self.meta.min_quality
        self.signals = {s.id: s for s in (signal_types() if signals is None else signals)}
        self._indexes: dict[str, SignalIndex] = {}
        uri = (folder / "entries.sqlite").resolve().as_uri() + "?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)

    @classmethod
    def open(
        cls, library: Library, name: str, signals: Sequence[SignalType[Any]] | None = None
    ) -> StoredList:
        return cls(library.folder(name), library.signals if signals is None else signals)

    def kinds(self) -> frozenset[str]:
        counted = {k for k, n in self.meta.counts.get("hashes", {}).items() if n}
        videos = {"vpdq"} if self.has_videos() else set()
        return frozenset((counted | videos) & set(self.signals))

    def index(self, signal: str) -> SignalIndex:
        if signal not in self._indexes:
            known = self.signals.get(signal)
            self._indexes[signal] = EmptyIndex() if known is None else known.load(self.folder)
        return self._indexes[signal]

    def close(self) -> None:
        self._db.close()

    def exact(self, kind: str) -> ExactTable:
        index = self.index(kind)
        return index.table if isinstance(index, ExactIndex) else ExactTable(self.folder, kind)

    def has_videos(self) -> bool:
        return (self.folder / "vpdq" / "entry.npy").is_file()

    def entry(self, entry: int) -> Entry:
        row = self._db.execute(
            "SELECT line, category, series, labels, extra, md5, sha1, sha256, pdq FROM entries"
            " WHERE id = ?",
            (entry,),
        ).fetchone()
        if row is None:
            return Entry(entry, None, None, None, (), {}, {})
        hashes = dict(zip((*EXACT_KINDS, "pdq"), row[5:9], strict=True))
        return Entry(
            entry,
            row[0],
            row[1],
            row[2],
            tuple(json.loads(row[3])),
            json.loads(row[4]),
            {k: v for k, v in hashes.items() if v},
        )

    def records(self) -> Iterator[HashRecord]:
        """Entries that carry more than hashes, as records (for show and re-export)."""
        cursor = self._db.execute(
            "SELECT line, md5, sha1, sha256, pdq, pdq_quality, category, series, labels, extra"
            " FROM entries ORDER BY id"
        )
        for row in cursor:
            yield HashRecord(
                line=row[0],
                md5=row[1],
                sha1=row[2],
                sha256=row[3],
                pdq=row[4],
                pdq_quality=row[5],
                category=row[6],
                series=row[7],
                labels=tuple(json.loads(row[8])),
                extra=json.loads(row[9]),
            )
