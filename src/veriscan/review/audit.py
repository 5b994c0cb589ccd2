"""The case's audit log: append-only, each entry chained to the one before by its SHA-256.

An examiner's decisions have to stand up in court, so every login, reveal, categorisation, export
and settings change becomes an entry whose hash covers its content and the previous entry's hash.
Editing an entry breaks its own hash; deleting or reordering entries breaks the sequence numbers
and the chain; cutting entries off the end is caught by the head record written in the same
transaction. `audit verify` says where the first break is. Someone able to rewrite the whole
database can rebuild a consistent chain, which is why `audit export` prints the head hash for
the examiner to record outside the case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

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
    """Adds one entry after the current head; concurrent writers retry on the unique sequence."""
    head = schema.audit_head.c
    payload = details or {}
    for _ in range(RETRIES):
        try:
            with case.engine.begin() as conn:
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
        except (IntegrityError, OperationalError):
            continue
    raise RuntimeError(f"audit log busy: could not append {action!r} after {RETRIES} tries")


def entries(case: Case) -> Iterator[AuditEntry]:
    """In stored order (row id), which is what verification checks the chain against."""
    a = schema.audit.c
    with case.engine.connect() as conn:
        for r in conn.execute(select(schema.audit).order_by(a.id)):
            yield AuditEntry(r.seq, r.at, r.user, r.action, r.object, r.details, r.prev, r.hash)


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    position: int | None = None
    problem: str = ""


def verify(case: Case) -> Verification:
    """The first break in the chain, by 1-based position in stored order, or ok."""
    prev, count = GENESIS, 0
    for position, e in enumerate(entries(case), start=1):
        count = position
        if e.seq != position:
            return Verification(
                False,
                count,
                prev,
                position,
                f"sequence number {e.seq} where {position} was expected: "
                "an entry before it was deleted, or entries were reordered",
            )
        if e.prev != prev:
            return Verification(
                False,
                count,
                prev,
                position,
                "does not follow the entry before it (previous-hash mismatch): "
                "entries were deleted, inserted or reordered",
            )
        if entry_hash(e.seq, e.at, e.user, e.action, e.object, e.details, e.prev) != e.hash:
            return Verification(False, count, prev, position, "content was edited after writing")
        prev = e.hash
    h = schema.audit_head.c
    with case.engine.connect() as conn:
        head = conn.execute(select(h.seq, h.hash).where(h.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (count, prev):
        return Verification(
            False,
            count,
            prev,
            count + 1,
            f"the log ends at entry {count} but its head record says {head_seq}: "
            "entries were cut off the end (or the head record was altered)",
        )
    return Verification(True, count, prev)
