"""The case's audit log: append-only, each entry chained to the one before by its SHA-256.

An examiner's decisions have to stand up in court, so every login, reveal, categorisation, export
and settings change becomes an entry whose hash covers its content and the previous entry's hash.
Editing an entry breaks its own hash; deleting or reordering entries breaks the sequence numbers
and the chain; cutting entries off the end is caught by the head record written in the same
transaction. `audit verify` says where the first break is.

The database alone cannot prove that nothing was cut off or wiped (whoever writes it can move the
head record back, or empty both tables), so the head is also anchored outside it (see
``anchor``): the case's head file, rewritten on every entry, and the head recorded with every
export and report, which verify holds the log against. Details are read back strictly: a JSON
object with a duplicate key, which one reader takes first and another last, is a break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from veriscan.review import anchor
from veriscan.review.anchor import Anchor
from veriscan.store import schema
from veriscan.store.case import Case

GENESIS = "0" * 64
RETRIES = 5


def entry_hash(seq: int, at: str, user: str, action: str, obj: str, details: Any, prev: str) -> str:
    body = {
        "seq": seq,
        "at": at,
        "user": user,
        "action": action,
        "object": obj,
        "details": details,
        "prev": prev,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    user: str
    action: str
    object: str
    details: dict[str, Any]
    prev: str
    hash: str


def append(
    case: Case, user: str, action: str, obj: str, details: dict[str, Any] | None = None
) -> AuditEntry:
    """Adds one entry after the current head; concurrent writers retry on the unique sequence.

    The entry is on disk before the head file names it (see ``durable``), so a crash can leave
    the file behind the log, never ahead of it, which verify would report as entries cut off.
    """
    for _ in range(RETRIES):
        try:
            with case.engine.connect() as conn, durable(conn), conn.begin():
                entry = append_in(conn, user, action, obj, details)
        except (IntegrityError, OperationalError):
            continue
        committed(case, entry)
        return entry
    raise RuntimeError(f"audit log busy: could not append {action!r} after {RETRIES} tries")


def append_in(
    conn: Connection, user: str, action: str, obj: str, details: dict[str, Any] | None = None
) -> AuditEntry:
    """Writes one entry inside the caller's transaction, so a change and its audit entry commit
    together or not at all. The caller opens the connection with ``durable``, retries the whole
    transaction on IntegrityError (another writer took the sequence number) and, once committed,
    calls ``committed`` so the head file follows."""
    head = schema.audit_head.c
    payload = details or {}
    last = conn.execute(select(head.seq, head.hash).where(head.id == 1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    digest = entry_hash(seq, at, user, action, obj, payload, prev)
    conn.execute(
        insert(schema.audit).values(
            seq=seq,
            at=at,
            user=user,
            action=action,
            object=obj,
            details=payload,
            prev=prev,
            hash=digest,
        )
    )
    if last:
        conn.execute(
            update(schema.audit_head)
            .where(head.id == 1, head.seq == last.seq)
            .values(seq=seq, hash=digest)
        )
    else:
        conn.execute(insert(schema.audit_head).values(id=1, seq=seq, hash=digest))
    return AuditEntry(seq, at, user, action, obj, payload, prev, digest)


def committed(case: Case, entry: AuditEntry) -> None:
    """After the transaction holding ``entry`` committed: the head file names it."""
    anchor.record(case.root, entry.seq, entry.hash)


@contextmanager
def durable(conn: Connection) -> Iterator[None]:
    """SQLite in WAL mode with synchronous=NORMAL (the case's setting, for ingest speed) makes a
    commit durable only at the next checkpoint; an audit entry is worth the fsync of FULL."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA synchronous=FULL")
        conn.commit()
    try:
        yield
    finally:
        if sqlite:
            conn.rollback()
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            conn.commit()


def entries(case: Case) -> Iterator[AuditEntry]:
    """In stored order (row id), which is what verification checks the chain against."""
    a = schema.audit.c
    with case.engine.connect() as conn:
        for r in conn.execute(select(schema.audit).order_by(a.id)):
            yield AuditEntry(r.seq, r.at, r.user, r.action, r.object, r.details, r.prev, r.hash)


class NotCanonicalError(ValueError):
    """Stored details that readers could disagree on."""


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise NotCanonicalError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise NotCanonicalError(f"non-standard JSON constant {name}")


