"""One ingest per evidence label at a time: a lock file per label in the case folder and, on a
team store, a PostgreSQL advisory lock as well.

Two runs ingesting the same label at once would both commit the same units (the second then fails
on the unique locators). Different labels still run side by side, as the team store promises.
Both locks belong to their holder's process or database session, so they go when it goes however
it ends (Ctrl-C, ``kill -9``, power loss): resuming never meets a stale lock. The advisory lock
covers examiners whose machines do not share the folder's locks (a network file system without
them, or copies of the case folder pointing at one database).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text

LOCKS = "locks"
_NAMESPACE = 0x56534E31  # "VSN1": veriscan's advisory locks, apart from other applications'


class LockHeldError(Exception):
    """Another live process holds the lock; ``holder`` says which, as far as it wrote it down."""

    def __init__(self, label: str, holder: str) -> None:
        super().__init__(label, holder)
        self.label = label
        self.holder = holder


def _me() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def lock_path(root: Path, label: str) -> Path:
    """Labels are free text (slashes, any script): the file is named by the label's hash."""
    digest = hashlib.sha256(label.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return root / LOCKS / f"ingest-{digest}.lock"


@contextmanager
def ingest_lock(root: Path, label: str, engine: Engine | None = None) -> Iterator[None]:
    """Hold the label's lock for the block; LockHeldError at once if another process has it."""
    path = lock_path(root, label)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeldError(label, _holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_me()}\n".encode(), 0)
        if engine is not None and engine.dialect.name == "postgresql":
            with _advisory_lock(engine, label):
                yield
        else:
            yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _holder(fd: int) -> str:
    try:
        written = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        written = ""
    return written or "a process that has not yet written its id"


@contextmanager
def _advisory_lock(engine: Engine, label: str) -> Iterator[None]:
    """A session lock on a connection of its own, kept open for the block: the server frees it
    when the session ends, whichever way the process ends."""
    with engine.connect() as conn:
        schema = conn.execute(text("select current_schema()")).scalar_one()
        key = _key(f"{schema}\0{label}")
        conn.execute(text("select set_config('application_name', :me, false)"), {"me": _me()})
        got = conn.execute(
            text("select pg_try_advisory_lock(:ns, :key)"), {"ns": _NAMESPACE, "key": key}
        ).scalar_one()
        conn.commit()
        if not got:
            raise LockHeldError(label, _session_holder(conn, key))
        try:
            yield
        finally:
            conn.execute(
                text("select pg_advisory_unlock(:ns, :key)"), {"ns": _NAMESPACE, "key": key}
            )
            conn.commit()


def _key(name: str) -> int:
    return int.from_bytes(
        hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()[:4], "big", signed=True
    )


def _session_holder(conn: Connection, key: int) -> str:
    row = conn.execute(
        text(
            "select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.classid::bigint = :ns "
            "and l.objid::bigint = :key"
        ),
        {"ns": _NAMESPACE, "key": key & 0xFFFFFFFF},
    ).first()
    return str(row[0]) if row and row[0] else "another session of the case database"
