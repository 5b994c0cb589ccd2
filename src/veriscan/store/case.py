"""A case: a folder (mode 0700) holding thumbnails and either a SQLite database in WAL mode or,
for a team, the URL of a PostgreSQL database (``database.url``) shared by every examiner.

Writes come only from the coordinating process, one transaction per work unit, so a unit is either
wholly committed or absent: that is what makes an interrupted ingest resumable.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import OperationalError

from veriscan import __version__
from veriscan.domain import RunInfo, UnitResult
from veriscan.store import schema
from veriscan.store.unit_writer import make_private_dir, write_unit

DB_NAME = "case.db"
DB_URL_NAME = "database.url"
_SEARCH_PATH = re.compile(r"search_path=([A-Za-z_][A-Za-z0-9_]*)")
MIGRATIONS = Path(__file__).parent / "migrations"


class CaseError(Exception):
    """The case folder is missing, not a case, or cannot be created."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class EvidenceRow:
    id: int
    label: str
    custodian: str | None
    source_type: str
    source_path: str
    acquisition_hash: str | None
    completed_at: str | None
    details: dict[str, Any] | None = None


def normalise_url(url: str) -> str:
    """PostgreSQL URLs as people write them, driven by psycopg 3."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def database_url(root: Path) -> str:
    pointer = root / DB_URL_NAME
    if pointer.is_file():
        return pointer.read_text(encoding="utf-8").strip()
    return f"sqlite:///{root / DB_NAME}"


def is_case(root: Path) -> bool:
    return (root / DB_NAME).is_file() or (root / DB_URL_NAME).is_file()


def _create_schema(engine: Engine) -> None:
    """A case may live in its own schema (``options=-csearch_path=NAME`` in the URL), which is
    created on first use so one database can hold several cases."""
    options = str(engine.url.query.get("options", ""))
    found = _SEARCH_PATH.search(options)
    if found:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{found[1]}"')


def _engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("postgresql"):
        engine = create_engine(url, pool_pre_ping=True)
        try:
            _create_schema(engine)
        except OperationalError as exc:
            raise CaseError(f"cannot reach the case database: {exc.orig or exc}") from exc
        return engine
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Case:
    def __init__(self, root: Path, engine: Engine) -> None:
        self.root = root  # absolute: workers on other nodes, in other folders, get these paths
        self.engine = engine
        self._made_dirs: set[Path] = set()

    @property
    def thumbs_dir(self) -> Path:
        return self.root / "thumbs"

    def artifact_path(self, name: str, sha256: str, suffix: str) -> Path:
        """Thumbnails under thumbs/; any other derived file (patches waiting for the detector's
        batch stage) under derived/<name>/, equally private."""
        base = self.thumbs_dir if name == "thumbnail" else self.root / "derived" / name
        return base / sha256[:2] / f"{sha256}{suffix}"

    @property
    def tmp_dir(self) -> Path:
        return make_private_dir(self.root / "tmp")

    @classmethod
    def init(
        cls,
        root: Path,
        name: str,
        examiner: str,
        agency: str | None = None,
        db_url: str | None = None,
    ) -> Case:
        if is_case(root):
            raise CaseError(f"{root} already holds a case")
        if root.exists() and not root.is_dir():
            raise CaseError(f"{root} exists and is not a folder")
        made = not root.exists()
        try:
            make_private_dir(root)
        except OSError as exc:
            raise CaseError(f"cannot create case folder {root}: {exc.strerror or exc}") from exc
        try:
            return cls._init(root, name, examiner, agency, db_url)
        except BaseException:  # error or Ctrl-C: no half-made case for the next command to open
            _undo_init(root, made)
            raise

    @classmethod
    def _init(
        cls, root: Path, name: str, examiner: str, agency: str | None, db_url: str | None
    ) -> Case:
        engine = _engine(db_url or f"sqlite:///{root.absolute() / DB_NAME}")
        try:
            migrate(engine)
        except OperationalError as exc:
            engine.dispose()
            raise CaseError(f"cannot create the case database: {exc.orig or exc}") from exc
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(schema.case_meta)).scalar_one():
                raise CaseError("that database already holds a case; give each case its own")
            conn.execute(
                insert(schema.case_meta).values(
                    id=1,
                    name=name,
                    examiner=examiner,
                    agency=agency,
                    created_at=now(),
                    veriscan_version=__version__,
                )
            )
        if db_url:
            pointer = root / DB_URL_NAME
            fd = os.open(pointer, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(normalise_url(db_url) + "\n")
        return cls(root.absolute(), engine)

    @classmethod
    def open(cls, root: Path) -> Case:
        if not is_case(root):
            raise CaseError(
                f"{root} is not a veriscan case (no {DB_NAME} or {DB_URL_NAME}); "
                "run 'veriscan case init'"
            )
        engine = _engine(database_url(root.absolute()))
        try:
            migrate(engine)
        except OperationalError as exc:
            engine.dispose()
            raise CaseError(f"cannot open the case database: {exc.orig or exc}") from exc
        return cls(root.absolute(), engine)

    def close(self) -> None:
        self.engine.dispose()

    def meta(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.case_meta)).mappings().one()
        return dict(row)

    def evidence(self, label: str | None = None) -> list[EvidenceRow]:
        q = select(schema.evidence).order_by(schema.evidence.c.id)
        if label is not None:
            q = q.where(schema.evidence.c.label == label)
        with self.engine.connect() as conn:
            return [
                EvidenceRow(
                    r.id,
                    r.label,
                    r.custodian,
                    r.source_type,
                    r.source_path,
                    r.acquisition_hash,
                    r.completed_at,
                    r.details,
                )
                for r in conn.execute(q)
            ]

    def add_evidence(
        self, label: str, custodian: str | None, source_type: str, source_path: str
    ) -> EvidenceRow:
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.evidence).values(
                    label=label,
                    custodian=custodian,
                    source_type=source_type,
                    source_path=source_path,
                    added_at=now(),
                )
            )
        return self.evidence(label)[0]

    def update_evidence_details(self, evidence_id: int, **updates: Any) -> None:
        """Merge facts about the evidence container (image format, verification) into the row."""
        with self.engine.begin() as conn:
            q = select(schema.evidence.c.details).where(schema.evidence.c.id == evidence_id)
            details = dict(conn.execute(q).scalar_one() or {})
            details.update(updates)
            conn.execute(
                update(schema.evidence)
                .where(schema.evidence.c.id == evidence_id)
                .values(details=details)
            )

    def complete_evidence(
        self, evidence_id: int, acquisition_hash: str | None, method: str
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.evidence)
                .where(schema.evidence.c.id == evidence_id)
                .values(
                    acquisition_hash=acquisition_hash, acquisition_method=method, completed_at=now()
                )
            )

    def start_run(self, info: RunInfo, evidence_id: int | None) -> int:
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.runs)
                .where(schema.runs.c.status == "running", schema.runs.c.evidence_id == evidence_id)
                .values(status="interrupted")
            )
            result = conn.execute(
                insert(schema.runs).values(
                    command=info.command,
                    evidence_id=evidence_id,
                    veriscan_version=info.veriscan_version,
                    analyzers=info.analyzers,
                    settings=info.settings,
                    started_at=now(),
                    status="running",
                    counts={},
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run_id: int, status: str, counts: dict[str, int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.runs)
                .where(schema.runs.c.id == run_id)
                .values(status=status, counts=counts, ended_at=now())
            )

    def done_locators(self, evidence_id: int, locators: Iterable[str]) -> set[str]:
        wanted = list(locators)
        if not wanted:
            return set()
        loc = schema.locations.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(loc.locator).where(loc.evidence_id == evidence_id, loc.locator.in_(wanted))
            )
            return {r[0] for r in rows}

    def write_unit(self, evidence_id: int, run_id: int, result: UnitResult) -> int:
        """Store one unit atomically; returns how many contents were new to the case."""
        return write_unit(self, evidence_id, run_id, result)

    def folder_manifest(self, evidence_id: int) -> Iterator[tuple[str, int | None, str | None]]:
        """Top-level files of an evidence item in locator order, streamed (for the folder hash)."""
        loc = schema.locations.c
        q = (
            select(loc.locator, loc.size, loc.sha256)
            .where(loc.evidence_id == evidence_id, loc.depth == 0)
            .order_by(loc.locator)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(q.execution_options(yield_per=5000)):
                yield row[0], row[1], row[2]

    def count(self, table: str, **where: Any) -> int:
        t = schema.metadata.tables[table]
        q = select(func.count()).select_from(t)
        for key, value in where.items():
            q = q.where(t.c[key] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())


def _undo_init(root: Path, made: bool) -> None:
    """Remove only what ``Case.init`` writes, and the folder only if it made it."""
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", DB_URL_NAME):
        (root / name).unlink(missing_ok=True)
    if made:
        with contextlib.suppress(OSError):  # not empty: something else is in it, keep it
            root.rmdir()
