"""The evidence-source contract.

A source enumerates items lazily (memory must not grow with the number of files) and opens any item
it yielded as a read-only binary stream. Sources are rebuilt inside worker processes from a
picklable :class:`SourceSpec`, so they must hold no open handles at construction time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from veriscan.domain import JSON, Item, Locator
from veriscan.settings import Settings


class SourceError(Exception):
    """The evidence as a whole cannot be read (missing path, wrong type)."""


@dataclass(frozen=True)
class SourceSpec:
    source_id: str
    path: str


class EvidenceSource(ABC):
    id: ClassVar[str]

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings

    @classmethod
    @abstractmethod
    def accepts(cls, path: Path) -> bool:
        """Whether this source type can read ``path``; used to pick a source automatically."""

    @property
    def spec(self) -> SourceSpec:
        return SourceSpec(self.id, str(self.path))

    @abstractmethod
    def items(self) -> Iterator[Item]:
        """Top-level items in a stable (sorted) order; archive members are expanded later."""

    @abstractmethod
    def open(self, locator: Locator) -> BinaryIO:
        """A read-only stream of the top-level item at ``locator``."""

    def open_item(self, item: Item) -> BinaryIO:
        """Open an item this source yielded; sources that address items by more than a path
        (a disk image's inode) override this, because a path may not find a deleted file."""
        return self.open(item.locator)

    def census(self) -> Iterator[Item]:
        """Items for the progress estimate; a source whose listing is costly may list less."""
        return self.items()

    def describe(self) -> dict[str, JSON] | None:
        """Facts about the evidence container itself (an image's format and volumes), if any."""
        return None

    def acquisition(self) -> tuple[str | None, str] | None:
        """The evidence's own acquisition hash and how it was obtained, when the source knows
        it better than a manifest of its files would (an image's stored media hash)."""
        return None
