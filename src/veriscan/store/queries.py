"""Read side of the case store: the per-content objects that exports, `show` and reports share.

Everything streams in batches keyed by SHA-256, so exporting a case of millions of files needs
memory for one batch only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, or_, select

from veriscan.names import normalise_locator_text
from veriscan.redaction import WITHHELD as WITHHELD
from veriscan.redaction import withhold
from veriscan.store import schema
from veriscan.store.case import Case
from veriscan.store.match_queries import groups_for, matches_for
from veriscan.store.member_problems import member_problems

BATCH = 500


def _locations(conn: Connection, shas: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    loc, ev = schema.locations.c, schema.evidence.c
    q = (
        select(
            ev.label,
            loc.evidence_id,
            loc.locator,
            loc.size,
            loc.mtime,
            loc.kind,
            loc.extension_mismatch,
            loc.sha256,
            loc.deleted,
            loc.carved,
            loc.fs_times,
        )
        .join(schema.evidence, ev.id == loc.evidence_id)
        .where(loc.sha256.in_(shas))
        .order_by(ev.label, loc.locator)
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(q):
        out[r.sha256].append(
            {
                "evidence": r.label,
                "locator": r.locator,
                "size": r.size,
                "mtime": r.mtime,
                "extension_mismatch": bool(r.extension_mismatch),
                "deleted": bool(r.deleted),
                "carved": bool(r.carved),
                "fs_times": r.fs_times,
                "_evidence_id": r.evidence_id,
            }
        )
    return out


def _produced_with(conn: Connection, shas: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    lk = schema.links.c
    q = (
        select(lk.image_sha256, lk.model_sha256, lk.role, lk.strength, lk.via)
        .where(lk.image_sha256.in_(shas))
        .order_by(lk.image_sha256, lk.role, lk.model_sha256)
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(q):
        out[r.image_sha256].append(
            {"sha256": r.model_sha256, "role": r.role, "strength": r.strength, "via": r.via}
        )
    return out


Place = tuple[int, str]
ProblemIndex = tuple[dict[str, list[dict[str, Any]]], dict[Place, list[dict[str, Any]]]]


def _problems(conn: Connection, shas: Sequence[str], places: list[Place]) -> ProblemIndex:
    p = schema.problems.c
    conds: list[ColumnElement[bool]] = [p.sha256.in_(shas)]
    if places:
        ids = sorted({e for e, _ in places})
        conds.append(p.evidence_id.in_(ids) & p.locator.in_(sorted({loc for _, loc in places})))
    q = select(p.sha256, p.evidence_id, p.locator, p.analyzer, p.code, p.message).where(or_(*conds))
    by_sha: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_place: dict[Place, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(q.order_by(p.id)):
        entry = {"analyzer": r.analyzer, "code": r.code, "message": r.message}
        if r.sha256 is not None:
            by_sha[r.sha256].append(entry)
        else:
            by_place[(r.evidence_id, r.locator)].append({**entry, "locator": r.locator})
    return by_sha, by_place


def withhold_prompts(obj: dict[str, Any]) -> dict[str, Any]:
    """Remove prompt text, which may be disturbing and is evidence of intent, from an output.

    The policy (what counts as prompt text, by name and by content) lives in one place,
    :mod:`veriscan.redaction`, shared by every output.
    """
    return withhold(obj)


def content_objects(
    case: Case, shas: Sequence[str] | None = None, *, prompts: bool = True
) -> Iterator[dict[str, Any]]:
    """One JSON-ready object per unique content (the JSONL export schema), in SHA-256 order."""
    c = schema.contents.c
    q = select(schema.contents).order_by(c.sha256)
    if shas is not None:
        q = q.where(c.sha256.in_(list(shas)))
    with case.engine.connect() as conn, case.engine.connect() as side:
        members = member_problems(side)
        rows = conn.execute(q.execution_options(yield_per=BATCH)).mappings()
        for batch in rows.partitions(BATCH):
            keys = [r["sha256"] for r in batch]
            locs = _locations(side, keys)
            places = [(loc["_evidence_id"], loc["locator"]) for ls in locs.values() for loc in ls]
            probs = _problems(side, keys, places)
            produced = _produced_with(side, keys)
            matched, grouped = matches_for(side, keys), groups_for(side, keys)
            for row in batch:
                obj = _object(row, locs.get(row["sha256"], []), probs, members)
                obj["produced_with"] = produced.get(row["sha256"], [])
                obj["matches"] = matched.get(row["sha256"], [])
                obj["group"] = grouped.get(row["sha256"])
                yield obj if prompts else withhold_prompts(obj)


def _object(
    row: Any,
    locs: list[dict[str, Any]],
    probs: ProblemIndex,
    members: dict[Place, list[dict[str, Any]]],
) -> dict[str, Any]:
    by_sha, by_place = probs
    problems = list(by_sha.get(row["sha256"], []))
    for loc in locs:
        place = (loc.pop("_evidence_id"), loc["locator"])
        problems.extend(by_place.get(place, []))
        problems.extend(members.get(place, []))
    pdq = None
    if row["pdq_hash"] is not None:
        pdq = {"hash": row["pdq_hash"], "quality": row["pdq_quality"], "mode": row["pdq_mode"]}
    image = None
    if row["width"] is not None:
        image = {"width": row["width"], "height": row["height"]}
    return {
        "sha256": row["sha256"],
        "md5": row["md5"],
        "sha1": row["sha1"],
        "size": row["size"],
        "mime": row["mime"],
        "locations": locs,
        "image": image,
        "exif": row["exif"],
        "pdq": pdq,
        "problems": problems,
        "ai": row["ai"],
        "model": row["model"],
        "detector": row["detector"],
        "classifiers": row["classifiers"],
        "findings": row["findings"] or {},
        "thumbnail": row["thumbnail"],
    }


def find_shas(case: Case, needle: str) -> list[str]:
    """Resolve what an examiner typed (SHA-256, MD5, SHA-1 or a locator) to content hashes."""
    c, loc = schema.contents.c, schema.locations.c
    text = normalise_locator_text(needle.strip())
    with case.engine.connect() as conn:
        q = select(c.sha256).where(
            or_(c.sha256 == text.lower(), c.md5 == text.lower(), c.sha1 == text.lower())
        )
        found = [r[0] for r in conn.execute(q)]
        if not found:
            q2 = select(loc.sha256).where(loc.locator == text, loc.sha256.is_not(None))
            found = sorted({r[0] for r in conn.execute(q2)})
    return found


def location_problems(case: Case, needle: str) -> list[dict[str, Any]]:
    """Locations with no content (unreadable, encrypted) still answer `show` with their problems."""
    p, ev = schema.problems.c, schema.evidence.c
    with case.engine.connect() as conn:
        q = (
            select(ev.label, p.locator, p.analyzer, p.code, p.message)
            .join(schema.evidence, ev.id == p.evidence_id)
            .where(p.locator == normalise_locator_text(needle))
        )
        return [dict(r._mapping) for r in conn.execute(q)]


def summary(case: Case) -> dict[str, Any]:
    """Counts for `status` and the report header."""
    c, loc, p, ev, runs = (
        schema.contents.c,
        schema.locations.c,
        schema.problems.c,
        schema.evidence.c,
        schema.runs.c,
    )
    with case.engine.connect() as conn:
        by_type = {r[0]: r[1] for r in conn.execute(select(c.mime, func.count()).group_by(c.mime))}
        evidence = [dict(r._mapping) for r in conn.execute(select(schema.evidence).order_by(ev.id))]
        for item in evidence:
            item["locations"] = conn.execute(
                select(func.count()).where(loc.evidence_id == item["id"])
            ).scalar_one()
        by_problem = {
            r[0]: r[1] for r in conn.execute(select(p.code, func.count()).group_by(p.code))
        }
        run_rows = [dict(r._mapping) for r in conn.execute(select(schema.runs).order_by(runs.id))]
        total_bytes = conn.execute(select(func.coalesce(func.sum(c.size), 0))).scalar_one()
    return {
        "case": case.meta(),
        "evidence": evidence,
        "contents": sum(by_type.values()),
        "content_bytes": int(total_bytes),
        "locations": sum(e["locations"] for e in evidence),
        "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        "problems": sum(by_problem.values()),
        "problems_by_code": by_problem,
        "runs": run_rows,
    }


def problem_rows(case: Case, limit: int = 10_000) -> list[dict[str, Any]]:
    """Problems and where they were found; a content's problem names its first location."""
    p, ev, loc = schema.problems.c, schema.evidence.c, schema.locations.c
    first = (
        select(ev.label, loc.locator)
        .join(schema.evidence, ev.id == loc.evidence_id)
        .where(loc.sha256 == bindparam("sha"))
        .order_by(ev.label, loc.locator)
        .limit(1)
    )
    with case.engine.connect() as conn:
        q = (
            select(ev.label, p.locator, p.sha256, p.analyzer, p.code, p.message)
            .outerjoin(schema.evidence, ev.id == p.evidence_id)
            .order_by(p.id)
            .limit(limit)
        )
        rows = [dict(r._mapping) for r in conn.execute(q)]
        for row in rows:
            if row["locator"] is None and row["sha256"] is not None:
                found = conn.execute(first, {"sha": row["sha256"]}).first()
                if found is not None:
                    row["label"], row["locator"] = found
        return rows


