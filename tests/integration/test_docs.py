"""The README must tell the truth: its JSONL table and its commands are checked against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriscan.cli.app import app

README = Path(__file__).resolve().parents[2] / "README.md"


def jsonl_section() -> str:
    text = README.read_text()
    start = text.index("## JSONL export schema")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_jsonl_table_lists_exactly_the_exported_keys(
    tmp_path: Path, small_evidence: Path
) -> None:
    documented: set[str] = set()
    for row in jsonl_section().splitlines():
        if row.startswith("| `"):
            documented |= set(re.findall(r"`([a-z0-9_]+)`", row.split("|")[1]))
    runner = CliRunner()
    case = tmp_path / "c"
    assert (
        runner.invoke(app, ["case", "init", str(case), "--name", "n", "--examiner", "e"]).exit_code
        == 0
    )
    runner.invoke(app, ["add", str(case), str(small_evidence), "--label", "x", "-j", "1"])
    out = tmp_path / "e.jsonl"
    assert runner.invoke(app, ["export", "jsonl", str(case), "-o", str(out)]).exit_code == 0
    exported: set[str] = set()
    for line in out.read_text().splitlines():
        exported |= set(json.loads(line))
    assert documented == exported


def readme_commands() -> list[list[str]]:
    """Sub-command words of each `veriscan ...` line in the README's usage block."""
    text = README.read_text()
    block = text[text.index("## Using it") :]
    start = block.index("```sh") + len("```sh")
    commands = []
    for line in block[start : block.index("```", start)].splitlines():
        words = line.split("#")[0].split()
        if words[:1] == ["veriscan"]:
            commands.append([w for w in words[1:3] if w.islower() and not w.startswith(("-", "["))])
    return commands


@pytest.mark.parametrize("words", readme_commands(), ids=" ".join)
def test_readme_commands_exist(words: list[str]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output


def test_every_problem_code_is_documented() -> None:
    """Problem codes live in one enumeration; the README's tables describe each of them."""
    from veriscan.domain import ProblemCode

    rows = "\n".join(line for line in README.read_text().splitlines() if line.startswith("| `"))
    missing = [code.value for code in ProblemCode if f"`{code.value}`" not in rows]
    assert not missing, f"problem codes without a README row: {missing}"
