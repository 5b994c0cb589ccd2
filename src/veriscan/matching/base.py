"""The matching contracts: a HashList holds known hashes; a Matcher finds case contents in one.

Hashing (analyzers) is kept apart from matching, as in python-threatexchange: a case hashed once
is matched again whenever a new list arrives, from the stored hashes, without re-reading evidence.
Matchers are plugins (entry-point group ``veriscan.matchers``) like sources and analyzers, so a
lab can add a hash type without touching the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from veriscan.matching.pdqindex import SearchResult, Words
from veriscan.matching.vpdq import VideoFrame


@dataclass
class CaseHashes:
    """One content's stored hashes, what every matcher works from."""

    sha256: str
    md5: str
    sha1: str
    pdq: str | None = None
    pdq_quality: int | None = None
    frames: list[VideoFrame] | None = None
    interval: float = 0.0


@dataclass(frozen=True)
class Entry:
    """A list entry: its number in the list and what the list says about it."""

    id: int
    line: int | None = None
    category: str | None = None
    series: str | None = None
    labels: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """Content ``index`` (into the matcher's input) found as ``entry`` by ``kind``."""

    index: int
    kind: str
    entry: int
    distance: int = 0


class HashList(ABC):
    """A named, imported list; lookups are by hash kind so each matcher asks for what it needs."""

    name: str
    known_good: bool
    pdq_threshold: int
    min_quality: int

    @abstractmethod
    def kinds(self) -> frozenset[str]:
        """Hash kinds with at least one entry (md5, sha1, sha256, pdq, vpdq)."""

    @abstractmethod
    def entry(self, entry: int) -> Entry: ...

    @abstractmethod
    def exact_lookup(self, kind: str, values: Sequence[str]) -> list[tuple[int, int]]:
        """(position in ``values``, entry id) for every value on the list."""

    @abstractmethod
    def pdq_search(self, queries: Words) -> SearchResult:
        """(query row, entry id, distance) within the list's threshold."""

    @abstractmethod
    def video_candidates(self, frames: Words) -> dict[int, set[int]]:
        """Video entry id -> rows of ``frames`` close to one of that video's frames."""


class Matcher(ABC):
    id: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[str]]

    @abstractmethod
    def match(self, hash_list: HashList, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        """Every content of ``contents`` the list holds, by this matcher's hash kinds."""
