"""What the case dashboard counts, read from the store as one typed summary.

The web layer draws it; the counting lives here, beside the decisions it summarises, so a CLI or a
report can show the same figures without going through a route.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from veriscan.review.decisions import current
from veriscan.store import schema
from veriscan.store.case import Case
from veriscan.store.match_queries import matching_summary


@dataclass(frozen=True)
class DashboardCounts:
    by_type: dict[str, int]
    """Every content by MIME type."""
    verdicts: dict[str, int]
    """Images and videos by AI verdict ("not analysed" where none was stored)."""
    progress: dict[str, int]
    """Images and videos reviewed and not yet reviewed."""
    categories: dict[str, int]
    """Latest decisions by category."""
    matches: dict[str, int]
    """Contents matched on flagged lists and on known-good lists."""


def dashboard_counts(case: Case) -> DashboardCounts:
    c = schema.contents.c
    media = c.mime.like("image/%") | c.mime.like("video/%")
    with case.engine.connect() as conn:
        by_type = {
            str(k): int(v)
            for k, v in conn.execute(select(c.mime, func.count()).group_by(c.mime)).all()
        }
        verdict_rows = conn.execute(
            select(func.coalesce(c.ai_verdict, "not analysed"), func.count())
            .where(media)
            .group_by(c.ai_verdict)
        ).all()
        total_media = int(conn.execute(select(func.count()).where(media)).scalar_one())
    decided = current(case)
    categories: dict[str, int] = {}
    for d in decided.values():
        key = d.category or "uncategorised (decided)"
        categories[key] = categories.get(key, 0) + 1
    matching = matching_summary(case)
    return DashboardCounts(
        by_type=by_type,
        verdicts={str(k): int(v) for k, v in verdict_rows},
        progress={"reviewed": len(decided), "not yet": max(0, total_media - len(decided))},
        categories=categories,
        matches={
            "on flagged lists": int(matching["matched"]),
            "known-good": int(matching["known_good"]),
        },
    )
