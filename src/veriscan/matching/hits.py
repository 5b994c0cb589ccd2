"""What matching works on and produces: a content's stored hashes, a list entry, a hit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veriscan.matching.vpdq import VideoFrame


@dataclass
class CaseHashes:
    """One content's stored hashes, what every signal type reads its value from.

    ``findings`` holds only the stored findings a registered signal type asked for (its
    ``findings_key``), so a signal type that reads an analyzer's output needs no column here.
    """

    sha256: str
    md5: str
    sha1: str
    pdq: str | None = None
    pdq_quality: int | None = None
    frames: list[VideoFrame] | None = None
    interval: float = 0.0
    findings: dict[str, Any] = field(default_factory=dict)


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
