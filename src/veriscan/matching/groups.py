"""Near-duplicate groups inside a case: images within PDQ distance of each other, linked.

A series of edits, crops and re-encodings of one picture should reach a reviewer once. Groups are
connected components of the "within threshold" graph (so a chain of small edits stays together),
each shown through a representative: the best-quality, largest member. The table is rebuilt from
the stored hashes after every ingest, so it converges whatever order evidence arrived in.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, insert, select

from veriscan.matching.pdqindex import PdqIndex, hex_to_words
from veriscan.store import schema
from veriscan.store.case import Case

THRESHOLD = 31
MIN_QUALITY = 50


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def refresh_groups(case: Case, threshold: int = THRESHOLD, min_quality: int = MIN_QUALITY) -> int:
    """Rebuilds the group table; returns how many groups of two or more there are."""
    c = schema.contents.c
    with case.engine.connect() as conn:
        rows = conn.execute(
            select(c.sha256, c.pdq_hash, c.pdq_quality, c.width, c.height, c.size)
            .where(c.pdq_hash.is_not(None), c.pdq_quality >= min_quality)
            .order_by(c.sha256)
        ).all()
    groups: list[dict[str, object]] = []
    if rows:
        hashes = [r.pdq_hash for r in rows]
        unique, inverse = np.unique(np.asarray(hashes), return_inverse=True)
        words = hex_to_words(unique.tolist())
        q, ids, _ = PdqIndex.build(words).search(words, threshold)
        parent = list(range(len(rows)))
        first_of: dict[int, int] = {}
        for row_index, u in enumerate(inverse.tolist()):
            if u in first_of:
                parent[_find(parent, row_index)] = _find(parent, first_of[u])
            else:
                first_of[u] = row_index
        for a, b in zip(q.tolist(), ids.tolist(), strict=True):
            if a != b:
                ra, rb = _find(parent, first_of[a]), _find(parent, first_of[b])
                if ra != rb:
                    parent[ra] = rb
        members: dict[int, list[int]] = {}
        for i in range(len(rows)):
            members.setdefault(_find(parent, i), []).append(i)
        for indexes in members.values():
            if len(indexes) < 2:
                continue
            best = min(
                indexes,
                key=lambda i: (
                    -(rows[i].pdq_quality or 0),
                    -((rows[i].width or 0) * (rows[i].height or 0)),
                    -rows[i].size,
                    rows[i].sha256,
                ),
            )
            rep_words = words[inverse[best] : inverse[best] + 1]
            for i in indexes:
                diff = np.bitwise_xor(words[inverse[i]], rep_words[0])
                distance = sum(int(w).bit_count() for w in diff)
                groups.append(
                    {
                        "sha256": rows[i].sha256,
                        "group_id": rows[best].sha256,
                        "size": len(indexes),
                        "distance": distance,
                    }
                )
    with case.engine.begin() as conn:
        conn.execute(delete(schema.dup_groups))
        if groups:
            conn.execute(insert(schema.dup_groups), groups)
    return len({g["group_id"] for g in groups})
