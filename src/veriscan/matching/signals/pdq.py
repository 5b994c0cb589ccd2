"""PDQ image hashes: matched within the list's Hamming distance, above its quality floor."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from veriscan.matching.counts import ImportCounts
from veriscan.matching.hits import CaseHashes, Hit
from veriscan.matching.lists.records import HashRecord
from veriscan.matching.pdqindex import PdqIndex, SearchResult, bytes_to_words, hex_to_words
from veriscan.matching.signals.base import (
    DistanceSignalType,
    EmptyIndex,
    Example,
    IndexBuilder,
    ListView,
    SignalIndex,
    no_hits,
)
from veriscan.matching.spool import Spool


@dataclass(frozen=True)
class PdqValue:
    hash: str
    quality: int | None


class PdqEntryIndex(SignalIndex):
    """A multi-index over 256-bit hashes, each owned by a list entry (several per video)."""

    def __init__(self, index: PdqIndex, owner: NDArray[np.uint32]) -> None:
        self.index, self.owner = index, owner

    @classmethod
    def load(cls, folder: Path) -> SignalIndex:
        if not (folder / "entry.npy").is_file():
            return EmptyIndex()
        return cls(PdqIndex.load(folder), np.load(folder / "entry.npy", mmap_mode="r"))

    def __len__(self) -> int:
        return len(self.index)

    def query(self, values: Sequence[str], threshold: int) -> SearchResult:
        if not values:
            return no_hits()
        q, pos, dist = self.index.search(hex_to_words(list(values)), threshold)
        return q, self.owner[pos].astype(np.int64), dist


def save_index(folder: Path, packed: NDArray[np.uint8], owners: NDArray[np.uint32]) -> None:
    PdqIndex.build(bytes_to_words(packed)).save(folder)
    np.save(folder / "entry.npy", owners)


class _PdqBuilder(IndexBuilder):
    def __init__(self, directory: Path, min_quality: int, counts: ImportCounts) -> None:
        self.directory, self.min_quality, self.counts = directory, min_quality, counts
        self.spool = Spool(directory, "pdq")

    def add(self, entry: int, record: HashRecord) -> None:
        if record.pdq is None:
            return
        if record.pdq_quality is not None and record.pdq_quality < self.min_quality:
            self.counts.pdq_low_quality += 1
            return
        self.spool.add(bytes.fromhex(record.pdq), entry)
        self.counts.hashes["pdq"] += 1

    def finish(self) -> None:
        digests, ids = self.spool.finish(32)
        save_index(self.directory / "pdq", digests, ids)


def flip(value: str, bits: int) -> str:
    """``value`` (hex) with its first ``bits`` bits inverted: exactly ``bits`` away."""
    number = int(value, 16) ^ (((1 << bits) - 1) << (len(value) * 4 - bits))
    return f"{number:0{len(value)}x}"


class PdqSignal(DistanceSignalType[PdqValue]):
    """Images below the list's quality floor are not compared: their hashes match too easily."""

    id = "pdq"
    version = "1"

    def case_value(self, content: CaseHashes) -> PdqValue | None:
        return PdqValue(content.pdq, content.pdq_quality) if content.pdq else None

    def list_value(self, record: HashRecord) -> PdqValue | None:
        return PdqValue(record.pdq, record.pdq_quality) if record.pdq else None

    def builder(self, directory: Path, min_quality: int, counts: ImportCounts) -> IndexBuilder:
        return _PdqBuilder(directory, min_quality, counts)

    def load(self, folder: Path) -> SignalIndex:
        return PdqEntryIndex.load(folder / "pdq")

    def _usable(self, hash_list: ListView, value: PdqValue | None) -> bool:
        return value is not None and (value.quality or 0) >= hash_list.min_quality

    def match(self, hash_list: ListView, values: Sequence[PdqValue | None]) -> Iterator[Hit]:
        usable = [i for i, v in enumerate(values) if self._usable(hash_list, v)]
        if not usable:
            return
        hashes = [v.hash for v in (values[i] for i in usable) if v is not None]
        q, entries, dist = hash_list.index(self.id).query(hashes, hash_list.pdq_threshold)
        for qi, entry, d in zip(q.tolist(), entries.tolist(), dist.tolist(), strict=True):
            yield Hit(usable[qi], self.id, int(entry), int(d))

    def unusable(self, hash_list: ListView, values: Sequence[PdqValue | None]) -> int:
        return sum(1 for v in values if v is not None and not self._usable(hash_list, v))

    def example(self, rnd: random.Random) -> Example:
        value = f"{rnd.getrandbits(256):064x}"
        content = CaseHashes(f"{rnd.getrandbits(256):064x}", "0" * 32, "0" * 40, value, 90)
        return Example(content, HashRecord(line=1, pdq=value, pdq_quality=90))

    def nudged(self, content: CaseHashes, distance: int) -> CaseHashes:
        return replace(content, pdq=flip(content.pdq or "0" * 64, distance))
