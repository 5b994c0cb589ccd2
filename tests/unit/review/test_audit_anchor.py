"""The audit log held against heads kept outside its database: cutting entries off with the head
record moved back, wiping the log, duplicate JSON keys, and a whole rewrite are all found."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DataError

from veriscan.review import anchor, audit
from veriscan.store import schema
from veriscan.store.case import Case


@pytest.fixture(params=["sqlite", "postgresql"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    case = Case.init(tmp_path / "case", "T", "E", db_url=url)
    audit.append(case, "boss", "user-add", "olga", {"role": "admin"})
    for i in range(2, 7):
        audit.append(case, "alice", "categorise", f"sha-{i}", {"category": str(i % 4 + 1)})
    return case


def _cut_to(case: Case, keep: int) -> None:
    """What an attacker with the database does: drop the last entries, move the head record back."""
    a, h = schema.audit.c, schema.audit_head.c
    with case.engine.begin() as conn:
        conn.execute(delete(schema.audit).where(a.seq > keep))
        last = conn.execute(select(a.hash).where(a.seq == keep)).scalar_one()
        conn.execute(update(schema.audit_head).where(h.id == 1).values(seq=keep, hash=last))


def test_every_append_moves_the_head_file_which_is_private(case: Case) -> None:
    path = anchor.head_path(case.root)
    last = list(audit.entries(case))[-1]
    assert path.read_text().strip() == f"audit-head 6:{last.hash}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit.verify(case).ok


def test_the_head_file_never_moves_back(case: Case) -> None:
    before = anchor.head_path(case.root).read_text()
    anchor.record(case.root, 3, "0" * 64)
    assert anchor.head_path(case.root).read_text() == before


def test_cut_off_entries_with_the_head_record_moved_back_are_found(case: Case) -> None:
    _cut_to(case, 4)
    result = audit.verify(case)
    assert not result.ok and result.position == 5
    assert "recorded entry 6" in result.problem and "cut off" in result.problem


def test_a_wiped_log_is_found(case: Case) -> None:
    with case.engine.begin() as conn:
        conn.execute(delete(schema.audit))
        conn.execute(delete(schema.audit_head))
    result = audit.verify(case)
    assert not result.ok and result.entries == 0 and result.position == 1
    assert "wiped" in result.problem


def test_a_duplicate_key_that_readers_disagree_on_is_found(case: Case) -> None:
    """Entry 1 said role admin; the stored text now also says observer, first, where SQLite's
    json_extract looks, while Python's json still reads admin and the hash still matches."""
    forged = '{"role": "observer", "role": "admin"}'
    with case.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET details = :d WHERE seq = 1"), {"d": forged})
    assert json.loads(forged) == {"role": "admin"}
    result = audit.verify(case)
    assert not result.ok and result.position == 1
    assert "duplicate key 'role'" in result.problem


@pytest.mark.parametrize("raw", ['{"n": NaN}', '{"a": {"b": 1, "b": 2}}', "not json"])
def test_details_that_cannot_have_one_reading_are_a_break(case: Case, raw: str) -> None:
    try:
        with case.engine.begin() as conn:
            conn.execute(text("UPDATE audit SET details = :d WHERE seq = 3"), {"d": raw})
    except DataError:
        pytest.skip("PostgreSQL's json type refuses this text on write")
    result = audit.verify(case)
    assert not result.ok and result.position == 3


def test_appends_never_write_what_verify_refuses(case: Case) -> None:
    audit.append(case, "bob", "export", "x", {"nested": {"a": [1, {"b": "c"}]}, "n": 2**70})
    assert audit.verify(case).ok


def test_a_garbled_head_file_is_a_break(case: Case) -> None:
    anchor.head_path(case.root).write_text("overwritten")
    result = audit.verify(case)
    assert not result.ok and "holds no audit head" in result.problem


def test_without_its_head_file_the_case_is_checked_as_before_and_says_so(case: Case) -> None:
    anchor.head_path(case.root).unlink()
    result = audit.verify(case)
    assert result.ok and result.anchors == ()
    assert any("no head file" in note for note in result.notes)
    audit.append(case, "bob", "login", "bob")  # the next entry starts anchoring again
    assert anchor.read_head_file(case.root) == anchor.Anchor(
        7, list(audit.entries(case))[-1].hash, f"the head file {anchor.head_path(case.root)}"
    )


