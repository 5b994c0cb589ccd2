"""Log in and out. Login has its own CSRF token (a cookie matched against the form), failures
are rate-limited per user name and per client, and both outcomes are audited."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from veriscan.review import audit
from veriscan.review.users import authenticate
from veriscan.web.render import case_of, page
from veriscan.web.security import COOKIE, LOGIN_COOKIE, csrf, user
from veriscan.web.sessions import SESSION_SECONDS, Session


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


def register(app: FastAPI) -> None:
    @app.get("/login")
    def login_page(request: Request, error: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", {"csrf": token, "error": error})
        _cookie(request, response, LOGIN_COOKIE, token, 900)
        return response

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf_token: Annotated[str, Form(alias="csrf")] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not csrf_token or not secrets.compare_digest(csrf_token, expected):
            raise HTTPException(403, "missing or wrong CSRF token")
        client = f"client:{request.client.host if request.client else '-'}"
        limiter = request.app.state.limiter
        if limiter.blocked(f"user:{username}", client):
            audit.append(case_of(request), username[:64] or "-", "login-blocked", client)
            raise HTTPException(429, "too many failed logins: wait a few minutes")
        found = authenticate(case_of(request), username, password)
        if found is None:
            limiter.fail(f"user:{username}", client)
            return RedirectResponse("/login?error=1", status_code=303)
        limiter.clear(f"user:{username}")
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
