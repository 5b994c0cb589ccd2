"""Helpers for review-app tests: a real uvicorn server on loopback, and logging in."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

_LOGIN_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')
_SESSION_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """The app under uvicorn in a thread (as `veriscan serve` runs it); yields its base URL."""
    import uvicorn

    port = free_port(host)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", proxy_headers=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the review app did not start within 10 s"
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def login_form_token(client: httpx.Client) -> str:
    """Fetches the login page so the client holds the login cookie; returns the form token."""
    found = _LOGIN_TOKEN.search(client.get("/login").text)
    assert found, "the login page carries a CSRF token"
    return found.group(1)


def log_in(client: httpx.Client, username: str, password: str) -> str:
    """Logs in and returns the session's CSRF token."""
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": login_form_token(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/", (r.status_code, r.text)
    found = _SESSION_TOKEN.search(client.get("/").text)
    assert found, "pages carry the session's CSRF token"
    return found.group(1)
