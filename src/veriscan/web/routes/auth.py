"""Log in and out. Login has its own CSRF token (a cookie matched against the form), failures
are rate-limited per client address and user name (see ``login_limits``), and both outcomes
are audited: a run of failures as a few rows with counts, never one row per request."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from veriscan.review import audit
from veriscan.review.users import authenticate
from veriscan.store.case import Case
from veriscan.web.login_limits import NAME_MAX, LoginLimiter, Refusal, Summary, client_key
from veriscan.web.render import case_of, page
from veriscan.web.security import COOKIE, LOGIN_COOKIE, csrf, same_token, user
from veriscan.web.sessions import SESSION_SECONDS, Session

PASSWORD_MAX = 1024


def _cookie(request: Request, response: Response, name: str, value: str, seconds: int) -> None:
    """HttpOnly, SameSite=Strict, Secure when served over TLS, with an expiry."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        max_age=seconds,
    )


def _who(username: str) -> str:
    return username[:64] or "-"


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")


def write_summaries(case: Case, ended: list[Summary]) -> None:
    """One row per ended run of failures, with its counts (see ``LoginLimiter.ended``)."""
    for s in ended:
        details = {"client": s.address, "failures": s.failures, "refused": s.refused}
        if s.first:
            details |= {"first": _iso(s.first), "last": _iso(s.last)}
        target = s.username if s.scope == "user" else s.address
        audit.append(case, _who(s.username), "login-failures", target, details)


def register(app: FastAPI) -> None:
    @app.get("/login")
    def login_page(request: Request, error: Annotated[str, Query(max_length=8)] = "") -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", {"csrf": token, "error": error})
        _cookie(request, response, LOGIN_COOKIE, token, 900)
        return response

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=NAME_MAX)],
        password: Annotated[str, Form(max_length=PASSWORD_MAX)],
        csrf_token: Annotated[str, Form(alias="csrf", max_length=64)] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not same_token(csrf_token, expected):
            raise HTTPException(403, "missing or wrong CSRF token")
        case = case_of(request)
        client = client_key(request.client.host if request.client else None)
        limiter: LoginLimiter = request.app.state.limiter
        attempt = limiter.begin(client, username)
        write_summaries(case, limiter.ended())
        if isinstance(attempt, Refusal):
            raise HTTPException(
                429,
                "too many failed logins: wait a few minutes",
                headers={"Retry-After": str(attempt.retry_after)},
            )
        found = authenticate(case, username, password, audited=False)
        if found is None:
            failure = limiter.failed(attempt)
            if failure.failures == 1:
                audit.append(case, _who(username), "login-failed", username, {"client": client})
            for scope in failure.locked:
                limit = limiter.per_user if scope == "user" else limiter.per_address
                details = {"client": client, "by": scope, "failures": limit}
                target = username if scope == "user" else client
                audit.append(case, _who(username), "login-blocked", target, details)
            return RedirectResponse("/login?error=1", status_code=303)
        before = limiter.succeeded(attempt)
        details = {"client": client} | ({"failures_before": before} if before else {})
        audit.append(case, found.username, "login", found.username, details)
        token, _ = request.app.state.sessions.create(found.username, found.role)
        response = RedirectResponse("/", status_code=303)
        _cookie(request, response, COOKIE, token, SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout", dependencies=[Depends(csrf())])
    def logout(request: Request, session: Annotated[Session, Depends(user)]) -> Response:
        request.app.state.sessions.drop(request.cookies.get(COOKIE))
        audit.append(case_of(request), session.username, "logout", session.username)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response
