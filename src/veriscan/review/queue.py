"""The triage queue: which images and videos a reviewer sees, filtered, in priority order (the
review app draws it; the rule lives here, beside the decisions it orders).

Priority rule (documented in the README; `serve --priority` chooses): by default files with no
AI-generation evidence and no match on a flagged list come first, because they may show a real,
unidentified victim; then files on a flagged list; then files with AI evidence.
"unreviewed-first" puts files without a decision before all decided ones (same rule inside);
"sha256" is plain hash order. Within a rank, SHA-256 order keeps paging stable.
Known-good files (allow-lists such as NSRL) are hidden unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select

from veriscan.review.decisions import current_select, decision_from_row
from veriscan.store import schema
from veriscan.store.case import Case

PAGE = 60
ORIGINS = ("allocated", "deleted", "carved")
NO_EVIDENCE = "none found"


@dataclass(frozen=True)
class Filters:
    verdict: str = ""
    kind: str = ""
    evidence: str = ""
    custodian: str = ""
    generator: str = ""
    listed: str = ""
    reviewed: str = ""
    category: str = ""
    group: str = ""
    known_good: bool = False
    page: int = 0
    origin: str = ""
    classifier: str = ""
    """A supplied classifier's name: only contents it flagged."""
    by_score: str = ""
    """``NAME:LABEL``: highest score for that classifier's label first (unscored last)."""

    def query_string(self, **changes: Any) -> str:
        from urllib.parse import urlencode

        values = {**self.__dict__, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", False, 0)})


@dataclass
class Cell:
    sha256: str
    mime: str
    verdict: str | None
    generator: str | None
    rank: int
    thumbnail: bool
    flagged: bool = False
    category: str | None = None
    version: int = 0
    group_size: int = 0
    lists: list[str] = field(default_factory=list)


def _conditions(f: Filters) -> list[ColumnElement[bool]]:
    c, m, d, g = schema.contents.c, schema.matches.c, schema.decisions.c, schema.dup_groups.c
    loc, ev = schema.locations.c, schema.evidence.c
    where: list[ColumnElement[bool]] = [
        or_(c.mime.like("image/%"), c.mime.like("video/%")),
    ]
    if not f.known_good:
        where.append(~exists().where(m.sha256 == c.sha256, m.known_good.is_(True)))
    if f.verdict == NO_EVIDENCE:
        where.append(or_(c.ai_verdict.is_(None), c.ai_verdict == NO_EVIDENCE))
    elif f.verdict:
        where.append(c.ai_verdict == f.verdict)
    if f.kind:
        where.append(c.mime.like(f"{f.kind}/%"))
    if f.generator:
        where.append(c.ai_generator == f.generator)
    if f.custodian:
        where.append(
            exists().where(
                loc.sha256 == c.sha256, loc.evidence_id == ev.id, ev.custodian == f.custodian
            )
        )
    if f.evidence:
        where.append(
            exists().where(loc.sha256 == c.sha256, loc.evidence_id == ev.id, ev.label == f.evidence)
        )
    if f.listed == "none":
        where.append(~exists().where(m.sha256 == c.sha256, m.known_good.is_(False)))
    elif f.listed:
        where.append(exists().where(m.sha256 == c.sha256, m.list_name == f.listed))
    if f.reviewed in ("yes", "no"):
        decided = exists().where(d.sha256 == c.sha256)
        where.append(decided if f.reviewed == "yes" else ~decided)
    if f.category:
        wanted = None if f.category == "uncategorised" else f.category
        latest = current_select().where(
            d.category.is_(None) if wanted is None else d.category == wanted
        )
        where.append(c.sha256.in_(latest.with_only_columns(d.sha256)))
    if f.group:
        where.append(exists().where(g.sha256 == c.sha256, g.group_id == f.group))
    if f.origin in ORIGINS:
        found = {
            "deleted": loc.deleted.is_(True),
            "carved": loc.carved.is_(True),
            "allocated": and_(loc.deleted.is_(False), loc.carved.is_(False)),
        }[f.origin]
        where.append(exists().where(loc.sha256 == c.sha256, found))
    if f.classifier:
        where.append(c.classifiers[(f.classifier, "flagged")].as_boolean().is_(True))
    return where


def _score(by_score: str) -> ColumnElement[float] | None:
    name, _, label = by_score.partition(":")
    if not name or not label:
        return None
    value: ColumnElement[float] = schema.contents.c.classifiers[(name, "scores", label)].as_float()
    return value


PRIORITIES = ("victims-first", "unreviewed-first", "sha256")


def _rank(priority: str) -> ColumnElement[int]:
    c, m, d = schema.contents.c, schema.matches.c, schema.decisions.c
    flagged = exists().where(m.sha256 == c.sha256, m.known_good.is_(False))
    no_ai = or_(c.ai_verdict.is_(None), c.ai_verdict == NO_EVIDENCE)
    victims = case((and_(no_ai, ~flagged), 0), (~no_ai, 2), else_=1)
    if priority == "sha256":
        return case((c.sha256.is_(None), 1), else_=0)
    if priority == "unreviewed-first":
        return case((exists().where(d.sha256 == c.sha256), 3), else_=0) + victims
    return victims


def page(
    case_: Case, f: Filters, size: int = PAGE, priority: str = "victims-first"
) -> tuple[list[Cell], int]:
    """One page of cells and the number of files the filters leave."""
    c = schema.contents.c
    where = _conditions(f)
    rank = _rank(priority).label("rank")
    score = _score(f.by_score)
    first = [] if score is None else [case((score.is_(None), 1), else_=0), score.desc()]
    q = (
        select(c.sha256, c.mime, c.ai_verdict, c.ai_generator, c.thumbnail, rank)
        .where(*where)
        .order_by(*first, rank, c.sha256)
        .limit(size)
        .offset(max(0, f.page) * size)
    )
    with case_.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(schema.contents).where(*where))
        count = int(total.scalar_one())
        cells = [
            Cell(r.sha256, r.mime, r.ai_verdict, r.ai_generator, r.rank, bool(r.thumbnail))
            for r in conn.execute(q)
        ]
        _annotate(conn, cells)
    return cells, count


