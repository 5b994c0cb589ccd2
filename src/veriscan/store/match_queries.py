"""Hash-list matches and near-duplicate groups, as the JSONL export and `show` present them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from veriscan.store import schema
from veriscan.store.case import Case


def matches_for(conn: Connection, shas: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    m = schema.matches.c
    out: dict[str, list[dict[str, Any]]] = {}
    q = (
        select(m.sha256, m.list_name, m.entry, m.hash_type, m.distance, m.category, m.series)
        .add_columns(m.labels, m.known_good)
        .where(m.sha256.in_(list(shas)))
        .order_by(m.sha256, m.list_name, m.distance, m.hash_type, m.entry)
    )
    for row in conn.execute(q):
        out.setdefault(row.sha256, []).append(
            {
                "list": row.list_name,
                "entry": row.entry,
                "hash_type": row.hash_type,
                "distance": row.distance,
                "category": row.category,
                "series": row.series,
                "labels": row.labels,
                "known_good": bool(row.known_good),
            }
        )
    return out


def groups_for(conn: Connection, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
    g = schema.dup_groups.c
    q = select(g.sha256, g.group_id, g.size, g.distance).where(g.sha256.in_(list(shas)))
    return {
        row.sha256: {
            "id": row.group_id,
            "representative": row.group_id == row.sha256,
            "size": row.size,
            "distance": row.distance,
        }
        for row in conn.execute(q)
    }


def matching_summary(case: Case) -> dict[str, Any]:
    with case.engine.connect() as conn:
        return match_summary(conn)


def match_summary(conn: Connection) -> dict[str, Any]:
    """Matched contents per list and hash type, and how many contents are known-good."""
    m = schema.matches.c
    per_list: dict[str, dict[str, int]] = {}
    q = select(m.list_name, m.hash_type, func.count(func.distinct(m.sha256))).group_by(
        m.list_name, m.hash_type
    )
    for name, kind, n in conn.execute(q):
        per_list.setdefault(name, {})[kind] = int(n)
    known = conn.execute(
        select(func.count(func.distinct(m.sha256))).where(m.known_good.is_(True))
    ).scalar_one()
    flagged = conn.execute(
        select(func.count(func.distinct(m.sha256))).where(m.known_good.is_(False))
    ).scalar_one()
    groups = conn.execute(
        select(func.count(func.distinct(schema.dup_groups.c.group_id)))
    ).scalar_one()
    return {
        "lists": per_list,
        "known_good": int(known),
        "matched": int(flagged),
        "groups": int(groups),
    }
