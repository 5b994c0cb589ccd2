"""The review app factory: one case, served to the examiner's browser, fully offline.

Every asset is served from the package (no CDN); the case folder is the only data. Images reach
the browser blurred and greyscale, rendered here; an unblurred image is sent only when a user
reveals that one file, and the reveal is written to the audit log first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from fastapi.templating import Jinja2Templates

from veriscan.matching.lists.schemes import Scheme, load_scheme
from veriscan.review.queue import PRIORITIES
from veriscan.review.scheme import case_scheme
from veriscan.store.case import Case
from veriscan.web.hosts import HostCheck, allowed_names
from veriscan.web.login_limits import LoginLimiter
from veriscan.web.routes import audit_log, auth, dashboard, triage
from veriscan.web.routes import files as file_routes
from veriscan.web.security import REVEALERS, LoginRequiredError
from veriscan.web.sessions import SessionStore

PACKAGE = files("veriscan.web")
# FastAPI's own OpenTelemetry (0.142 on): explicit values win over FASTAPI_OTEL_AUTO_CONFIGURE.
NO_TELEMETRY: Final[TelemetryConfig] = {
    "auto_configure": False,
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def create_app(
    case_dir: Path,
    *,
    scheme: str | None = None,
    secure_cookies: bool = False,
    priority: str = "victims-first",
    allowed_hosts: Sequence[str] = (),
) -> FastAPI:
    """``allowed_hosts``: names besides the connection's own address (see ``hosts``)."""
    extra_hosts = allowed_names(allowed_hosts)
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    app = FastAPI(
        title="veriscan review",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.state.case = Case.open(case_dir)
    app.state.scheme = load_scheme(scheme) if scheme else case_scheme(app.state.case)
    app.state.sessions = SessionStore()
    app.state.limiter = LoginLimiter()
    app.router.lifespan_context = _flush_login_counts
    app.state.secure_cookies = secure_cookies
    app.state.priority = priority
    app.state.templates = Jinja2Templates(directory=str(PACKAGE / "templates"))
    app.state.templates.env.globals["REVEALERS"] = REVEALERS
    app.mount("/static", StaticFiles(directory=str(PACKAGE / "static")), name="static")

    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, _: LoginRequiredError) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"detail": "log in first"}, status_code=401)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": invalid_message(exc)}, status_code=422)

    app.add_middleware(HostCheck, extra=extra_hosts)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
        return response

    for module in (auth, triage, file_routes, audit_log, dashboard):
        module.register(app)
    return app


def scheme_of(request: Request) -> Scheme:
    scheme: Scheme = request.app.state.scheme
    return scheme


def invalid_message(exc: RequestValidationError) -> str:
    """Which parameter was refused and why, without echoing the (possibly huge) value sent."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        message = error.get("msg", "invalid")
        if error.get("type") == "string_pattern_mismatch":
            message = "control characters (such as NUL) are not allowed"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


@asynccontextmanager
async def _flush_login_counts(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown, the counts of login failures not yet in the audit log are written there."""
    yield
    auth.write_summaries(app.state.case, app.state.limiter.ended(everything=True))
