"""The matching contracts: a HashList holds known hashes; signal types find case contents in one.

Hashing (analyzers) is kept apart from matching, as in python-threatexchange: a case hashed once
is matched again whenever a new list arrives, from the stored hashes, without re-reading evidence.
A list is a map from signal type id to that type's index; each signal type
(:mod:`veriscan.matching.signals`, entry-point group ``veriscan.signal_types``) owns its values,
its index and how it matches. :class:`Matcher` (group ``veriscan.matchers``) is the older, coarser
plugin contract, kept for compatibility: the built-in matchers delegate to signal types.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import ClassVar

from veriscan.matching.hits import CaseHashes, Entry, Hit
from veriscan.matching.pdqindex import SearchResult, Words, words_to_hex
from veriscan.matching.signals.base import SignalIndex

__all__ = ["CaseHashes", "Entry", "HashList", "Hit", "Matcher"]


class HashList(ABC):
    """A named, imported list: its entries and one index per signal type it holds."""

    name: str
    known_good: bool
    pdq_threshold: int
    min_quality: int

    @abstractmethod
    def kinds(self) -> frozenset[str]:
        """Signal type ids with at least one entry (md5, sha1, sha256, pdq, vpdq...)."""

    @abstractmethod
    def entry(self, entry: int) -> Entry: ...

    @abstractmethod
    def index(self, signal: str) -> SignalIndex:
        """The list's index of one signal type (empty when the list holds none)."""

    def exact_lookup(self, kind: str, values: Sequence[str]) -> list[tuple[int, int]]:
        """(position in ``values``, entry id) for every value on the list."""
        q, entries, _ = self.index(kind).query(values, 0)
        return list(zip(q.tolist(), entries.tolist(), strict=True))

    def pdq_search(self, queries: Words) -> SearchResult:
        """(query row, entry id, distance) within the list's threshold."""
        return self.index("pdq").query(words_to_hex(queries), self.pdq_threshold)

    def video_candidates(self, frames: Words) -> dict[int, set[int]]:
        """Video entry id -> rows of ``frames`` close to one of that video's frames."""
        q, entries, _ = self.index("vpdq").query(words_to_hex(frames), self.pdq_threshold)
        out: dict[int, set[int]] = {}
        for qi, entry in zip(q.tolist(), entries.tolist(), strict=True):
            out.setdefault(int(entry), set()).add(int(qi))
        return out


class Matcher(ABC):
    id: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[str]]

    @abstractmethod
    def match(self, hash_list: HashList, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        """Every content of ``contents`` the list holds, by this matcher's hash kinds."""
