"""Writing one work unit's result into the case: contents, locations, problems and artifacts.

One transaction per unit, so a unit is either wholly committed or absent (what makes an
interrupted ingest resumable). Artifacts (thumbnails) go to the case folder, never the database,
with private modes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from veriscan.domain import ContentRecord, LocationRecord, Problem, UnitResult
from veriscan.store import schema

if TYPE_CHECKING:
    from veriscan.store.case import Case

PRIVATE = 0o700


def make_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE)
    return path


def write_unit(case: Case, evidence_id: int, run_id: int, result: UnitResult) -> int:
    """Store one unit atomically; returns how many contents were new to the case."""
    with case.engine.begin() as conn:
        new = _insert_contents(case, conn, run_id, result.contents)
        for content in result.contents:
            if content.sha256 in new:
                insert_problems(conn, None, None, content.sha256, run_id, content.problems)
        if result.locations:
            conn.execute(
                insert(schema.locations),
                [_location_row(evidence_id, run_id, rec) for rec in result.locations],
            )
        for rec in result.locations:
            insert_problems(conn, evidence_id, str(rec.locator), None, run_id, rec.problems)
    return len(new)


def _insert_contents(
    case: Case, conn: Connection, run_id: int, records: list[ContentRecord]
) -> set[str]:
    if not records:
        return set()
    shas = [r.sha256 for r in records]
    c = schema.contents.c
    existing = {row[0] for row in conn.execute(select(c.sha256).where(c.sha256.in_(shas)))}
    rows = []
    new: set[str] = set()
    for rec in records:
        if rec.sha256 in existing or rec.sha256 in new:
            continue
        new.add(rec.sha256)
        rows.append(_content_row(case, rec, run_id))
    if rows:
        conn.execute(_insert_ignore(conn, schema.contents), rows)
    return new


def _content_row(case: Case, rec: ContentRecord, run_id: int) -> dict[str, Any]:
    thumb = None
    for art in rec.artifacts:
        written = _write_artifact(
            case, case.artifact_path(art.name, rec.sha256, art.suffix), art.data
        )
        if art.name == "thumbnail":
            thumb = written
    return {
        "sha256": rec.sha256,
        "md5": rec.md5,
        "sha1": rec.sha1,
        "size": rec.size,
        "mime": rec.mime,
        "width": rec.width,
        "height": rec.height,
        "exif": rec.exif,
        "pdq_hash": rec.pdq_hash,
        "pdq_quality": rec.pdq_quality,
        "pdq_mode": rec.pdq_mode,
        "findings": rec.findings,
        "ai_verdict": rec.ai["verdict"] if rec.ai else None,
        "ai_generator": rec.ai.get("generator") if rec.ai else None,
        "ai": rec.ai,
        "model_kind": rec.model.get("kind") if rec.model else None,
        "model_family": rec.model.get("family") if rec.model else None,
        "model": rec.model,
        "detector": rec.detector,
        "classifiers": rec.classifiers,
        "thumbnail": thumb,
        "run_id": run_id,
    }


def _write_artifact(case: Case, path: Path, data: bytes) -> str:
    folder = path.parent
    if folder not in case._made_dirs:
        for level in reversed(folder.relative_to(case.root).parents[:-1]):
            make_private_dir(case.root / level)
        make_private_dir(folder)
        case._made_dirs.add(folder)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return str(path.relative_to(case.root))


def _location_row(evidence_id: int, run_id: int, rec: LocationRecord) -> dict[str, Any]:
    return {
        "evidence_id": evidence_id,
        "locator": str(rec.locator),
        "depth": rec.locator.depth,
        "name": rec.locator.name,
        "size": rec.size,
        "mtime": rec.mtime,
        "kind": rec.kind.value,
        "link_target": rec.link_target,
        "sha256": rec.sha256,
        "extension_mismatch": rec.extension_mismatch,
        "run_id": run_id,
        "deleted": rec.deleted,
        "carved": rec.carved,
        "fs_times": rec.fs_times,
    }


def insert_problems(
    conn: Connection,
    evidence_id: int | None,
    locator: str | None,
    sha256: str | None,
    run_id: int,
    problems: list[Problem],
) -> None:
    if problems:
        conn.execute(
            insert(schema.problems),
            [
                {
                    "evidence_id": evidence_id,
                    "locator": locator,
                    "sha256": sha256,
                    "analyzer": p.analyzer,
                    "code": p.code,
                    "message": p.message,
                    "run_id": run_id,
                }
                for p in problems
            ],
        )


def _insert_ignore(conn: Connection, table: Any) -> Any:
    """INSERT that skips rows whose key exists: another writer may have stored the same content."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
