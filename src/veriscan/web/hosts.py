"""Which Host headers the review app answers, and redirects that never name a host.

A request is answered when its Host is
- the address the connection arrived on (the server's side of the socket, which the client
  cannot forge), with that port;
- ``localhost``, ``127.0.0.1`` or ``[::1]`` with that port, when it arrived on a loopback address;
- a name given to ``serve`` (``--host`` when it is a name, and each ``--allow-host``), with the
  port that entry names, or any port when it names none.

Anything else gets 400, so a page served under a foreign name (DNS rebinding) never reaches the
case. Redirects are made relative, so no header the client sends is echoed into ``Location``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int | None


def _canonical(host: str) -> str | None:
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return str(mapped or ip)
    return host if len(host) <= 253 and _NAME.fullmatch(host) else None


def parse_host(value: str) -> HostPort | None:
    """``name``, ``name:port``, ``1.2.3.4:port`` or ``[v6]:port``; None when malformed."""
    if not value or len(value) > 300 or not value.isascii():
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if ":" not in host:
            return None
    elif value.count(":") == 1:
        host, rest = value.split(":")
        rest = ":" + rest
    else:
        host, rest = value, ""
    port: int | None = None
    if rest:
        digits = rest[1:]
        if not rest.startswith(":") or not digits.isdigit() or len(digits) > 5:
            return None
        port = int(digits)
        if not 0 < port < 65536:
            return None
    canonical = _canonical(host)
    return HostPort(canonical, port) if canonical else None


def allowed_names(names: Iterable[str]) -> tuple[HostPort, ...]:
    """The names ``serve`` adds to the rule above (wildcard binds add none); ValueError for a
    malformed one."""
    out = []
    for name in names:
        if name in WILDCARDS:
            continue
        parsed = parse_host(name)
        if parsed is None:
            raise ValueError(f"not a host name or address: {name!r}")
        out.append(parsed)
    return tuple(out)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def host_allowed(scope: Scope, sent: HostPort, extra: tuple[HostPort, ...]) -> bool:
    if any(e.host == sent.host and e.port in (None, sent.port) for e in extra):
        return True
    server = scope.get("server")
    if not server:
        return False
    local = _canonical(str(server[0]))
    local_port = server[1]
    port_ok = sent.port == local_port or (
        sent.port is None and local_port == _DEFAULT_PORTS.get(scope.get("scheme", "http"))
    )
    if not port_ok or local is None:
        return False
    return sent.host == local or (_loopback(local) and sent.host in LOOPBACK_NAMES)


def relative(location: str) -> str:
    """A redirect target without scheme and host; never ``//`` (which browsers read as a host)."""
    parts = urlsplit(location)
    path = "/" + parts.path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")


class HostCheck:
    """ASGI middleware answering 400 to a request whose Host header the rule above refuses."""

    def __init__(self, app: ASGIApp, extra: tuple[HostPort, ...] = ()) -> None:
        self.app = app
        self.extra = extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = [v for k, v in scope.get("headers", []) if k == b"host"]
        raw = headers[0].decode("latin-1") if len(headers) == 1 else ""
        sent = parse_host(raw)
        if sent is None or not host_allowed(scope, sent, self.extra):
            await _refuse(send, raw, scope["type"])
            return

        async def send_relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, relative(v.decode("latin-1")).encode("latin-1") if k == b"location" else v)
                    for k, v in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, send_relative)


async def _refuse(send: Send, raw: str, kind: str) -> None:
    if kind == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    shown = raw[:80].encode("ascii", "backslashreplace").decode("ascii")
    body = (
        f"unknown Host header {shown!r}: open the app at the address it was served on, "
        "or start `veriscan serve` with --allow-host NAME\n"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
