"""The signal type contract: one kind of hash, from reading its value to matching it.

As python-threatexchange splits a SignalType (what the value is, how two compare) from its
SignalTypeIndex (how many are searched at once), a :class:`SignalType` here owns how its value is
read from a case content and from a list entry, how its index is built at import and loaded from a
list folder, and how a case's values are matched against a list (exactly, or within the list's
distance threshold). A list is a map from signal type id to :class:`SignalIndex`. Signal types are
plugins (entry-point group ``veriscan.signal_types``): a new hash type is one class, not an edit
of the importer, the stored list and the engine.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, Protocol, TypeVar

import numpy as np

from veriscan.matching.counts import ImportCounts
from veriscan.matching.hits import CaseHashes, Entry, Hit
from veriscan.matching.lists.records import HashBlock, HashRecord
from veriscan.matching.pdqindex import SearchResult

V = TypeVar("V")


def no_hits() -> SearchResult:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)


class SignalIndex(ABC):
    """One signal type's values of one list, searchable all at once."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def query(self, values: Sequence[str], threshold: int) -> SearchResult:
        """(position in ``values``, entry id, distance) for every listed value within
        ``threshold`` (exact signal types ignore it)."""


class EmptyIndex(SignalIndex):
    """A list with no value of a signal type."""

    def __len__(self) -> int:
        return 0

    def query(self, values: Sequence[str], threshold: int) -> SearchResult:
        return no_hits()


class BruteIndex(SignalIndex):
    """Every value against every listed one: the reference a real index must agree with, and
    enough for a small list. ``bits`` set compares 256-bit hex hashes by Hamming distance."""

    def __init__(self, values: Sequence[tuple[int, str]], bits: bool = False) -> None:
        self.values = list(values)
        self.bits = bits

    def __len__(self) -> int:
        return len(self.values)

    def query(self, values: Sequence[str], threshold: int) -> SearchResult:
        q: list[int] = []
        e: list[int] = []
        d: list[int] = []
        for qi, value in enumerate(values):
            for entry, listed in self.values:
                if self.bits:
                    dist = (int(value, 16) ^ int(listed, 16)).bit_count()
                    if dist > threshold:
                        continue
                elif value != listed:
                    continue
                else:
                    dist = 0
                q.append(qi)
                e.append(entry)
                d.append(dist)
        return np.asarray(q, np.int64), np.asarray(e, np.int64), np.asarray(d, np.int32)


class ListView(Protocol):
    """What a signal type needs of a list to match against it (a HashList has it all)."""

    name: str
    pdq_threshold: int
    min_quality: int

    def index(self, signal: str) -> SignalIndex: ...

    def entry(self, entry: int) -> Entry: ...


class IndexBuilder(ABC):
    """Collects one signal type's values during an import; ``finish`` writes the index."""

    @abstractmethod
    def add(self, entry: int, record: HashRecord) -> None: ...

    def add_block(self, block: HashBlock, first_entry: int) -> None:
        """Consecutive plain entries of one exact kind; ignored unless they are this type's."""
        return None

    @abstractmethod
    def finish(self) -> None:
        """Write the index into the list folder (nothing for a list without such values)."""


@dataclass(frozen=True)
class Example:
    """One value of a signal type, as a case content and as a list entry (for contract tests)."""

    content: CaseHashes
    record: HashRecord


class SignalType(ABC, Generic[V]):
    id: ClassVar[str]
    version: ClassVar[str]
    by_distance: ClassVar[bool] = False
    """True: matched within the list's threshold (``pdq_threshold``); False: equal values only."""
    findings_key: ClassVar[str | None] = None
    """A stored findings key this type reads (loaded for contents whose MIME type starts with
    ``findings_mime``); None when the content's hash columns are enough."""
    findings_mime: ClassVar[str] = ""

    @abstractmethod
    def case_value(self, content: CaseHashes) -> V | None:
        """This type's value of one case content, None when the content has none."""

    @abstractmethod
    def list_value(self, record: HashRecord) -> V | None:
        """This type's value of one list entry, None when the entry has none."""

    @abstractmethod
    def builder(self, directory: Path, min_quality: int, counts: ImportCounts) -> IndexBuilder:
        """A builder writing this type's index into a list folder being imported."""

    @abstractmethod
    def load(self, folder: Path) -> SignalIndex:
        """This type's index of an imported list (an :class:`EmptyIndex` when it holds none)."""

    @abstractmethod
    def match(self, hash_list: ListView, values: Sequence[V | None]) -> Iterator[Hit]:
        """Every value (by position) the list holds; ``Hit.kind`` is this type's id."""

    def unusable(self, hash_list: ListView, values: Sequence[V | None]) -> int:
        """How many values this type had but would not compare against the list (too low a
        quality): reported, never silently dropped."""
        return 0

    @abstractmethod
    def example(self, rnd: random.Random) -> Example:
        """A random value as a case content and as a list entry (contract tests use it)."""

    def match_contents(self, hash_list: ListView, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        yield from self.match(hash_list, [self.case_value(c) for c in contents])


class DistanceSignalType(SignalType[V]):
    """A type matched within the list's threshold rather than by equality (PDQ, vPDQ)."""

    by_distance: ClassVar[bool] = True

    @abstractmethod
    def nudged(self, content: CaseHashes, distance: int) -> CaseHashes:
        """``content`` with its value moved ``distance`` away: the contract tests check the
        threshold with it, so every distance type can say how far two of its values lie."""
