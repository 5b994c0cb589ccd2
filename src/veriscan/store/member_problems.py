"""Problems of archive members that have no content of their own.

A member veriscan cannot decode (an unsupported compression method, data past the end of a cut
archive, an encrypted member) is a location without a SHA-256. The JSONL export is one object per
content, so without this its problems would be in `status`, `show` and the report but not in the
export: an examiner working from the export must still see that the archive held more than it
shows. Each such problem is attached, with the member's locator, to the nearest enclosing archive
that has content, which is what the export schema's problem `locator` key is for.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from veriscan.domain import SEP
from veriscan.store import schema

Place = tuple[int, str]
_CHUNK = 500


def member_problems(conn: Connection) -> dict[Place, list[dict[str, Any]]]:
    """Keyed by the enclosing archive's (evidence id, locator); read once per export, since such
    members are rare (each one is itself a problem)."""
    p, loc = schema.problems.c, schema.locations.c
    q = (
        select(p.evidence_id, p.locator, p.analyzer, p.code, p.message)
        .join(schema.locations, and_(loc.evidence_id == p.evidence_id, loc.locator == p.locator))
        .where(p.sha256.is_(None), loc.sha256.is_(None), p.locator.contains(SEP))
        .order_by(p.id)
    )
    rows = list(conn.execute(q))
    wanted = {(r.evidence_id, a) for r in rows for a in _ancestors(r.locator)}
    with_content = _with_content(conn, sorted(wanted))
    out: dict[Place, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        for ancestor in _ancestors(r.locator):
            if (r.evidence_id, ancestor) in with_content:
                entry = {"analyzer": r.analyzer, "code": r.code, "message": r.message}
                out[(r.evidence_id, ancestor)].append({**entry, "locator": r.locator})
                break
    return out


def _ancestors(locator: str) -> list[str]:
    """Enclosing archives, nearest first."""
    segments = locator.split(SEP)
    return [SEP.join(segments[:i]) for i in range(len(segments) - 1, 0, -1)]


def _with_content(conn: Connection, places: list[Place]) -> set[Place]:
    loc = schema.locations.c
    found: set[Place] = set()
    for start in range(0, len(places), _CHUNK):
        chunk = places[start : start + _CHUNK]
        match = or_(*(and_(loc.evidence_id == e, loc.locator == lc) for e, lc in chunk))
        q = select(loc.evidence_id, loc.locator).where(match, loc.sha256.is_not(None))
        found.update((r.evidence_id, r.locator) for r in conn.execute(q))
    return found
