"""vPDQ video hashes: candidates from a frame index, then the share of matched frames both ways.

Both sides are first brought to the coarser of their two sampling grids (a list hashed at every
frame against a scan at one frame a second). The distance reported is the percentage of unique
frames left unmatched on the weaker side: 0 means every frame has a counterpart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from veriscan.matching.counts import ImportCounts
from veriscan.matching.hits import CaseHashes, Hit
from veriscan.matching.lists.records import HashRecord
from veriscan.matching.signals.base import (
    DistanceSignalType,
    Example,
    IndexBuilder,
    ListView,
    SignalIndex,
)
from veriscan.matching.signals.pdq import PdqEntryIndex, flip, save_index
from veriscan.matching.vpdq import (
    VideoFrame,
    frames_from_json,
    is_match,
    match_videos,
    resample,
    sampling_interval,
)


@dataclass(frozen=True)
class VideoHashes:
    frames: list[VideoFrame]
    interval: float


def entry_frames(extra: object) -> list[VideoFrame]:
    """A list entry's frames, stored as ``[quality, hash, timestamp]`` rows in its extra."""
    rows = extra.get("frames") if isinstance(extra, dict) else None
    if not isinstance(rows, list):
        return []
    return [VideoFrame(i, int(r[0]), str(r[1]), float(r[2])) for i, r in enumerate(rows)]


class _VpdqBuilder(IndexBuilder):
    def __init__(self, directory: Path, min_quality: int, counts: ImportCounts) -> None:
        self.directory, self.min_quality, self.counts = directory, min_quality, counts
        self.hashes: list[bytes] = []
        self.owners: list[int] = []
        self.videos = 0

    def add(self, entry: int, record: HashRecord) -> None:
        frames = record.extra.get("frames") if record.extra else None
        if not isinstance(frames, list):
            return
        self.videos += 1
        self.counts.videos += 1
        unique = sorted({str(row[1]) for row in frames if int(row[0]) >= self.min_quality})
        self.counts.video_frames += len(unique)
        self.hashes += [bytes.fromhex(h) for h in unique]
        self.owners += [entry] * len(unique)

    def finish(self) -> None:
        if not self.videos:
            return
        packed = np.frombuffer(b"".join(self.hashes), dtype=np.uint8).reshape(-1, 32)
        save_index(self.directory / "vpdq", packed, np.asarray(self.owners, dtype=np.uint32))


class VpdqSignal(DistanceSignalType[VideoHashes]):
    id = "vpdq"
    version = "1"
    findings_key = "vpdq"
    findings_mime = "video/"

    def case_value(self, content: CaseHashes) -> VideoHashes | None:
        if content.frames:
            return VideoHashes(content.frames, content.interval)
        stored = content.findings.get("vpdq")
        if not isinstance(stored, dict) or not stored.get("frames"):
            return None
        interval = float(stored.get("interval_ms") or 0) / 1000
        return VideoHashes(frames_from_json(stored["frames"]), interval)

    def list_value(self, record: HashRecord) -> VideoHashes | None:
        frames = entry_frames(dict(record.extra))
        return VideoHashes(frames, sampling_interval(frames)) if frames else None

    def builder(self, directory: Path, min_quality: int, counts: ImportCounts) -> IndexBuilder:
        return _VpdqBuilder(directory, min_quality, counts)

    def load(self, folder: Path) -> SignalIndex:
        return PdqEntryIndex.load(folder / "vpdq")

    def match(self, hash_list: ListView, values: Sequence[VideoHashes | None]) -> Iterator[Hit]:
        threshold, quality = hash_list.pdq_threshold, hash_list.min_quality
        index = hash_list.index(self.id)
        if not len(index):
            return
        for position, video in enumerate(values):
            frames = [f for f in (video.frames if video else []) if f.quality >= quality]
            unique = list(dict.fromkeys(f.hash for f in frames))
            if not video or not unique:
                continue
            _, entries, _ = index.query(unique, threshold)
            for entry in sorted(set(entries.tolist())):
                target = entry_frames(hash_list.entry(entry).extra)
                grid = max(video.interval, sampling_interval(target))
                shares = match_videos(
                    resample(frames, grid), resample(target, grid), threshold, quality
                )
                if is_match(shares):
                    weaker = min(shares.query_share, shares.target_share)
                    yield Hit(position, self.id, int(entry), round(100 * (1 - weaker)))

    def example(self, rnd: random.Random) -> Example:
        frames = [VideoFrame(k, 90, f"{rnd.getrandbits(256):064x}", float(k)) for k in range(6)]
        content = CaseHashes(f"{rnd.getrandbits(256):064x}", "0" * 32, "0" * 40, None, None)
        content = replace(content, frames=frames, interval=1.0)
        rows = [[f.quality, f.hash, f.timestamp] for f in frames]
        return Example(content, HashRecord(line=1, extra={"frames": rows}))

    def nudged(self, content: CaseHashes, distance: int) -> CaseHashes:
        frames = [replace(f, hash=flip(f.hash, distance)) for f in content.frames or []]
        return replace(content, frames=frames)
