"""`audit verify --against`: exports and reports carry the head, and a verify held against them
finds the cut that the tampered case folder alone no longer shows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from veriscan.cli.app import app
from veriscan.review import anchor, audit
from veriscan.store import schema
from veriscan.store.case import Case

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _case(tmp_path: Path) -> Path:
    case = Case.init(tmp_path / "case", "T", "E")
    for i in range(1, 5):
        audit.append(case, "alice", "categorise", f"sha-{i}", {"category": "1"})
    return case.root


def _cut_everything(root: Path, keep: int) -> None:
    """Database and case folder both rewritten: entries cut, head record moved, head file gone."""
    case = Case.open(root)
    a, h = schema.audit.c, schema.audit_head.c
    with case.engine.begin() as conn:
        conn.execute(delete(schema.audit).where(a.seq > keep))
        last = conn.execute(select(a.hash).where(a.seq == keep)).scalar_one()
        conn.execute(update(schema.audit_head).where(h.id == 1).values(seq=keep, hash=last))
    anchor.head_path(root).unlink()


def test_exports_and_reports_record_the_head_and_verify_holds_the_log_to_them(
    tmp_path: Path,
) -> None:
    root = _case(tmp_path)
    jsonl, report, log = tmp_path / "out.jsonl", tmp_path / "r.html", tmp_path / "audit.jsonl"
    assert invoke("export", "jsonl", str(root), "-o", str(jsonl))[0] == 0
    sidecar = anchor.sidecar_path(jsonl)
    head = anchor.parse(str(sidecar))
    assert head.seq == 5  # the export's own entry included
    assert (root / "audit.head").read_text().strip() == f"audit-head {head.value}"
    assert invoke("report", str(root), "-o", str(report))[0] == 0
    assert f"audit-head {head.value}" in report.read_text()  # printed before its own entry
    assert anchor.sidecar_path(report).is_file()
    assert invoke("audit", "export", str(root), "-o", str(log))[0] == 0

    code, output = invoke("audit", "verify", str(root), "--against", str(report))
    assert code == 0 and "audit log intact: 7 entries" in output and "holds 5:" in output

    _cut_everything(root, 3)
    code, output = invoke("audit", "verify", str(root))
    assert code == 0 and "no head file" in output  # the case alone cannot tell
    for held in (sidecar, report, log, anchor.sidecar_path(report)):
        code, output = invoke("audit", "verify", str(root), "--against", str(held))
        assert code == 1, output
        assert "audit log broken at entry 4" in output and "cut off" in output
    code, output = invoke("audit", "verify", str(root), "--against", head.hash)
    assert code == 1 and "audit log broken: no entry has the hash" in output


def test_a_wiped_log_fails_verify_from_the_case_folder_alone(tmp_path: Path) -> None:
    root = _case(tmp_path)
    case = Case.open(root)
    with case.engine.begin() as conn:
        conn.execute(delete(schema.audit))
        conn.execute(delete(schema.audit_head))
    code, output = invoke("audit", "verify", str(root))
    assert code == 1 and "audit log broken at entry 1" in output and "wiped" in output


def test_an_unreadable_against_is_a_usage_error(tmp_path: Path) -> None:
    root = _case(tmp_path)
    code, output = invoke("audit", "verify", str(root), "--against", "12:nothex")
    assert code == 2 and "neither a head" in output
