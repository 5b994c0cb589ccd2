"""One file: its detail page, its blurred thumbnail, its revealed image and its prompt text.

The blurred, greyscale rendering is made here from the thumbnail in the case folder, so the
browser never holds unblurred pixels it was not asked to show; a reveal and a prompt view are
written to the audit log before anything is sent. The detail page withholds every field that may
carry generation parameters (the policy of `veriscan.redaction`); the prompt view is the only
route that sends them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from veriscan.previews import blurred_jpeg
from veriscan.redaction import redact, withheld_fields
from veriscan.review import audit
from veriscan.review.decisions import history
from veriscan.store import schema
from veriscan.store.queries import content_objects
from veriscan.web.render import case_of, page
from veriscan.web.security import REVEALERS, role, user
from veriscan.web.sessions import Session

_SHA = re.compile(r"[0-9a-f]{64}")


def _thumbnail_path(request: Request, sha256: str) -> Path:
    if not _SHA.fullmatch(sha256):
        raise HTTPException(404, "no such file")
    case = case_of(request)
    c = schema.contents.c
    with case.engine.connect() as conn:
        row = conn.execute(select(c.thumbnail).where(c.sha256 == sha256)).first()
    if row is None or not row.thumbnail:
        raise HTTPException(404, "no thumbnail for this file")
    path: Path = (case.root / str(row.thumbnail)).resolve()
    if case.root.resolve() not in path.parents or not path.is_file():
        raise HTTPException(404, "no thumbnail for this file")
    return path


def register(app: FastAPI) -> None:
    @app.get("/thumb/{sha256}")
    def thumb(
        request: Request, sha256: str, session: Annotated[Session, Depends(user)]
    ) -> Response:
        data = blurred_jpeg(
            _thumbnail_path(request, sha256),
            max(4, session.blur),
            greyscale=session.greyscale,
            size=session.size,
        )
        return Response(data, media_type="image/jpeg")

    @app.get("/reveal/{sha256}")
    def reveal(
        request: Request, sha256: str, session: Annotated[Session, Depends(role(*REVEALERS))]
    ) -> Response:
        path = _thumbnail_path(request, sha256)
        audit.append(case_of(request), session.username, "reveal", sha256)
        return Response(path.read_bytes(), media_type="image/jpeg")

    @app.get("/prompt/{sha256}")
    def prompt(
        request: Request, sha256: str, session: Annotated[Session, Depends(role(*REVEALERS))]
    ) -> Response:
        objs = list(content_objects(case_of(request), [sha256])) if _SHA.fullmatch(sha256) else []
        if not objs:
            raise HTTPException(404, "no such file")
        fields = withheld_fields(objs[0])
        audit.append(
            case_of(request), session.username, "prompt-view", sha256, {"fields": len(fields)}
        )
        text = "\n\n".join(f"{f.path}:\n{f.text}" for f in fields)
        return PlainTextResponse(text or "no prompt in this file's metadata")

    @app.get("/file/{sha256}")
    def detail(
        request: Request, sha256: str, session: Annotated[Session, Depends(user)]
    ) -> Response:
        case = case_of(request)
        objs = list(content_objects(case, [sha256])) if _SHA.fullmatch(sha256) else []
        if not objs:
            raise HTTPException(404, "no such file")
        shown = redact(objs[0])
        past = history(case, sha256)
        return page(
            request,
            "file.html",
            {
                "session": session,
                "f": shown.value,
                "withheld": len(shown.fields),
                "history": past,
                "version": past[-1].version if past else 0,
                "scheme": request.app.state.scheme,
            },
        )
