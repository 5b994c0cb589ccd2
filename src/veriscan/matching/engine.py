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
from veriscan.matching.base import CaseHashes, Matcher
from veriscan.matching.stored import StoredList
from veriscan.matching.vpdq import VideoFrame, frames_from_json
from veriscan.model import Match, RunInfo
from veriscan.plugins import Registry, load_registry
from veriscan.store import schema
from veriscan.store.case import Case

CHUNK = 100_000


@dataclass
class MatchSummary:
    lists: dict[str, dict[str, int]] = field(default_factory=dict)
    low_quality: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.lists.values())


def case_hashes(case: Case, chunk: int = CHUNK) -> Iterator[list[CaseHashes]]:
    """Every content's stored hashes (video frame hashes included), ``chunk`` contents at a time
    in SHA-256 order, so a case of millions of files is matched in bounded memory."""
    c = schema.contents.c
    after = ""
    while True:
        with case.engine.connect() as conn:
            rows = conn.execute(
                select(c.sha256, c.md5, c.sha1, c.pdq_hash, c.pdq_quality, c.mime)
                .where(c.sha256 > after)
                .order_by(c.sha256)
                .limit(chunk)
            ).all()
            if not rows:
                return
            batch = [CaseHashes(r.sha256, r.md5, r.sha1, r.pdq_hash, r.pdq_quality) for r in rows]
            videos = [r.sha256 for r in rows if r.mime.startswith("video/")]
            frames: dict[str, tuple[list[VideoFrame], float]] = {}
            for start in range(0, len(videos), 500):
                q = select(c.sha256, c.findings).where(c.sha256.in_(videos[start : start + 500]))
                for sha, findings in conn.execute(q):
                    vpdq = (findings or {}).get("vpdq", {})
                    if vpdq.get("frames"):
                        interval = float(vpdq.get("interval_ms") or 0) / 1000
                        frames[sha] = (frames_from_json(vpdq["frames"]), interval)
        for content in batch:
            if content.sha256 in frames:
                content.frames, content.interval = frames[content.sha256]
        yield batch
        after = rows[-1].sha256


def list_matches(
    lst: StoredList, contents: Sequence[CaseHashes], matchers: Sequence[Matcher]
) -> list[Match]:
    """Every match of one list by every matcher whose hash kinds the list holds."""
    found: list[Match] = []
    for matcher in matchers:
        if not matcher.kinds & lst.kinds():
            continue
        for hit in matcher.match(lst, contents):
            entry = lst.entry(hit.entry)
            found.append(
                Match(
                    sha256=contents[hit.index].sha256,
                    list_name=lst.name,
                    kind=hit.kind,
                    entry=hit.entry,
                    distance=hit.distance,
                    category=entry.category,
                    series=entry.series,
                    labels=entry.labels,
                    known_good=lst.known_good,
                )
            )
    return found


def low_quality(lst: StoredList, contents: Sequence[CaseHashes]) -> int:
    return sum(1 for c in contents if c.pdq and (c.pdq_quality or 0) < lst.min_quality)


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


def match_case(
    case: Case, lists: Sequence[StoredList], command: str, registry: Registry | None = None
) -> MatchSummary:
    started = time.monotonic()
    matchers: list[Matcher] = [cls() for cls in (registry or load_registry()).classes("matchers")]
    info = RunInfo(
        command=command,
        veriscan_version=__version__,
        analyzers={m.id: m.version for m in matchers},
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
        found: dict[str, dict[tuple[str, int, str], Match]] = {lst.name: {} for lst in lists}
        for contents in case_hashes(case):
            low = 0
            for lst in lists:
                for m in list_matches(lst, contents, matchers):
                    found[lst.name][(m.sha256, m.entry, m.kind)] = m
                low = max(low, low_quality(lst, contents))
            summary.low_quality += low
        for lst in lists:
            unique = found[lst.name]
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
