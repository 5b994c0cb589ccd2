"""What an import read, counted as it goes; signal types' index builders add their own counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImportCounts:
    records: int = 0
    bad_lines: int = 0
    hashes: Counter[str] = field(default_factory=Counter)
    pdq_low_quality: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    videos: int = 0
    video_frames: int = 0
    first_bad: list[tuple[int, str]] = field(default_factory=list)
    field_notes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "bad_lines": self.bad_lines,
            "hashes": dict(self.hashes),
            "pdq_low_quality": self.pdq_low_quality,
            "categories": dict(self.categories),
            "videos": self.videos,
            "video_frames": self.video_frames,
            "field_notes": self.field_notes,
        }
