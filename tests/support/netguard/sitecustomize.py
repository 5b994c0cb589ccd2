"""Loaded by every Python process of a guarded test run (this folder is put on PYTHONPATH).

Any connection, datagram or name lookup for an address off this machine is written to the file
named by VERISCAN_NETGUARD_LOG and refused, so telemetry cannot slip out during the test and the
test can still see that it was attempted. Loopback and Unix sockets (the worker pool, the review
app under test) pass.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Any

_LOG = os.environ.get("VERISCAN_NETGUARD_LOG", "")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _local(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or str(host).lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False  # a name to resolve: that lookup itself would leave the machine
    return address.is_loopback or address.is_unspecified


def _refuse(what: str, target: object) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {what} {target!r}\n")
    raise OSError(errno.ENETUNREACH, f"network refused by the test guard: {what} {target!r}")


def _check(what: str, address: Any) -> None:
    if isinstance(address, tuple) and address and not _local(address[0]):
        _refuse(what, address)


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check("connect", address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check("connect", address)
    return _connect_ex(self, address)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check("sendto", args[-1] if args else None)
    return _sendto(self, data, *args)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _local(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


def _guarded_gethostbyname(host: str) -> str:
    if not _local(host):
        _refuse("gethostbyname", host)
    return _gethostbyname(host)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.socket.sendto = _guarded_sendto  # type: ignore[method-assign,assignment]
socket.getaddrinfo = _guarded_getaddrinfo
socket.gethostbyname = _guarded_gethostbyname
