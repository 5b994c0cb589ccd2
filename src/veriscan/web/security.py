"""Who is asking, and may they: session lookup, roles and CSRF checks as FastAPI dependencies.

Every route but the login page and static assets depends on :func:`user`; every state-changing
route also on :func:`csrf`, which takes the token from the ``X-CSRF-Token`` header (htmx and the
keyboard script send it) or a ``csrf`` form field.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request

from veriscan.web.sessions import Session, SessionStore

COOKIE = "veriscan_session"
LOGIN_COOKIE = "veriscan_login"
CSRF_HEADER = "X-CSRF-Token"
LEADS = frozenset({"admin", "lead"})
DECIDERS = frozenset({"admin", "lead", "reviewer"})
REVEALERS = DECIDERS


class LoginRequiredError(Exception):
    """Raised for an anonymous request; answered with 401, or a redirect for a page."""


def same_token(sent: str, expected: str) -> bool:
    """Constant-time comparison that also survives non-ASCII input (str compare_digest raises)."""
    return bool(sent) and secrets.compare_digest(sent.encode(), expected.encode())


def user(request: Request) -> Session:
    store: SessionStore = request.app.state.sessions
    session = store.get(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequiredError
    return session


def role(*allowed: str) -> Callable[[Session], Session]:
    wanted = frozenset(allowed)

    def check(session: Session = Depends(user)) -> Session:
        if session.role not in wanted:
            raise HTTPException(403, f"the {session.role} role may not do this")
        return session

    return check


async def _form_token(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if "form" not in content_type:
        return ""
    form = await request.form()
    value = form.get("csrf")
    return value if isinstance(value, str) else ""


def csrf() -> Callable[..., Awaitable[None]]:
    async def check(request: Request, session: Session = Depends(user)) -> None:
        sent = request.headers.get(CSRF_HEADER) or await _form_token(request)
        if not same_token(sent, session.csrf):
            raise HTTPException(403, "missing or wrong CSRF token")

    return check
