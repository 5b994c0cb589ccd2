"""Cryptographic digests (md5, sha1, sha256): equal or not, from sorted memory-mapped arrays."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from veriscan.matching.counts import ImportCounts
from veriscan.matching.exact import ExactTable, build_exact
from veriscan.matching.hits import CaseHashes, Hit
from veriscan.matching.lists.records import HASH_LENGTHS, HashBlock, HashRecord
from veriscan.matching.pdqindex import SearchResult
from veriscan.matching.signals.base import (
    EmptyIndex,
    Example,
    IndexBuilder,
    ListView,
    SignalIndex,
    SignalType,
    no_hits,
)
from veriscan.matching.spool import Spool


class ExactIndex(SignalIndex):
    def __init__(self, table: ExactTable) -> None:
        self.table = table

    def __len__(self) -> int:
        return len(self.table)

    def query(self, values: Sequence[str], threshold: int) -> SearchResult:
        hits = self.table.lookup(values)
        if not hits:
            return no_hits()
        q, e = zip(*hits, strict=True)
        return np.asarray(q, np.int64), np.asarray(e, np.int64), np.zeros(len(q), np.int32)


class _ExactBuilder(IndexBuilder):
    def __init__(self, directory: Path, kind: str, counts: ImportCounts) -> None:
        self.directory, self.kind, self.counts = directory, kind, counts
        self.spool = Spool(directory, kind)

    def add(self, entry: int, record: HashRecord) -> None:
        value = getattr(record, self.kind)
        if value is not None:
            self.spool.add(bytes.fromhex(value), entry)
            self.counts.hashes[self.kind] += 1

    def add_block(self, block: HashBlock, first_entry: int) -> None:
        if block.kind == self.kind:
            self.spool.add_block(block.digests, first_entry)
            self.counts.hashes[self.kind] += len(block.digests)

    def finish(self) -> None:
        digests, ids = self.spool.finish(HASH_LENGTHS[self.kind] // 2)
        if len(ids):
            build_exact(self.directory, self.kind, digests, ids)


class ExactSignal(SignalType[str]):
    """A digest column of the case's contents and of the list's entries, compared for equality."""

    version = "1"

    def case_value(self, content: CaseHashes) -> str | None:
        value = getattr(content, self.id, None)
        return value if isinstance(value, str) and value else None

    def list_value(self, record: HashRecord) -> str | None:
        value = getattr(record, self.id, None)
        return value if isinstance(value, str) else None

    def builder(self, directory: Path, min_quality: int, counts: ImportCounts) -> IndexBuilder:
        return _ExactBuilder(directory, self.id, counts)

    def load(self, folder: Path) -> SignalIndex:
        if not (folder / f"{self.id}-prefix.npy").is_file():
            return EmptyIndex()
        return ExactIndex(ExactTable(folder, self.id))

    def match(self, hash_list: ListView, values: Sequence[str | None]) -> Iterator[Hit]:
        usable = [i for i, v in enumerate(values) if v]
        if not usable:
            return
        q, entries, _ = hash_list.index(self.id).query([values[i] or "" for i in usable], 0)
        for qi, entry in zip(q.tolist(), entries.tolist(), strict=True):
            yield Hit(usable[qi], self.id, int(entry), 0)

    def example(self, rnd: random.Random) -> Example:
        values = {k: f"{rnd.getrandbits(n * 4):0{n}x}" for k, n in HASH_LENGTHS.items()}
        value = values[self.id]
        content = CaseHashes(values["sha256"], values["md5"], values["sha1"])
        fields: dict[str, Any] = {self.id: value}
        return Example(content, replace(HashRecord(line=1), **fields))


class Md5Signal(ExactSignal):
    id = "md5"


class Sha1Signal(ExactSignal):
    id = "sha1"


class Sha256Signal(ExactSignal):
    id = "sha256"
