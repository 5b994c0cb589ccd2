"""Matching a case against lists, from stored hashes: evidence is never read again.

Each list's rows in the ``matches`` table are replaced as a whole, in one transaction, so matching
again (after a resume, a new evidence item, a list update) converges on the same answer. The run
table records which lists, by the SHA-256 of the file they were imported from, were used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select

from veriscan import __version__
from veriscan.matching.lists.records import EXACT_KINDS
from veriscan.matching.pdqindex import hex_to_words
from veriscan.matching.stored import StoredList
from veriscan.matching.vpdq import (
    VideoFrame,
    frames_from_json,
    is_match,
    match_videos,
    resample,
    sampling_interval,
)
from veriscan.model import Match, RunInfo
from veriscan.store import schema
from veriscan.store.case import Case

MATCHER_VERSION = "1"


@dataclass
class MatchSummary:
    lists: dict[str, dict[str, int]] = field(default_factory=dict)
    low_quality: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.lists.values())


@dataclass
class _Content:
    sha256: str
    md5: str
    sha1: str
    pdq: str | None
    quality: int | None
    frames: list[VideoFrame] | None
    interval: float = 0.0


def _contents(case: Case) -> list[_Content]:
    c = schema.contents.c
    out: list[_Content] = []
    with case.engine.connect() as conn:
        rows = conn.execute(select(c.sha256, c.md5, c.sha1, c.pdq_hash, c.pdq_quality, c.mime))
        video_shas: list[str] = []
        for row in rows:
            out.append(_Content(row.sha256, row.md5, row.sha1, row.pdq_hash, row.pdq_quality, None))
            if row.mime.startswith("video/"):
                video_shas.append(row.sha256)
        frames: dict[str, tuple[list[VideoFrame], float]] = {}
        for start in range(0, len(video_shas), 500):
            chunk = video_shas[start : start + 500]
            for sha, findings in conn.execute(
                select(c.sha256, c.findings).where(c.sha256.in_(chunk))
            ):
                vpdq = (findings or {}).get("vpdq", {})
                if vpdq.get("frames"):
                    interval = float(vpdq.get("interval_ms") or 0) / 1000
                    frames[sha] = (frames_from_json(vpdq["frames"]), interval)
    for content in out:
        if content.sha256 in frames:
            content.frames, content.interval = frames[content.sha256]
    return out


def _entry_match(lst: StoredList, sha256: str, kind: str, entry: int, distance: int) -> Match:
    e = lst.entry(entry)
    category = e.category if e.category is not None else None
    return Match(
        sha256=sha256,
        list_name=lst.name,
        kind=kind,
        entry=entry,
        distance=distance,
        category=category,
        series=e.series,
        labels=e.labels,
        known_good=lst.meta.known_good,
    )


def list_matches(lst: StoredList, contents: Sequence[_Content]) -> tuple[list[Match], int]:
    """Every match of one list; also how many images were too low in PDQ quality to compare."""
    found: list[Match] = []
    for kind in EXACT_KINDS:
        table = lst.exact(kind)
        if not len(table):
            continue
        if kind == "sha256":
            values = [c.sha256 for c in contents]
        else:
            values = [c.md5 if kind == "md5" else c.sha1 for c in contents]
        for qi, entry in table.lookup(values):
            found.append(_entry_match(lst, contents[qi].sha256, kind, entry, 0))
    usable = [c for c in contents if c.pdq and (c.quality or 0) >= lst.meta.min_quality]
    low = sum(1 for c in contents if c.pdq and (c.quality or 0) < lst.meta.min_quality)
    if usable and lst.meta.counts.get("hashes", {}).get("pdq"):
        q, entries, dist = lst.pdq_search(hex_to_words([c.pdq or "" for c in usable]))
        for qi, entry, d in zip(q.tolist(), entries.tolist(), dist.tolist(), strict=True):
            found.append(_entry_match(lst, usable[qi].sha256, "pdq", entry, int(d)))
    if lst.has_videos():
        found += _video_matches(lst, [c for c in contents if c.frames])
    return found, low


def _video_matches(lst: StoredList, videos: Sequence[_Content]) -> Iterator[Match]:
    """vPDQ: candidate list videos from a frame index, then both-ways share of matched frames.

    The stored distance is the percentage of frames left unmatched on the weaker side (0 means
    every unique frame of both videos has a counterpart).
    """
    threshold, quality = lst.meta.pdq_threshold, lst.meta.min_quality
    for video in videos:
        frames = [f for f in video.frames or [] if f.quality >= quality]
        unique = list(dict.fromkeys(f.hash for f in frames))
        if not unique:
            continue
        for entry in sorted(lst.video_candidates(hex_to_words(unique))):
            rows = lst.entry(entry).extra.get("frames") or []
            target = [VideoFrame(i, int(r[0]), str(r[1]), float(r[2])) for i, r in enumerate(rows)]
            grid = max(video.interval, sampling_interval(target))
            shares = match_videos(
                resample(frames, grid), resample(target, grid), threshold, quality
            )
            if is_match(shares):
                weaker = min(shares.query_share, shares.target_share)
                yield _entry_match(lst, video.sha256, "vpdq", entry, round(100 * (1 - weaker)))


def _rows(matches: Sequence[Match], list_sha: str, run_id: int) -> list[dict[str, Any]]:
    return [
        {
            "sha256": m.sha256,
            "list_name": m.list_name,
            "list_sha256": list_sha,
            "entry": m.entry,
            "hash_type": m.kind,
            "distance": m.distance,
            "category": m.category,
            "series": m.series,
            "labels": list(m.labels),
            "known_good": m.known_good,
            "run_id": run_id,
        }
        for m in matches
    ]


def match_case(case: Case, lists: Sequence[StoredList], command: str) -> MatchSummary:
    started = time.monotonic()
    info = RunInfo(
        command=command,
        veriscan_version=__version__,
        analyzers={"match": MATCHER_VERSION},
        settings={
            "lists": {
                lst.name: {
                    "file_sha256": lst.meta.file_sha256,
                    "pdq_threshold": lst.meta.pdq_threshold,
                    "min_quality": lst.meta.min_quality,
                }
                for lst in lists
            }
        },
    )
    run_id = case.start_run(info, None)
    summary = MatchSummary()
    status = "interrupted"
    try:
        contents = _contents(case)
        for lst in lists:
            found, summary.low_quality = list_matches(lst, contents)
            unique = {(m.sha256, m.entry, m.kind): m for m in found}
            with case.engine.begin() as conn:
                conn.execute(delete(schema.matches).where(schema.matches.c.list_name == lst.name))
                rows = _rows(list(unique.values()), lst.meta.file_sha256, run_id)
                if rows:
                    conn.execute(insert(schema.matches), rows)
            per_kind: dict[str, int] = {}
            for m in unique.values():
                per_kind[m.kind] = per_kind.get(m.kind, 0) + 1
            summary.lists[lst.name] = per_kind
        status = "completed"
    finally:
        summary.seconds = time.monotonic() - started
        case.finish_run(run_id, status, {"matches": summary.total})
    return summary
