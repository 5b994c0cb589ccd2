"""Where archive expansion has always been imported from; it lives in :mod:`.archives` now.

Kept so existing imports (the pipeline's, a plugin's) go on working: the contract is in
:mod:`veriscan.sources.archives.base`, the walk in :mod:`veriscan.sources.archives.expand`, one
module per format beside them.
"""

from __future__ import annotations

from veriscan.sources.archives.base import (
    CHUNK,
    MAX_READ,
    ArchiveError,
    ArchiveFormat,
    DamagedArchiveError,
    Entry,
    ExpansionBudget,
    Forward,
    LimitExceeded,
    Member,
    Meter,
    reading,
    translated,
)
from veriscan.sources.archives.expand import ARCHIVE_MIMES, is_archive, iter_members

__all__ = [
    "ARCHIVE_MIMES",
    "CHUNK",
    "MAX_READ",
    "ArchiveError",
    "ArchiveFormat",
    "DamagedArchiveError",
    "Entry",
    "ExpansionBudget",
    "Forward",
    "LimitExceeded",
    "Member",
    "Meter",
    "is_archive",
    "iter_members",
    "reading",
    "translated",
]
