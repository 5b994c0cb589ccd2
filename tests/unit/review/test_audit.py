"""The audit log: any edit, deletion, reordering or truncation is found, at the right place."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from veriscan.review import audit
from veriscan.store import schema
from veriscan.store.case import Case


@pytest.fixture
def case(tmp_path: Path) -> Case:
    case = Case.init(tmp_path / "case", "T", "E")
    for i in range(1, 7):
        audit.append(case, "alice", "categorise", f"sha-{i}", {"category": str(i % 4 + 1)})
    return case


def test_an_untouched_log_verifies(case: Case) -> None:
    result = audit.verify(case)
    assert result.ok and result.entries == 6
    assert result.head == list(audit.entries(case))[-1].hash
    assert [e.seq for e in audit.entries(case)] == [1, 2, 3, 4, 5, 6]
    assert next(iter(audit.entries(case))).prev == audit.GENESIS


def test_an_empty_log_verifies(tmp_path: Path) -> None:
    assert audit.verify(Case.init(tmp_path / "c", "T", "E")).ok


def _rows(case: Case) -> list[dict[str, object]]:
    with case.engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(schema.audit).order_by(schema.audit.c.id))
        ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", {"category": "9"}),
        ("user", "mallory"),
        ("at", "2020-01-01T00:00:00+00:00"),
        ("object", "sha-x"),
        ("action", "reveal"),
    ],
)
def test_an_edit_is_found_at_its_entry(case: Case, column: str, value: object) -> None:
    with case.engine.begin() as conn:
        conn.execute(update(schema.audit).where(schema.audit.c.seq == 3).values({column: value}))
    result = audit.verify(case)
    assert not result.ok and result.position == 3
    assert "edited" in result.problem


def test_a_deletion_is_found_where_the_gap_is(case: Case) -> None:
    with case.engine.begin() as conn:
        conn.execute(delete(schema.audit).where(schema.audit.c.seq == 4))
    result = audit.verify(case)
    assert not result.ok and result.position == 4
    assert "deleted" in result.problem


def test_a_swap_is_found_at_the_first_moved_entry(case: Case) -> None:
    rows = _rows(case)
    two, five = rows[1], rows[4]
    table, c = schema.audit, schema.audit.c

    def content(row: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in row.items() if k != "id"}

    with case.engine.begin() as conn:
        conn.execute(update(table).where(c.id == two["id"]).values(seq=-2))
        conn.execute(update(table).where(c.id == five["id"]).values(seq=-5))
        conn.execute(update(table).where(c.id == two["id"]).values(content(five)))
        conn.execute(update(table).where(c.id == five["id"]).values(content(two)))
    assert [e.seq for e in audit.entries(case)] == [1, 5, 3, 4, 2, 6]
    result = audit.verify(case)
    assert not result.ok and result.position == 2
    assert "reordered" in result.problem


def test_a_consistent_rewrite_of_an_entry_still_breaks_the_next_one(case: Case) -> None:
    rows = _rows(case)
    third = rows[2]
    new_hash = audit.entry_hash(
        3,
        str(third["at"]),
        "mallory",
        str(third["action"]),
        str(third["object"]),
        third["details"],
        str(third["prev"]),
    )
    with case.engine.begin() as conn:
        conn.execute(
            update(schema.audit)
            .where(schema.audit.c.seq == 3)
            .values(user="mallory", hash=new_hash)
        )
    result = audit.verify(case)
    assert not result.ok and result.position == 4
    assert "previous-hash" in result.problem


def test_cutting_entries_off_the_end_is_found(case: Case) -> None:
    with case.engine.begin() as conn:
        conn.execute(delete(schema.audit).where(schema.audit.c.seq >= 5))
    result = audit.verify(case)
    assert not result.ok and result.position == 5
    assert "cut off" in result.problem


def test_appends_after_a_verified_log_keep_it_valid(case: Case) -> None:
    entry = audit.append(case, "bob", "export", "vics")
    assert entry.seq == 7 and audit.verify(case).ok