def strict_details(raw: str) -> Any:
    """The stored details text parsed so that only one reading exists: no duplicate keys (SQLite's
    json_extract takes the first, Python's json the last), no NaN or Infinity."""
    return json.loads(raw, object_pairs_hook=_strict_object, parse_constant=_no_constant)


def _stored(case: Case) -> Iterator[tuple[Any, str]]:
    """Rows in stored order with the details as the database holds them, not as decoded."""
    a = schema.audit.c
    query = select(
        a.seq, a.at, a.user, a.action, a.object, cast(a.details, Text).label("raw"), a.prev, a.hash
    ).order_by(a.id)
    with case.engine.connect() as conn:
        for r in conn.execute(query):
            yield r, str(r.raw)


def _head(case: Case) -> tuple[int, str]:
    """The database's head record: the last entry's sequence number and hash."""
    h = schema.audit_head.c
    with case.engine.connect() as conn:
        head = conn.execute(select(h.seq, h.hash).where(h.id == 1)).first()
    return (int(head.seq), str(head.hash)) if head else (0, GENESIS)


def audit_head(case: Case) -> str:
    """``SEQ:HASH`` of the last entry as the database records it, for a report to print."""
    seq, digest = _head(case)
    return f"{seq}:{digest}"


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    position: int | None = None
    problem: str = ""
    anchors: tuple[Anchor, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def verify(case: Case, against: Sequence[Anchor] = ()) -> Verification:
    """The first break in the chain, by 1-based position in stored order, or ok.

    The case's head file is read before the log, so an entry appended meanwhile cannot make the
    file look ahead of the log; then every anchor (the head file, then ``against``) must name an
    entry the log still holds.
    """
    notes: list[str] = []
    anchors: list[Anchor] = []
    try:
        own = anchor.read_head_file(case.root)
    except anchor.AnchorError as exc:
        return Verification(False, 0, GENESIS, None, f"{exc}: the head file was tampered with")
    if own is not None:
        anchors.append(own)
    anchors.extend(against)
    wanted = {a.seq: a for a in anchors if a.seq is not None}
    unplaced = {a.hash for a in anchors if a.seq is None}
    prev, count = GENESIS, 0
    for position, (e, raw) in enumerate(_stored(case), start=1):
        count = position
        broken = _chain_break(e, raw, position, prev)
        if broken:
            return Verification(False, count, prev, position, broken)
        found = wanted.get(position)
        if found is not None and found.hash != e.hash:
            return Verification(
                False,
                count,
                prev,
                position,
                f"entry {position} is not the one {found.source} recorded: "
                "the log was rewritten from this entry on (or replaced as a whole)",
            )
        unplaced.discard(e.hash)
        prev = e.hash
    head_seq, head_hash = _head(case)
    if (head_seq, head_hash) != (count, prev):
        return Verification(
            False,
            count,
            prev,
            count + 1,
            f"the log ends at entry {count} but its head record says {head_seq}: "
            "entries were cut off the end (or the head record was altered)",
        )
    for a in anchors:
        if a.seq is not None and a.seq > count:
            return Verification(
                False,
                count,
                prev,
                count + 1,
                f"the log ends at entry {count} but {a.source} recorded entry {a.seq}: "
                "entries were cut off the end, or the log was wiped",
            )
        if a.seq is None and a.hash in unplaced:
            return Verification(
                False,
                count,
                prev,
                None,
                f"no entry has the hash {a.hash} that {a.source} recorded: "
                "the log was rewritten, cut off or wiped",
            )
    if own is None and count:
        notes.append(
            f"no head file {anchor.HEAD_FILE} in the case folder (a case from before it was "
            "written, or it was deleted): only the database's own head record was checked"
        )
    return Verification(True, count, prev, anchors=tuple(anchors), notes=tuple(notes))


def _chain_break(e: Any, raw: str, position: int, prev: str) -> str:
    if e.seq != position:
        return (
            f"sequence number {e.seq} where {position} was expected: "
            "an entry before it was deleted, or entries were reordered"
        )
    if e.prev != prev:
        return (
            "does not follow the entry before it (previous-hash mismatch): "
            "entries were deleted, inserted or reordered"
        )
    try:
        details = strict_details(raw)
    except NotCanonicalError as exc:
        return (
            f"its details are not canonical JSON ({exc}): readers would disagree on what it "
            "says, so it was written by something other than veriscan"
        )
    except ValueError:
        return "its details are not JSON: content was edited after writing"
    if entry_hash(e.seq, e.at, e.user, e.action, e.object, details, e.prev) != e.hash:
        return "content was edited after writing"
    return ""
