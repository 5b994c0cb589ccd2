"""The analyzer contracts.

Every file is read once. Streaming analyzers see each chunk as it is read (hashes). Whole-content
analyzers (image decoding, PDQ) ask, from the first chunk, whether they want the file; if any does,
the bytes are buffered during that same read and handed over in a :class:`FileContext`, whose
decoded-image cache lets several analyzers share one decode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from veriscan.model import Fact
from veriscan.settings import Settings


class StreamState(ABC):
    @abstractmethod
    def update(self, chunk: bytes) -> None: ...

    @abstractmethod
    def finish(self) -> list[Fact]: ...


class StreamingAnalyzer(ABC):
    id: ClassVar[str]
    version: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def begin(self, name: str) -> StreamState:
        """A fresh state for one file called ``name`` (the last locator segment)."""


@dataclass
class FileContext:
    name: str
    data: bytes
    mime: str
    settings: Settings
    cache: dict[str, Any] = field(default_factory=dict)


class Analyzer(ABC):
    id: ClassVar[str]
    version: ClassVar[str]
    order: ClassVar[int] = 50
    """Whole-content analyzers run by (order, id): an analyzer that reads another's result from
    ``FileContext.cache`` (provenance reads the detector's) needs a higher order than it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def prepare(cls, settings: Settings) -> str | None:
        """Once per run, before any file is read: the version the run record stores, or None when
        the analyzer has nothing to run with (it is then left out of the run and its record).

        Raises SettingsError for a setting the examiner chose that cannot work, so a scan stops at
        once with one line instead of recording the same problem on every file.
        """
        return cls.version

    @abstractmethod
    def wants(self, mime: str) -> bool:
        """Decided from the content-sniffed MIME type before the bytes are buffered."""

    @abstractmethod
    def analyze(self, ctx: FileContext) -> list[Fact]:
        """Facts about the content; failures are returned as Problem facts, not raised."""
