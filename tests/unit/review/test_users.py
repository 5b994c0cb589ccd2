"""Accounts: argon2 hashes, roles, the first-admin and last-admin rules, all audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from veriscan.cli.app import app
from veriscan.review import audit
from veriscan.review.users import (
    UserError,
    add_user,
    authenticate,
    list_users,
    remove_user,
    set_password,
)
from veriscan.store import schema
from veriscan.store.case import Case

PASSWORD = "correct horse battery"


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case.init(tmp_path / "case", "T", "E")


def test_accounts_roles_and_passwords(case: Case) -> None:
    with pytest.raises(UserError, match="first account"):
        add_user(case, "cli:test", "rev", "reviewer", PASSWORD)
    add_user(case, "cli:test", "admin1", "admin", PASSWORD)
    add_user(case, "admin1", "rev", "reviewer", PASSWORD)
    assert [(u.username, u.role) for u in list_users(case)] == [
        ("admin1", "admin"),
        ("rev", "reviewer"),
    ]
    with case.engine.connect() as conn:
        stored = conn.execute(select(schema.users.c.password_hash)).scalars().all()
    assert all(h.startswith("$argon2") and PASSWORD not in h for h in stored)
    assert authenticate(case, "rev", PASSWORD) is not None
    assert authenticate(case, "rev", "wrong password!!") is None
    assert authenticate(case, "nobody", PASSWORD) is None
    set_password(case, "admin1", "rev", "another long password")
    assert authenticate(case, "rev", PASSWORD) is None
    assert authenticate(case, "rev", "another long password") is not None
    actions = [(e.user, e.action, e.object) for e in audit.entries(case)]
    assert actions[:3] == [
        ("cli:test", "user-add", "admin1"),
        ("admin1", "user-add", "rev"),
        ("rev", "login", "rev"),
    ]
    assert ("rev", "login-failed", "rev") in actions
    assert ("nobody", "login-failed", "nobody") in actions
    assert audit.verify(case).ok


def test_refusals(case: Case) -> None:
    add_user(case, "cli", "root", "admin", PASSWORD)
    with pytest.raises(UserError, match="already exists"):
        add_user(case, "cli", "root", "admin", PASSWORD)
    with pytest.raises(UserError, match="at least"):
        add_user(case, "cli", "x", "reviewer", "short")
    with pytest.raises(UserError, match="role"):
        add_user(case, "cli", "x", "god", PASSWORD)
    with pytest.raises(UserError, match="invalid user name"):
        add_user(case, "cli", "../x", "reviewer", PASSWORD)
    with pytest.raises(UserError, match="last admin"):
        remove_user(case, "cli", "root")
    with pytest.raises(UserError, match="no user"):
        set_password(case, "cli", "ghost", PASSWORD)
    add_user(case, "cli", "obs", "observer", PASSWORD)
    remove_user(case, "cli", "obs")
    assert [u.username for u in list_users(case)] == ["root"]


def test_users_and_audit_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    case_dir = tmp_path / "case"
    Case.init(case_dir, "T", "E").close()
    result = runner.invoke(
        app,
        ["users", "add", str(case_dir), "boss", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["users", "ls", str(case_dir)])
    assert result.output.split()[:2] == ["boss", "admin"]
    result = runner.invoke(app, ["audit", "verify", str(case_dir)])
    assert result.exit_code == 0 and "intact: 1 entries" in result.output
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", str(case_dir), "-o", str(out)])
    assert result.exit_code == 0 and "1 entries, intact" in result.output
    assert '"action": "user-add"' in out.read_text()
    case = Case.open(case_dir)
    with case.engine.begin() as conn:
        conn.execute(schema.audit.update().where(schema.audit.c.seq == 1).values(user="eve"))
    result = runner.invoke(app, ["audit", "verify", str(case_dir)])
    assert result.exit_code == 1
    assert "broken at entry 1" in result.output
    result = runner.invoke(app, ["users", "rm", str(case_dir), "boss"])
    assert result.exit_code == 2 and "last admin" in result.output
