"""The matching contracts: a HashList holds known hashes; a Matcher looks contents up in lists.

Hashing (analyzers) is kept apart from matching, as in python-threatexchange: a case hashed once
can be matched again whenever a new list arrives, without re-reading evidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from veriscan.model import Match


@dataclass(frozen=True)
class ListEntry:
    kind: str
    value: str
    category: str | None = None


class HashList(ABC):
    """A named collection of known hashes of one or more kinds (md5, sha1, sha256, pdq)."""

    name: str

    @abstractmethod
    def kinds(self) -> frozenset[str]: ...

    @abstractmethod
    def entries(self) -> Iterator[ListEntry]: ...


class Matcher(ABC):
    """Looks up one hash kind; perceptual matchers report a distance, exact ones report 0."""

    kind: ClassVar[str]

    @abstractmethod
    def add(self, hash_list: HashList) -> int:
        """Index a list's entries of this matcher's kind; returns how many were indexed."""

    @abstractmethod
    def lookup(self, sha256: str, value: str) -> Iterable[Match]: ...
