"""One imported list, opened for lookups: memory-mapped arrays and the entries table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from veriscan.matching.base import Entry, HashList
from veriscan.matching.exact import ExactTable
from veriscan.matching.library import Library, ListMeta
from veriscan.matching.lists.records import EXACT_KINDS, HashRecord
from veriscan.matching.pdqindex import PdqIndex, SearchResult, Words


class StoredList(HashList):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = ListMeta.load(folder)
        self.name = self.meta.name
        self.known_good = self.meta.known_good
        self.pdq_threshold = self.meta.pdq_threshold
        self.min_quality = self.meta.min_quality
        self._exact: dict[str, ExactTable] = {}
        self._indexes: dict[str, tuple[PdqIndex, NDArray[np.uint32]]] = {}
        uri = (folder / "entries.sqlite").resolve().as_uri() + "?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)

    @classmethod
    def open(cls, library: Library, name: str) -> StoredList:
        return cls(library.folder(name))

    def kinds(self) -> frozenset[str]:
        held = {k for k, n in self.meta.counts.get("hashes", {}).items() if n}
        return frozenset(held | ({"vpdq"} if self.has_videos() else set()))

    def exact_lookup(self, kind: str, values: Sequence[str]) -> list[tuple[int, int]]:
        return self.exact(kind).lookup(values)

    def close(self) -> None:
        self._db.close()

    def exact(self, kind: str) -> ExactTable:
        if kind not in self._exact:
            self._exact[kind] = ExactTable(self.folder, kind)
        return self._exact[kind]

    def _index(self, sub: str) -> tuple[PdqIndex, NDArray[np.uint32]]:
        """The PDQ index in ``sub`` ("pdq" or "vpdq") and its entry ids, mapped once per list."""
        if sub not in self._indexes:
            folder = self.folder / sub
            self._indexes[sub] = (
                PdqIndex.load(folder),
                np.load(folder / "entry.npy", mmap_mode="r"),
            )
        return self._indexes[sub]

    def pdq_search(self, queries: Words) -> SearchResult:
        """(query row, entry id, distance) within the list's threshold."""
        index, owner = self._index("pdq")
        q, pos, dist = index.search(queries, self.meta.pdq_threshold)
        return q, owner[pos].astype(np.int64), dist

    def has_videos(self) -> bool:
        return (self.folder / "vpdq" / "entry.npy").is_file()

    def video_candidates(self, frames: Words) -> dict[int, set[int]]:
        """Entry id -> query frame rows within the threshold of one of that video's frames."""
        if not self.has_videos() or len(frames) == 0:
            return {}
        index, owner = self._index("vpdq")
        q, pos, _ = index.search(frames, self.meta.pdq_threshold)
        out: dict[int, set[int]] = {}
        for qi, p in zip(q.tolist(), pos.tolist(), strict=True):
            out.setdefault(int(owner[p]), set()).add(qi)
        return out

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