def _annotate(conn: Any, cells: list[Cell]) -> None:
    shas = [cell.sha256 for cell in cells]
    if not shas:
        return
    by_sha = {cell.sha256: cell for cell in cells}
    m, g = schema.matches.c, schema.dup_groups.c
    for sha, name, known in conn.execute(
        select(m.sha256, m.list_name, m.known_good).where(m.sha256.in_(shas)).distinct()
    ):
        if not known:
            by_sha[sha].flagged = True
            if name not in by_sha[sha].lists:
                by_sha[sha].lists.append(name)
    for row in conn.execute(current_select(shas)):
        decision = decision_from_row(row)
        by_sha[decision.sha256].category = decision.category
        by_sha[decision.sha256].version = decision.version
    for sha, size in conn.execute(select(g.sha256, g.size).where(g.sha256.in_(shas))):
        by_sha[sha].group_size = size


def choices(case_: Case) -> dict[str, list[str]]:
    """Values the filter menus offer, read from the case (capabilities that never ran: none)."""
    c, ev, m = schema.contents.c, schema.evidence.c, schema.matches.c
    with case_.engine.connect() as conn:
        verdicts = [v for (v,) in conn.execute(select(c.ai_verdict).distinct()) if v]
        generators = [v for (v,) in conn.execute(select(c.ai_generator).distinct()) if v]
        labels = [v for (v,) in conn.execute(select(ev.label).order_by(ev.label))]
        custodians = [v for (v,) in conn.execute(select(ev.custodian).distinct()) if v]
        lists = [v for (v,) in conn.execute(select(m.list_name).distinct())]
        recorded = [v for (v,) in conn.execute(select(schema.runs.c.settings))]
    if NO_EVIDENCE not in verdicts:
        verdicts.append(NO_EVIDENCE)
    return {
        "verdicts": sorted(verdicts),
        "generators": sorted(generators),
        "evidence": labels,
        "custodians": sorted(custodians),
        "lists": sorted(lists),
        "classifiers": sorted(classifier_labels(recorded)),
        "scores": sorted(
            f"{name}:{label}"
            for name, labels in classifier_labels(recorded).items()
            for label in labels
        ),
    }


def classifier_labels(recorded: list[Any]) -> dict[str, list[str]]:
    """{name: labels} of the classifiers the case's runs were configured with (run records)."""
    found: dict[str, list[str]] = {}
    for settings in recorded:
        tables = settings.get("plugin_tables") if isinstance(settings, dict) else None
        named = tables.get("classifiers") if isinstance(tables, dict) else None
        for name, table in (named or {}).items():
            labels = table.get("labels") if isinstance(table, dict) else None
            if isinstance(labels, list):
                found[name] = [str(label) for label in labels]
    return found
