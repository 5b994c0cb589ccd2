"""The audit log page, for admins and leads only; viewing it is itself audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from veriscan.review import audit
from veriscan.web.render import case_of, page
from veriscan.web.security import LEADS, role
from veriscan.web.sessions import Session

SHOWN = 500


def register(app: FastAPI) -> None:
    @app.get("/audit")
    def audit_page(
        request: Request, session: Annotated[Session, Depends(role(*LEADS))]
    ) -> Response:
        case = case_of(request)
        audit.append(case, session.username, "audit-view", "audit")
        result = audit.verify(case)
        entries = list(audit.entries(case))[-SHOWN:][::-1]
        return page(
            request, "audit.html", {"session": session, "entries": entries, "result": result}
        )
