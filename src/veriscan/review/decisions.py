"""Reviewers' decisions: what category a file is in, who said so, when, and what it replaced.

Decisions are never updated in place: each one is a new row with the next version number for
that file, so the history of a file's categorisation is kept for court, and an undo is itself a
decision (restoring the previous category) rather than a deletion. Two reviewers deciding on the
same file at once cannot both win: a reviewer states the version they saw, and the second write
finds the version taken (a unique constraint) and gets a :class:`ConflictError`. Every decision and
every conflict goes to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from veriscan.matching.lists.schemes import Scheme
from veriscan.review import audit
from veriscan.review.users import User
from veriscan.store import schema
from veriscan.store.case import Case

DECIDING_ROLES = frozenset({"admin", "lead", "reviewer"})


class DecisionError(Exception):
    """A decision was refused (role, unknown file, category not in the scheme)."""


class ConflictError(DecisionError):
    """Someone else decided on the file since the version the reviewer saw."""

    def __init__(self, sha256: str, seen: int, current: int) -> None:
        super().__init__(
            f"{sha256[:16]}... was categorised by someone else meanwhile "
            f"(you saw version {seen}, it is now at {current}): reload and decide again"
        )
        self.sha256, self.seen, self.current = sha256, seen, current


@dataclass(frozen=True)
class Decision:
    sha256: str
    version: int
    scheme: str
    category: str | None
    note: str | None
    tags: tuple[str, ...]
    user: str
    at: str
    undoes: int | None = None


def decision_from_row(r: Any) -> Decision:
    return Decision(
        r.sha256, r.version, r.scheme, r.category, r.note, tuple(r.tags), r.user, r.at, r.undoes
    )


def history(case: Case, sha256: str) -> list[Decision]:
    d = schema.decisions.c
    with case.engine.connect() as conn:
        rows = conn.execute(select(schema.decisions).where(d.sha256 == sha256).order_by(d.version))
        return [decision_from_row(r) for r in rows]


def current_select(shas: Sequence[str] | None = None) -> Select[Any]:
    """The latest decision row of each file (of ``shas`` when given), for use in larger queries."""
    d = schema.decisions.c
    latest = select(d.sha256, func.max(d.version).label("v")).group_by(d.sha256)
    if shas is not None:
        latest = latest.where(d.sha256.in_(list(shas)))
    sub = latest.subquery()
    return select(schema.decisions).join(sub, (d.sha256 == sub.c.sha256) & (d.version == sub.c.v))


def current(case: Case, shas: Sequence[str] | None = None) -> dict[str, Decision]:
    """The latest decision of each file (all decided files when ``shas`` is None)."""
    with case.engine.connect() as conn:
        return {r.sha256: decision_from_row(r) for r in conn.execute(current_select(shas))}


def _version(conn: Connection, sha256: str) -> int:
    d = schema.decisions.c
    return int(conn.execute(select(func.max(d.version)).where(d.sha256 == sha256)).scalar() or 0)


def categorise(
    case: Case,
    user: User,
    sha256: str,
    category: str | None,
    scheme: Scheme,
    *,
    seen_version: int,
    note: str | None = None,
    tags: Sequence[str] = (),
    undoes: int | None = None,
) -> Decision:
    """Records a decision on one file seen at ``seen_version`` (0 = never decided)."""
    if user.role not in DECIDING_ROLES:
        audit.append(case, user.username, "categorise-refused", sha256, {"role": user.role})
        raise DecisionError(f"{user.username} is an {user.role}: observers change nothing")
    if category is not None and category not in {c.key for c in scheme.categories}:
        raise DecisionError(f"category {category!r} is not in scheme {scheme.name}")
    with case.engine.connect() as conn:
        known = conn.execute(
            select(schema.contents.c.sha256).where(schema.contents.c.sha256 == sha256)
        ).first()
    if known is None:
        raise DecisionError(f"no content {sha256!r} in the case")
    action = "undo" if undoes is not None else "categorise"
    for _ in range(audit.RETRIES):
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        try:
            with case.engine.connect() as conn, audit.durable(conn), conn.begin():
                now_at = _version(conn, sha256)
                if now_at != seen_version:
                    raise ConflictError(sha256, seen_version, now_at)
                conn.execute(
                    insert(schema.decisions).values(
                        sha256=sha256,
                        version=seen_version + 1,
                        scheme=scheme.name,
                        category=category,
                        note=note,
                        tags=list(tags),
                        user=user.username,
                        at=at,
                        undoes=undoes,
                    )
                )
                details = {"category": category, "scheme": scheme.name, "version": seen_version + 1}
                entry = audit.append_in(conn, user.username, action, sha256, details)
        except (IntegrityError, OperationalError):
            # another writer got there first (unique version), took the audit sequence number,
            # or holds the database (busy snapshot): only the first is a conflict
            with case.engine.connect() as conn:
                now_at = _version(conn, sha256)
            if now_at == seen_version:
                continue
            conflict = ConflictError(sha256, seen_version, now_at)
            audit.append(case, user.username, "categorise-conflict", sha256, {"seen": seen_version})
            raise conflict from None
        except ConflictError as conflict:
            audit.append(
                case,
                user.username,
                "categorise-conflict",
                sha256,
                {"seen": seen_version, "current": conflict.current},
            )
            raise
        audit.committed(case, entry)
        break
    else:
        raise DecisionError("the case database is busy, try again")
    return Decision(
        sha256,
        seen_version + 1,
        scheme.name,
        category,
        note,
        tuple(tags),
        user.username,
        at,
        undoes,
    )


def undo(case: Case, user: User, sha256: str, scheme: Scheme, *, seen_version: int) -> Decision:
    """Restores the category before the latest decision, as a new decision."""
    past = history(case, sha256)
    if not past:
        raise DecisionError(f"{sha256[:16]}... has no decision to undo")
    latest = past[-1]
    before = past[-2] if len(past) > 1 else None
    return categorise(
        case,
        user,
        sha256,
        before.category if before else None,
        scheme,
        seen_version=seen_version,
        note=before.note if before else None,
        tags=before.tags if before else (),
        undoes=latest.version,
    )


def group_members(case: Case, sha256: str) -> list[str]:
    """Every file in the near-duplicate group of ``sha256`` (just itself when it has none)."""
    g = schema.dup_groups.c
    with case.engine.connect() as conn:
        group = conn.execute(select(g.group_id).where(g.sha256 == sha256)).scalar()
        if group is None:
            return [sha256]
        rows = conn.execute(select(g.sha256).where(g.group_id == group).order_by(g.sha256))
        return [r.sha256 for r in rows]


def categorise_group(
    case: Case, user: User, sha256: str, category: str | None, scheme: Scheme
) -> tuple[list[Decision], list[str]]:
    """One decision per member of the file's group, each at the version it has now.

    A member someone else decides on in the same instant is reported back, not overwritten.
    """
    members = group_members(case, sha256)
    versions = {s: d.version for s, d in current(case, members).items()}
    made, conflicts = [], []
    for member in members:
        try:
            made.append(
                categorise(
                    case, user, member, category, scheme, seen_version=versions.get(member, 0)
                )
            )
        except ConflictError:
            conflicts.append(member)
    return made, conflicts
