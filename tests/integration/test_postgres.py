"""The team store: the same case on PostgreSQL behaves as on SQLite, with concurrent writers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from conftest import draw_scene
from veriscan.domain import ContentRecord, ItemKind, LocationRecord, Locator, RunInfo, UnitResult
from veriscan.store import schema
from veriscan.store.case import Case


def _evidence(root: Path, n: int = 12) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        draw_scene(i).save(root / f"scene_{i:02d}.jpg", quality=90)
    (root / "notes.txt").write_text("benign text\n")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veriscan", *args], capture_output=True, text=True, timeout=600
    )


def _jsonl(case: Path, out: Path) -> list[dict[str, object]]:
    done = _cli("export", "jsonl", str(case), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_migrations_build_the_declared_schema_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    case = Case.init(tmp_path / "c", "n", "e", db_url=pg_url)
    with case.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    case.close()
    assert diff == []
    reopened = Case.open(tmp_path / "c")
    assert reopened.meta()["name"] == "n"
    assert (tmp_path / "c" / "database.url").stat().st_mode & 0o777 == 0o600
    reopened.close()


def test_scan_on_postgresql_equals_scan_on_sqlite(tmp_path: Path, pg_url: str) -> None:
    """The team case also scores through the detector's batch stage (pending rows, re-decided
    verdicts on PostgreSQL): the export still equals an inline scan into SQLite."""
    src = _evidence(tmp_path / "evidence")
    lite, team = tmp_path / "lite", tmp_path / "team"
    batch = ("--db", pg_url, "--detector-stage", "batch", "--executor", "inline")
    for case, extra in ((lite, ()), (team, batch)):
        done = _cli("scan", str(src), "--case", str(case), "--label", "phone", *extra)
        assert done.returncode == 1, done.stderr  # completed; the truncated JPEG is a problem
    assert _jsonl(lite, tmp_path / "a.jsonl") == _jsonl(team, tmp_path / "b.jsonl")
    assert not (team / "case.db").exists()


def test_two_writers_at_once_lose_nothing(tmp_path: Path, pg_url: str) -> None:
    first = _evidence(tmp_path / "one")
    second = tmp_path / "two"
    shutil.copytree(first, second)
    (second / "extra.txt").write_text("only on the second device\n")
    case = tmp_path / "case"
    assert (
        _cli("case", "init", str(case), "--name", "t", "--examiner", "e", "--db", pg_url).returncode
        == 0
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "veriscan", "add", str(case), str(src), "--label", label],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for label, src in (("one", first), ("two", second))
    ]
    for proc in procs:
        # 1 (a problem: broken.jpg) for whoever analyses it; 0 for a writer that finds the
        # content already stored by the other and so skips its analysis
        assert proc.wait(600) in (0, 1), proc.stderr.read() if proc.stderr else ""
    opened = Case.open(case)
    with opened.engine.connect() as conn:
        locations = conn.execute(select(func.count()).select_from(schema.locations)).scalar_one()
        contents = conn.execute(select(func.count()).select_from(schema.contents)).scalar_one()
        broken = conn.execute(
            select(func.count())
            .select_from(schema.problems)
            .where(schema.problems.c.sha256.isnot(None))
        ).scalar_one()
    opened.close()
    assert broken >= 1  # the truncated JPEG's problem, stored by whoever analysed it
    files = len(list(first.iterdir())) + len(list(second.iterdir()))
    assert locations == files
    assert contents == len(list(second.iterdir()))  # each content once, whoever wrote it first


def test_sizes_beyond_two_gib_are_stored(tmp_path: Path, pg_url: str) -> None:
    case = Case.init(tmp_path / "c", "n", "e", db_url=pg_url)
    ev = case.add_evidence("disk", None, "disk", "/evidence/disk.E01")
    run = case.start_run(RunInfo("test", "0", {}, {}), ev.id)
    big = 6 * (1 << 30)
    record = ContentRecord("d" * 64, "e" * 32, "f" * 40, big, "application/octet-stream")
    location = LocationRecord(
        Locator(("disk.E01", "p1/models/big.safetensors")), big, None, ItemKind.FILE, "d" * 64
    )
    case.write_unit(ev.id, run, UnitResult("u", [location], [record]))
    with case.engine.connect() as conn:
        stored = conn.execute(select(schema.contents.c.size)).scalar_one()
    case.close()
    assert stored == big
