"""What every list reader yields: one normalised record per entry, or a bad line.

Readers are generators so a 10M-line list is imported in constant memory; bad input is yielded as a
:class:`BadLine` with its line (or record) number, never skipped silently, so an import report can
say exactly what was refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

HASH_LENGTHS: dict[str, int] = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
EXACT_KINDS = ("md5", "sha1", "sha256")
_HEX = re.compile(r"[0-9a-f]+")


class ListFormatError(ValueError):
    """The file as a whole cannot be read in the format asked for (not a per-line problem)."""


@dataclass(frozen=True)
class HashRecord:
    """One list entry. Hashes are lowercase hex; ``category`` is a scheme key, None = uncategorised.

    ``extra`` keeps what the source said that has no column of its own (a VICS media record's
    unknown keys, PhotoDNA, MediaFiles...) so an export can give it back unchanged.
    """

    line: int
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    category: str | None = None
    series: str | None = None
    labels: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """What was changed on the way in (a number too large for 64 bits kept as text)."""

    def hashes(self) -> Iterator[tuple[str, str]]:
        for kind in (*EXACT_KINDS, "pdq"):
            value = getattr(self, kind)
            if value is not None:
                yield kind, value


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


@dataclass(frozen=True)
class HashBlock:
    """Consecutive plain entries of one kind (lines ``first_line`` onwards, none skipped).

    Plain lists are the ones that reach tens of millions of lines; reading them a block at a
    time as one byte array keeps a 10M-line import from building 10M record objects.
    """

    kind: str
    digests: NDArray[np.uint8]
    first_line: int


ListEvent = HashRecord | BadLine | HashBlock


def normalise_hash(kind: str, raw: str) -> str:
    """Lowercase hex of the right length for ``kind``; raises ValueError with a readable reason."""
    value = raw.strip().lower()
    want = HASH_LENGTHS[kind]
    if len(value) != want:
        raise ValueError(f"{kind} must be {want} hex digits, got {len(value)}")
    if not _HEX.fullmatch(value):
        raise ValueError(f"{kind} is not hexadecimal: {raw.strip()[:80]!r}")
    return value
