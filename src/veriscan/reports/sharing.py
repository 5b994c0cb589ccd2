"""Hash-only exports for sharing between agencies: VICS 2.0 JSON, CSV and PDQ text.

Only hashes, sizes, names and categories leave the case, never pixels or thumbnails. A content's
category is the reviewers' latest decision in the export's scheme when there is one, else the
one its list matches give (the most frequent when lists disagree, the disagreement in Comments).
Known-good contents are never exported, nor PDQ hashes of quality below 50 (VICS has no
quality field, and such hashes match unrelated images).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select

from veriscan.matching.lists.records import HashRecord
from veriscan.matching.lists.schemes import Scheme
from veriscan.matching.lists.vics_write import write_vics
from veriscan.review.decisions import current as current_decisions
from veriscan.store import schema
from veriscan.store.case import Case

CSV_COLUMNS = ("md5", "sha1", "sha256", "pdq", "quality", "category", "series", "labels")
UNCATEGORISED = "uncategorised"
MIN_PDQ_QUALITY = 50


def _matches(case: Case) -> dict[str, list[dict[str, Any]]]:
    m = schema.matches.c
    out: dict[str, list[dict[str, Any]]] = {}
    with case.engine.connect() as conn:
        for row in conn.execute(select(m.sha256, m.list_name, m.category, m.series, m.known_good)):
            out.setdefault(row.sha256, []).append(dict(row._mapping))
    return out


NAMES_BATCH = 2000


def _names_from(conn: Any, first: str) -> dict[str, list[Any]]:
    """File names and locators of the next contents from ``first`` on, in SHA-256 order: one
    query per batch rather than one per content."""
    c, loc = schema.contents.c, schema.locations.c
    upto = (
        select(c.sha256).where(c.sha256 >= first).order_by(c.sha256).limit(NAMES_BATCH).subquery()
    )
    out: dict[str, list[Any]] = {}
    q = (
        select(loc.sha256, loc.name, loc.locator)
        .where(loc.sha256.in_(select(upto.c.sha256)))
        .order_by(loc.sha256, loc.id)
    )
    for r in conn.execute(q):
        out.setdefault(r.sha256, []).append(r)
    return out


def case_records(
    case: Case,
    scheme: Scheme,
    *,
    matched_only: bool = False,
    categories: frozenset[str] | None = None,
) -> Iterator[HashRecord]:
    """Images and videos of the case (or only matched ones) as list records, in SHA-256 order."""
    c = schema.contents.c
    matches = _matches(case)
    reviewed = current_decisions(case)
    keys = {cat.key for cat in scheme.categories}
    with case.engine.connect() as conn, case.engine.connect() as side:
        rows = conn.execute(
            select(c.sha256, c.md5, c.sha1, c.size, c.mime, c.pdq_hash, c.pdq_quality).order_by(
                c.sha256
            )
        )
        line = 0
        names: dict[str, list[Any]] = {}
        for row in rows:
            if row.sha256 not in names:
                names = _names_from(side, row.sha256)
            found = matches.get(row.sha256, [])
            if any(m["known_good"] for m in found):
                continue
            if matched_only and not found:
                continue
            if not (row.mime.startswith("image/") or row.mime.startswith("video/") or found):
                continue
            votes = Counter(m["category"] for m in found if m["category"] in keys)
            category = votes.most_common(1)[0][0] if votes else None
            decided = reviewed.get(row.sha256)
            if decided is not None and decided.scheme == scheme.name:
                category = decided.category
            label = category or UNCATEGORISED
            if categories is not None and label not in categories:
                continue
            series = next((m["series"] for m in found if m["series"]), None)
            extra: dict[str, Any] = {"MediaSize": row.size}
            if decided is not None and decided.scheme == scheme.name:
                extra["Comments"] = f"categorised by {decided.user} at {decided.at}"
            elif len(votes) > 1:
                extra["Comments"] = "lists disagree: " + ", ".join(
                    f"{k} x{n}" for k, n in sorted(votes.items())
                )
            extra["MediaFiles"] = [
                {"FileName": n.name, "FilePath": n.locator} for n in names.get(row.sha256, [])
            ]
            line += 1
            pdq_ok = row.pdq_hash is not None and (row.pdq_quality or 0) >= MIN_PDQ_QUALITY
            yield HashRecord(
                line=line,
                md5=row.md5,
                sha1=row.sha1,
                sha256=row.sha256,
                pdq=row.pdq_hash if pdq_ok else None,
                pdq_quality=row.pdq_quality if pdq_ok else None,
                category=category,
                series=series,
                labels=tuple(sorted({m["list_name"] for m in found})),
                extra=extra,
            )


def export_vics(case: Case, out: TextIO, scheme: Scheme, segment: str, **kw: Any) -> int:
    return write_vics(out, case_records(case, scheme, **kw), scheme, segment)


def export_csv(case: Case, out: TextIO, scheme: Scheme, **kw: Any) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for rec in case_records(case, scheme, **kw):
        writer.writerow(
            [
                rec.md5,
                rec.sha1,
                rec.sha256,
                rec.pdq or "",
                "" if rec.pdq_quality is None else rec.pdq_quality,
                rec.category or "",
                rec.series or "",
                "|".join(rec.labels),
            ]
        )
        n += 1
    return n


def export_pdq(case: Case, out: TextIO, scheme: Scheme, **kw: Any) -> int:
    """ThreatExchange's ``hash,quality`` text form, images with a PDQ hash only."""
    n = 0
    for rec in case_records(case, scheme, **kw):
        if rec.pdq:
            out.write(f"{rec.pdq},{rec.pdq_quality if rec.pdq_quality is not None else 0}\n")
            n += 1
    return n
