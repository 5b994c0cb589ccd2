"""The case's category scheme: stored in the case, used by the app and exports, audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriscan.cli.app import app
from veriscan.matching.lists.schemes import SchemeError
from veriscan.review import audit
from veriscan.review.scheme import case_scheme, set_case_scheme
from veriscan.store.case import Case


def test_scheme_is_kept_in_the_case(tmp_path: Path) -> None:
    case = Case.init(tmp_path / "case", "T", "E")
    assert case_scheme(case).name == "US"
    set_case_scheme(case, "boss", "uk")
    assert case_scheme(Case.open(tmp_path / "case")).name == "UK"
    toml = tmp_path / "lab.toml"
    toml.write_text('name = "lab"\n[[category]]\nkey = "L1"\nlabel = "level one"\nvics = 1\n')
    set_case_scheme(case, "boss", str(toml))
    toml.unlink()  # the case keeps the text, not the path
    lab = case_scheme(Case.open(tmp_path / "case"))
    assert lab.name == "lab" and [c.key for c in lab.categories][:1] == ["L1"]
    with pytest.raises(SchemeError):
        set_case_scheme(case, "boss", "nonsense")
    assert [e.details["scheme"] for e in audit.entries(case)] == ["UK", "lab"]


def test_case_scheme_command(tmp_path: Path) -> None:
    Case.init(tmp_path / "case", "T", "E").close()
    runner = CliRunner()
    result = runner.invoke(app, ["case", "scheme", str(tmp_path / "case"), "UK"])
    assert result.exit_code == 0 and "key 1: A" in result.output
    result = runner.invoke(app, ["case", "scheme", str(tmp_path / "case")])
    assert "scheme UK" in result.output
    result = runner.invoke(app, ["case", "scheme", str(tmp_path / "case"), "XX"])
    assert result.exit_code == 2