def test_an_export_held_elsewhere_finds_what_the_case_folder_no_longer_can(
    case: Case, tmp_path: Path
) -> None:
    """Both the database and the case folder rewritten: only a head kept apart still tells."""
    sidecar = anchor.write_sidecar(
        tmp_path / "export.jsonl", 6, list(audit.entries(case))[-1].hash, "jsonl"
    )
    _cut_to(case, 4)
    anchor.head_path(case.root).unlink()
    assert audit.verify(case).ok  # the case alone cannot tell
    result = audit.verify(case, [anchor.parse(str(sidecar))])
    assert not result.ok and result.position == 5 and str(sidecar) in result.problem


def test_a_consistent_rewrite_is_found_against_an_older_head(case: Case) -> None:
    """Entry 2 changed and every later hash recomputed, head record and head file included."""
    kept = anchor.parse(f"3:{list(audit.entries(case))[2].hash}")
    rows = list(audit.entries(case))
    prev = rows[0].hash
    with case.engine.begin() as conn:
        for e in rows[1:]:
            user = "mallory" if e.seq == 2 else e.user
            digest = audit.entry_hash(e.seq, e.at, user, e.action, e.object, e.details, prev)
            conn.execute(
                update(schema.audit)
                .where(schema.audit.c.seq == e.seq)
                .values(user=user, prev=prev, hash=digest)
            )
            prev = digest
        conn.execute(update(schema.audit_head).values(hash=prev))
    anchor.head_path(case.root).write_text(anchor.line(6, prev))
    assert audit.verify(case).ok
    result = audit.verify(case, [kept])
    assert not result.ok and result.position == 3 and "rewritten" in result.problem


def test_a_bare_hash_must_be_somewhere_in_the_log(case: Case) -> None:
    fourth = list(audit.entries(case))[3].hash
    assert audit.verify(case, [anchor.parse(fourth)]).ok
    _cut_to(case, 3)
    anchor.head_path(case.root).unlink()  # else the case's own anchor finds the cut first
    result = audit.verify(case, [anchor.parse(fourth)])
    assert not result.ok and result.position is None and fourth in result.problem


def test_concurrent_appends_leave_the_latest_head_in_the_file(case: Case) -> None:
    """Writers finish out of order; the file must still end at the last entry. (SQLite only:
    on PostgreSQL four writers at once exhaust append's retries, a limit older than the file.)"""
    if case.engine.dialect.name != "sqlite":
        pytest.skip("append's retry limit, not the head file, decides this on PostgreSQL")

    def work(who: str) -> None:
        for _ in range(5):
            audit.append(case, who, "login", who)

    threads = [threading.Thread(target=work, args=(f"u{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last = list(audit.entries(case))[-1]
    assert last.seq == 26
    assert anchor.read_head_file(case.root) == anchor.Anchor(
        26, last.hash, f"the head file {anchor.head_path(case.root)}"
    )
    assert audit.verify(case).ok


def test_anchor_parsing(tmp_path: Path) -> None:
    digest = "ab" * 32
    assert anchor.parse(f"12:{digest}").seq == 12
    assert anchor.parse(f"audit-head 12:{digest}").hash == digest
    assert anchor.parse(digest).seq is None
    report = tmp_path / "report.html"
    report.write_text(f"<p>Audit log head when generated: <code>audit-head 9:{digest}</code></p>")
    assert anchor.parse(str(report)).seq == 9
    export = tmp_path / "audit.jsonl"
    export.write_text(json.dumps({"seq": 4, "hash": digest}) + "\n\n")
    assert anchor.parse(str(export)).seq == 4
    (tmp_path / "empty.txt").write_text("nothing here")
    for bad in ("12:xyz", str(tmp_path / "missing"), str(tmp_path / "empty.txt")):
        with pytest.raises(anchor.AnchorError):
            anchor.parse(bad)
    assert not os.path.exists(tmp_path / "missing")
