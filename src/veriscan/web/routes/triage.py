"""The triage grid and the actions taken from it: categorise, undo, per-user view settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from veriscan.matching.lists.schemes import Scheme
from veriscan.review import audit
from veriscan.review import queue as grid
from veriscan.review.decisions import (
    ConflictError,
    Decision,
    DecisionError,
    categorise,
    categorise_group,
    undo,
)
from veriscan.review.users import User
from veriscan.store.case import Case
from veriscan.web.render import case_of, page
from veriscan.web.security import DECIDERS, csrf, role, user
from veriscan.web.sessions import Session

# Filter values are matched against the case, never interpreted: bounded, printable text.
Text = Annotated[str, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
# A classifier name, and NAME:LABEL: the characters JSON paths into the stored scores may hold.
Name = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]
ScoreKey = Annotated[str, Query(max_length=129, pattern=r"^([A-Za-z0-9_-]+:[A-Za-z0-9 _.-]+)?$")]
MAX_PAGE = 1_000_000
VERSION_MAX = 2**31 - 1


def _filters(
    verdict: Text = "",
    kind: Literal["", "image", "video"] = "",
    evidence: Text = "",
    custodian: Text = "",
    generator: Text = "",
    listed: Text = "",
    reviewed: Literal["", "yes", "no"] = "",
    category: Text = "",
    group: Text = "",
    known_good: bool = False,
    page: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 0,
    origin: Literal["", "allocated", "deleted", "carved"] = "",
    classifier: Name = "",
    by_score: ScoreKey = "",
) -> grid.Filters:
    return grid.Filters(
        verdict,
        kind,
        evidence,
        custodian,
        generator,
        listed,
        reviewed,
        category,
        group,
        known_good,
        page,
        origin,
        classifier=classifier,
        by_score=by_score,
    )


def _decided(
    request: Request, session: Session, act: Callable[[Case, User, Scheme], Decision]
) -> Response:
    acting = User(session.username, session.role, "")
    try:
        d = act(case_of(request), acting, request.app.state.scheme)
    except ConflictError as exc:
        return JSONResponse({"detail": str(exc), "version": exc.current}, status_code=409)
    except DecisionError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/file/{d.sha256}", status_code=303)
    return JSONResponse({"sha256": d.sha256, "category": d.category, "version": d.version})


def register(app: FastAPI) -> None:
    def render(request: Request, session: Session, f: grid.Filters, template: str) -> Response:
        found, total = grid.page(case_of(request), f, priority=request.app.state.priority)
        context = {
            "session": session,
            "cells": found,
            "total": total,
            "f": f,
            "scheme": request.app.state.scheme,
            "page_size": grid.PAGE,
        }
        if template == "grid.html":
            context["choices"] = grid.choices(case_of(request))
        return page(request, template, context)

    @app.get("/")
    def index(
        request: Request,
        session: Annotated[Session, Depends(user)],
        f: Annotated[grid.Filters, Depends(_filters)],
    ) -> Response:
        return render(request, session, f, "grid.html")

    @app.get("/grid")
    def cells(
        request: Request,
        session: Annotated[Session, Depends(user)],
        f: Annotated[grid.Filters, Depends(_filters)],
    ) -> Response:
        """The results part only, for htmx to swap in when a filter or page changes."""
        return render(request, session, f, "cells.html")

    @app.post("/categorise", dependencies=[Depends(csrf())])
    def categorise_file(
        request: Request,
        session: Annotated[Session, Depends(role(*DECIDERS))],
        sha256: Annotated[str, Form(max_length=64)],
        version: Annotated[int, Form(ge=0, le=VERSION_MAX)],
        category: Annotated[str, Form(max_length=200)] = "",
        scope: Annotated[Literal["file", "group"], Form()] = "file",
        note: Annotated[str, Form(max_length=4000)] = "",
        tags: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        tag_list = [t.strip() for t in tags.split(",") if t.strip()]
        if scope == "group":
            acting = User(session.username, session.role, "")
            try:
                made, conflicts = categorise_group(
                    case_of(request), acting, sha256, category or None, request.app.state.scheme
                )
            except DecisionError as exc:
                return JSONResponse({"detail": str(exc)}, status_code=400)
            mine = next((d for d in made if d.sha256 == sha256), None)
            return JSONResponse(
                {
                    "sha256": sha256,
                    "category": category or None,
                    "version": mine.version if mine else version,
                    "group": len(made),
                    "conflicts": conflicts,
                }
            )
        return _decided(
            request,
            session,
            lambda case, who, scheme: categorise(
                case,
                who,
                sha256,
                category or None,
                scheme,
                seen_version=version,
                note=note or None,
                tags=tag_list,
            ),
        )

    @app.post("/undo", dependencies=[Depends(csrf())])
    def undo_file(
        request: Request,
        session: Annotated[Session, Depends(role(*DECIDERS))],
        sha256: Annotated[str, Form(max_length=64)],
        version: Annotated[int, Form(ge=0, le=VERSION_MAX)],
    ) -> Response:
        return _decided(
            request,
            session,
            lambda case, who, scheme: undo(case, who, sha256, scheme, seen_version=version),
        )

    @app.post("/settings", dependencies=[Depends(csrf())])
    def settings(
        request: Request,
        session: Annotated[Session, Depends(user)],
        blur: Annotated[int, Form(ge=4, le=40)] = 12,
        greyscale: Annotated[bool, Form()] = False,
        size: Annotated[int, Form(ge=64, le=256)] = 160,
    ) -> Response:
        if (blur, greyscale, size) == (session.blur, session.greyscale, session.size):
            raise HTTPException(400, "nothing changed")
        session.blur, session.greyscale, session.size = blur, greyscale, size
        audit.append(
            case_of(request),
            session.username,
            "settings",
            session.username,
            {"blur": blur, "greyscale": greyscale, "size": size},
        )
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/", status_code=303)
        return JSONResponse({"blur": blur, "greyscale": greyscale, "size": size})
