"""The audit log's head, kept outside the database so that cutting or wiping the log shows.

A chain inside one database proves only that its entries agree with each other: whoever can write
the database can delete the last entries and move the head record back, or empty both tables, and
the chain still verifies. So every append also writes the head (sequence number and hash) to
``CASE/audit.head`` (atomic rename, mode 0600, never moved backwards), every export leaves a
``FILE.audit-head`` beside it, and the HTML report prints it. A head held anywhere else is an
anchor: the log must still contain that entry, with that hash, at that place.

The text form is ``audit-head SEQ:HASH``; ``audit verify --against`` takes that value, ``SEQ:HASH``,
a bare entry hash (as ``audit export`` prints it), or a file holding one of them: a head file, a
sidecar, an HTML report, or an ``audit export`` JSON-lines file (its last entry).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

HEAD_FILE: Final = "audit.head"
SIDECAR_SUFFIX: Final = ".audit-head"
MARK: Final = "audit-head"
MAX_READ: Final = 256 * 1024 * 1024  # a report of 20,000 rows is far smaller
_VALUE = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_MARKED = re.compile(MARK + r" (\d{1,18}):([0-9a-f]{64})\b")


class AnchorError(ValueError):
    """An anchor given to verify cannot be read; a usage error, not a finding about the log."""


@dataclass(frozen=True)
class Anchor:
    """An entry the log must contain: at ``seq`` (when known) with ``hash``; ``source`` says where
    the anchor came from, for the examiner's report."""

    seq: int | None
    hash: str
    source: str

    @property
    def value(self) -> str:
        return f"{self.seq}:{self.hash}" if self.seq is not None else self.hash


def line(seq: int, digest: str) -> str:
    return f"{MARK} {seq}:{digest}\n"


def head_path(root: Path) -> Path:
    return root / HEAD_FILE


def sidecar_path(target: Path) -> Path:
    return target.with_name(target.name + SIDECAR_SUFFIX)


def read_head_file(root: Path) -> Anchor | None:
    """The case's own anchor, or None where no entry was ever written since anchoring began."""
    path = head_path(root)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorError(f"cannot read {path}: {exc.strerror or exc}") from exc
    found = _MARKED.findall(text)
    if not found:
        raise AnchorError(f"{path} holds no audit head")
    seq, digest = found[-1]
    return Anchor(int(seq), digest, f"the head file {path}")


def record(root: Path, seq: int, digest: str) -> None:
    """Moves the case's head file forward to this entry; called after the entry is committed.

    Writers in other processes may finish out of order, so the file is replaced under a lock on
    the case folder and only by a later entry. A file that cannot be parsed is left for verify to
    report rather than overwritten.
    """
    path = head_path(root)
    with _locked(root):
        try:
            current = read_head_file(root)
        except AnchorError:
            return
        if current is not None and current.seq is not None and current.seq >= seq:
            return
        write_atomic(path, line(seq, digest))


def write_atomic(path: Path, text: str) -> None:
    """Whole or not at all, private to the examiner's account, on disk before it is visible."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_sidecar(target: Path, seq: int, digest: str, what: str) -> Path:
    """``FILE.audit-head``: the head right after this export was logged, to keep with the file."""
    path = sidecar_path(target)
    write_atomic(
        path,
        f"# veriscan audit log head after {what} {target.name} was exported; keep it apart from\n"
        f"# the case and check with: veriscan audit verify CASE --against {path.name}\n"
        + line(seq, digest),
    )
    return path


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: appends from one process at a time
        yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def parse(spec: str) -> Anchor:
    """``--against``: a head value, a bare entry hash, or a file that records one."""
    text = spec.strip()
    if text.startswith(MARK + " "):
        text = text[len(MARK) + 1 :].strip()
    if match := _VALUE.match(text):
        return Anchor(int(match.group(1)), match.group(2), f"the head {text}")
    if _HASH.match(text):
        return Anchor(None, text, f"the hash {text}")
    path = Path(spec)
    if not path.is_file():
        raise AnchorError(
            f"{spec!r} is neither a head (SEQ:HASH), an entry hash, nor a readable file"
        )
    return _from_file(path)


def _from_file(path: Path) -> Anchor:
    try:
        with path.open("rb") as fh:
            text = fh.read(MAX_READ).decode("utf-8", errors="replace")
    except OSError as exc:
        raise AnchorError(f"cannot read {path}: {exc.strerror or exc}") from exc
    found = _MARKED.findall(text)
    if found:
        seq, digest = found[-1]
        return Anchor(int(seq), digest, str(path))
    last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "")
    try:
        entry = json.loads(last)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        seq, digest = entry.get("seq"), entry.get("hash")
        if isinstance(seq, int) and isinstance(digest, str) and _HASH.match(digest):
            return Anchor(seq, digest, f"{path} (its last entry)")
    raise AnchorError(f"{path} records no audit head (no '{MARK} SEQ:HASH', no audit export line)")
