"""Reviewers' decisions: append-only history, undo, conflicts, roles, audit and VICS export."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from veriscan.domain import RunInfo
from veriscan.matching.lists.schemes import UK, US
from veriscan.reports.sharing import export_vics
from veriscan.review import audit
from veriscan.review.decisions import (
    ConflictError,
    DecisionError,
    categorise,
    current,
    history,
    undo,
)
from veriscan.review.users import User
from veriscan.store import schema
from veriscan.store.case import Case

ANN = User("ann", "reviewer", "")
BOB = User("bob", "reviewer", "")
OBS = User("olga", "observer", "")
SHA = "a" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    """Every decision test runs on both stores: a team's PostgreSQL must behave the same."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    case = Case.init(tmp_path / "case", "T", "E", db_url=url)
    run = case.start_run(RunInfo("test", "0", {}, {}), None)
    with case.engine.begin() as conn:
        conn.execute(
            insert(schema.contents).values(
                sha256=SHA,
                md5="b" * 32,
                sha1="c" * 40,
                size=10,
                mime="image/jpeg",
                findings={},
                run_id=run,
            )
        )
    yield case
    case.close()


def test_decisions_are_kept_as_history_and_undo_restores(case: Case) -> None:
    categorise(case, ANN, SHA, "3", US, seen_version=0, note="drawn", tags=["series-x"])
    categorise(case, BOB, SHA, "non-pertinent", US, seen_version=1)
    assert current(case)[SHA].category == "non-pertinent"
    back = undo(case, ANN, SHA, US, seen_version=2)
    assert (back.category, back.version, back.undoes, back.tags) == ("3", 3, 2, ("series-x",))
    assert [d.category for d in history(case, SHA)] == ["3", "non-pertinent", "3"]
    actions = [(e.user, e.action) for e in audit.entries(case)]
    assert actions == [("ann", "categorise"), ("bob", "categorise"), ("ann", "undo")]
    assert audit.verify(case).ok


def test_a_stale_version_is_a_conflict_and_is_audited(case: Case) -> None:
    categorise(case, ANN, SHA, "2", US, seen_version=0)
    with pytest.raises(ConflictError, match="version 0, it is now at 1"):
        categorise(case, BOB, SHA, "4", US, seen_version=0)
    assert current(case)[SHA].category == "2"
    assert [e.action for e in audit.entries(case)] == ["categorise", "categorise-conflict"]


def test_two_reviewers_at_once_one_wins_one_conflicts(case: Case) -> None:
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(user: User, category: str) -> None:
        barrier.wait()
        try:
            categorise(case, user, SHA, category, US, seen_version=0)
            outcomes[user.username] = "won"
        except ConflictError:
            outcomes[user.username] = "conflict"

    threads = [threading.Thread(target=decide, args=(u, c)) for u, c in ((ANN, "1"), (BOB, "2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes.values()) == ["conflict", "won"]
    assert len(history(case, SHA)) == 1
    assert sorted(e.action for e in audit.entries(case)) == ["categorise", "categorise-conflict"]


def test_observers_and_bad_input_are_refused(case: Case) -> None:
    with pytest.raises(DecisionError, match="observers change nothing"):
        categorise(case, OBS, SHA, "1", US, seen_version=0)
    with pytest.raises(DecisionError, match="not in scheme"):
        categorise(case, ANN, SHA, "A", US, seen_version=0)
    with pytest.raises(DecisionError, match="no content"):
        categorise(case, ANN, "f" * 64, "1", US, seen_version=0)
    with pytest.raises(DecisionError, match="no decision"):
        undo(case, ANN, SHA, US, seen_version=0)
    assert current(case) == {}
    assert [e.action for e in audit.entries(case)] == ["categorise-refused"]


def test_vics_export_carries_the_reviewers_category(case: Case) -> None:
    categorise(case, ANN, SHA, "3", US, seen_version=0)
    out = io.StringIO()
    assert export_vics(case, out, US, "US") == 1
    media = json.loads(out.getvalue())["value"][0]
    assert media["Category"] == 3
    assert "categorised by ann" in media["Comments"]
    out = io.StringIO()
    export_vics(case, out, UK, "UK")
    assert json.loads(out.getvalue())["value"][0]["Category"] is None, "other scheme: not mapped"


class _AuditDownError(Exception):
    pass


def test_a_decision_and_its_audit_entry_commit_together(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure between the decision and its audit entry leaves neither: a categorisation that
    the log does not show never happened."""
    before = len(list(audit.entries(case)))
    real = audit.append_in

    def fail_after_decision(*args: object, **kwargs: object) -> audit.AuditEntry:
        raise _AuditDownError

    monkeypatch.setattr(audit, "append_in", fail_after_decision)
    with pytest.raises(_AuditDownError):
        categorise(case, ANN, SHA, "3", US, seen_version=0)
    assert current(case, [SHA]) == {} and history(case, SHA) == []
    assert len(list(audit.entries(case))) == before

    monkeypatch.setattr(audit, "append_in", real)
    made = categorise(case, ANN, SHA, "3", US, seen_version=0)
    assert made.version == 1
    entries = list(audit.entries(case))
    assert len(entries) == before + 1 and entries[-1].action == "categorise"
    assert audit.verify(case).ok


def test_a_scheme_change_and_its_audit_entry_commit_together(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veriscan.review.scheme import case_scheme, set_case_scheme

    before = len(list(audit.entries(case)))

    def fail(*args: object, **kwargs: object) -> audit.AuditEntry:
        raise _AuditDownError

    monkeypatch.setattr(audit, "append_in", fail)
    with pytest.raises(_AuditDownError):
        set_case_scheme(case, "lee", "UK")
    assert case_scheme(case) is US
    assert len(list(audit.entries(case))) == before
