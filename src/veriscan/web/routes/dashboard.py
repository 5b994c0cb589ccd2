"""The case dashboard: counts by type, verdict, match status and review progress, drawn as
plain SVG bars on the server (no chart library, nothing fetched from anywhere)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from veriscan.review.decisions import current
from veriscan.store import schema
from veriscan.store.match_queries import matching_summary
from veriscan.web.render import case_of, page
from veriscan.web.security import user
from veriscan.web.sessions import Session


def bars(counts: dict[str, int]) -> list[dict[str, object]]:
    """Rows for the template's SVG: label, value and bar width in percent of the largest."""
    top = max(counts.values(), default=0) or 1
    return [
        {"label": k, "value": v, "width": round(100 * v / top, 1)}
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def register(app: FastAPI) -> None:
    @app.get("/dashboard")
    def dashboard(request: Request, session: Annotated[Session, Depends(user)]) -> Response:
        case = case_of(request)
        c = schema.contents.c
        media = c.mime.like("image/%") | c.mime.like("video/%")
        with case.engine.connect() as conn:
            by_type: dict[str, int] = dict(
                conn.execute(select(c.mime, func.count()).group_by(c.mime)).all()
            )
            verdicts: dict[str, int] = dict(
                conn.execute(
                    select(func.coalesce(c.ai_verdict, "not analysed"), func.count())
                    .where(media)
                    .group_by(c.ai_verdict)
                ).all()
            )
            total_media = int(conn.execute(select(func.count()).where(media)).scalar_one())
        decided = current(case)
        categories: dict[str, int] = {}
        for d in decided.values():
            key = d.category or "uncategorised (decided)"
            categories[key] = categories.get(key, 0) + 1
        matching = matching_summary(case)
        progress = {"reviewed": len(decided), "not yet": max(0, total_media - len(decided))}
        return page(
            request,
            "dashboard.html",
            {
                "session": session,
                "charts": [
                    ("Files by type", bars({str(k): int(v) for k, v in by_type.items()})),
                    (
                        "Images and videos by AI verdict",
                        bars({str(k): int(v) for k, v in verdicts.items()}),
                    ),
                    ("Review progress", bars(progress)),
                    ("Reviewers' categories", bars(categories)),
                    (
                        "List matches",
                        bars(
                            {
                                "on flagged lists": matching["matched"],
                                "known-good": matching["known_good"],
                            }
                        ),
                    ),
                ],
            },
        )
