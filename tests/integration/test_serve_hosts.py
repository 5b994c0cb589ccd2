"""`veriscan serve` (issue 15, item 18): the bind address and each --allow-host become the
names the app answers to, client-sent forwarding headers are ignored, a bad name is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import REVIEW_PASSWORD
from veriscan.cli.app import app
from veriscan.review.users import add_user
from veriscan.store.case import Case

uvicorn = pytest.importorskip("uvicorn", reason="the [web] extra is not installed")


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    case = Case.init(tmp_path / "case", "hosts", "examiner")
    add_user(case, "cli:test", "boss", "admin", REVIEW_PASSWORD)
    seen: dict[str, Any] = {"case": tmp_path / "case"}

    def run(asgi: Any, **options: Any) -> None:
        seen["app"], seen["options"] = asgi, options

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


def test_bind_name_and_allow_host_are_answered(served: dict[str, Any]) -> None:
    args = ["serve", str(served["case"]), "--host", "review.lab", "--allow-host", "proxy.lab:443"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert served["options"]["proxy_headers"] is False, "X-Forwarded-For must not move a client"
    c = TestClient(served["app"])
    assert c.get("/login", headers={"Host": "review.lab:8765"}).status_code == 200
    assert c.get("/login", headers={"Host": "proxy.lab:443"}).status_code == 200
    assert c.get("/login", headers={"Host": "proxy.lab:80"}).status_code == 400
    assert c.get("/login", headers={"Host": "elsewhere.example"}).status_code == 400


def test_a_wildcard_bind_prints_a_usable_address(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["serve", str(served["case"]), "--host", "0.0.0.0"])
    assert result.exit_code == 0 and "http://127.0.0.1:8765/" in result.output


def test_a_malformed_allow_host_is_refused(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["serve", str(served["case"]), "--allow-host", "bad name"])
    assert result.exit_code != 0 and "not a host name" in result.output
    assert "app" not in served
