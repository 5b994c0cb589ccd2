"""The case dashboard: counts by type, verdict, match status and review progress, drawn as
plain SVG bars on the server (no chart library, nothing fetched from anywhere)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from veriscan.review.dashboard import dashboard_counts
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
        counts = dashboard_counts(case_of(request))
        return page(
            request,
            "dashboard.html",
            {
                "session": session,
                "charts": [
                    ("Files by type", bars(counts.by_type)),
                    ("Images and videos by AI verdict", bars(counts.verdicts)),
                    ("Review progress", bars(counts.progress)),
                    ("Reviewers' categories", bars(counts.categories)),
                    ("List matches", bars(counts.matches)),
                ],
            },
        )
