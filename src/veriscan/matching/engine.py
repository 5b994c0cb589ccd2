"""Matching a case against lists, from stored hashes: evidence is never read again.

Each list's rows in the ``matches`` table are replaced as a whole, in one transaction, so matching
again (after a resume, a new evidence item, a list update) converges on the same answer. The run
table records which lists, by the SHA-256 of the file they were imported from, were used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select

from veriscan import __version__
from veriscan.domain import Match, RunInfo
from veriscan.matching.base import CaseHashes, HashList, Matcher
from veriscan.matching.registry import signal_types
from veriscan.matching.signals.base import SignalType
from veriscan.matching.stored import StoredList
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


def case_hashes(
    case: Case, chunk: int = CHUNK, signals: Sequence[SignalType[Any]] | None = None
) -> Iterator[list[CaseHashes]]:
    """Every content's stored hashes, ``chunk`` contents at a time in SHA-256 order, so a case of
    millions of files is matched in bounded memory. The stored findings a signal type reads (the
    vpdq frame hashes of videos) come along for the contents it names."""
    wanted = [s for s in (signal_types() if signals is None else signals) if s.findings_key]
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
            by_sha = {content.sha256: content for content in batch}
            needed = [
                r.sha256 for r in rows if any(r.mime.startswith(s.findings_mime) for s in wanted)
            ]
            for start in range(0, len(needed), 500):
                q = select(c.sha256, c.findings).where(c.sha256.in_(needed[start : start + 500]))
                for sha, findings in conn.execute(q):
                    for signal in wanted:
                        key = signal.findings_key or ""
                        if key in (findings or {}):
                            by_sha[sha].findings[key] = findings[key]
        yield batch
        after = rows[-1].sha256


def _kinds(matcher: Matcher | SignalType[Any]) -> frozenset[str]:
    return matcher.kinds if isinstance(matcher, Matcher) else frozenset({matcher.id})


def list_matches(
    lst: HashList,
    contents: Sequence[CaseHashes],
    matchers: Sequence[Matcher | SignalType[Any]],
    values: Mapping[str, Sequence[Any]] | None = None,
) -> list[Match]:
    """Every match of one list by every signal type (or older matcher) whose kinds it holds.
    ``values``: each signal type's values of ``contents``, when already read once for all lists."""
    found: list[Match] = []
    for matcher in matchers:
        if not _kinds(matcher) & lst.kinds():
            continue
        if isinstance(matcher, Matcher):
            hits = matcher.match(lst, contents)
        elif values is not None and matcher.id in values:
            hits = matcher.match(lst, values[matcher.id])
        else:
            hits = matcher.match_contents(lst, contents)
        for hit in hits:
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
    registry = registry or load_registry()
    signals = signal_types(registry)
    covered = {s.id for s in signals}
    # A third party's matcher of the older ``veriscan.matchers`` contract still runs; the
    # built-in ones delegate to the signal types above and would only repeat them.
    older: list[Matcher] = [
        cls() for cls in registry.classes("matchers") if not cls.kinds <= covered
    ]
    info = RunInfo(
        command=command,
        veriscan_version=__version__,
        analyzers={
            **{s.id: s.version for s in signals},
            **{m.id: m.version for m in older},
        },
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
        for contents in case_hashes(case, signals=signals):
            values = {s.id: [s.case_value(c) for c in contents] for s in signals}
            low = 0
            for lst in lists:
                for m in list_matches(lst, contents, [*signals, *older], values):
                    found[lst.name][(m.sha256, m.entry, m.kind)] = m
                unusable = sum(s.unusable(lst, values[s.id]) for s in signals)
                low = max(low, unusable)
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