_RANK = {"conclusive": 0, "strong": 1, "indicative": 2, "none found": 3}


def ai_summary(case: Case, top: int = 15) -> dict[str, Any]:
    """Counts per verdict, generator and evidence item, and the most frequent models and LoRAs."""
    c, loc, ev = schema.contents.c, schema.locations.c, schema.evidence.c
    verdict = func.coalesce(c.ai_verdict, "not analysed")
    models: Counter[str] = Counter()
    loras: Counter[str] = Counter()
    with case.engine.connect() as conn:
        rows = conn.execute(select(verdict, func.count()).group_by(verdict))
        by_verdict = dict(sorted(((r[0], r[1]) for r in rows), key=lambda vr: _RANK.get(vr[0], 9)))
        rows = conn.execute(
            select(c.ai_generator, func.count())
            .where(c.ai_generator.is_not(None))
            .group_by(c.ai_generator)
            .order_by(func.count().desc())
        )
        by_generator = {r[0]: r[1] for r in rows}
        per_item = (
            select(ev.label, verdict, func.count(func.distinct(c.sha256)))
            .join(schema.locations, loc.evidence_id == ev.id)
            .join(schema.contents, c.sha256 == loc.sha256)
            .group_by(ev.label, verdict)
            .order_by(ev.label)
        )
        by_item: dict[str, dict[str, int]] = defaultdict(dict)
        for label, v, n in conn.execute(per_item):
            by_item[label][v] = n
        with_params = select(c.ai).where(c.ai_verdict.in_(["conclusive", "strong", "indicative"]))
        for (ai,) in conn.execute(with_params.execution_options(yield_per=BATCH)):
            for params in (ai or {}).get("params", []):
                if params.get("model"):
                    models[str(params["model"])] += 1
                for lora in params.get("loras") or []:
                    if lora.get("name"):
                        loras[str(lora["name"])] += 1
    return {
        "by_verdict": by_verdict,
        "by_generator": by_generator,
        "by_item": dict(by_item),
        "models": models.most_common(top),
        "loras": loras.most_common(top),
    }
