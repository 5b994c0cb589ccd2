"""The exporter contract: read a case, write one artifact (a file or a stream)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TextIO

from veriscan.store.case import Case


class Exporter(ABC):
    id: ClassVar[str]
    suffix: ClassVar[str]

    @abstractmethod
    def write(
        self,
        case: Case,
        out: TextIO,
        *,
        thumbnails: bool = False,
        prompts: bool = False,
        known_good: bool = True,
    ) -> int:
        """Write the export; returns how many records it holds. Prompts only when asked for.

        ``known_good=False`` leaves out contents found on an allow-list (NSRL and the like),
        which review surfaces hide by default.
        """
