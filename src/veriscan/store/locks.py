"""One ingest per evidence label at a time: a lock file per label in the case folder.

Two runs ingesting the same label at once would both commit the same units (the second then fails
on the unique locators). Different labels still run side by side, as the team store promises. The
lock is an ``fcntl`` lock, so the kernel releases it when its holder exits however it exits
(Ctrl-C, ``kill -9``, power loss): resuming never meets a stale lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCKS = "locks"


class LockHeldError(Exception):
    """Another live process holds the lock; ``holder`` says which, as far as it wrote it down."""

    def __init__(self, label: str, holder: str) -> None:
        super().__init__(label, holder)
        self.label = label
        self.holder = holder


def lock_path(root: Path, label: str) -> Path:
    """Labels are free text (slashes, any script): the file is named by the label's hash."""
    digest = hashlib.sha256(label.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return root / LOCKS / f"ingest-{digest}.lock"


@contextmanager
def ingest_lock(root: Path, label: str) -> Iterator[None]:
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
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not yet written its id"
