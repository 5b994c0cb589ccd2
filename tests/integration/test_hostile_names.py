"""Odd names and odd zips through the CLI: nothing aborts the run, nothing goes missing (issue 15).

Every file and member must come out as a location (with a problem where it could not be read);
exports, `show` and the report must cope with any name, and a rerun must add nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diskimages import require_tools, run
from support.hostile_archives import (
    bad_ppmd_zip,
    empty_name_zip,
    make_hostile_folder,
    method_zips,
    mismatch_zip,
    odd_name_zip,
    unsupported_zip,
)
from veriscan.cli.app import app
from veriscan.names import escape_path
from veriscan.settings import Settings
from veriscan.sources.disk.source import DiskSource
from veriscan.sources.folder import FolderSource

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def new_case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    code, text = invoke("case", "init", str(case), "--name", "N", "--examiner", "E")
    assert code == 0, text
    return case


def exported(case: Path) -> dict[str, dict[str, object]]:
    code, text = invoke("export", "jsonl", str(case))
    assert code == 0, text
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return {loc["locator"]: row for row in rows for loc in row["locations"]}


def test_hostile_file_names_are_all_stored_and_found_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = tmp_path / "ev"
    raw_names = make_hostile_folder(evidence)
    case = new_case(tmp_path)
    code, text = invoke("add", str(case), str(evidence), "--label", "a", "-j", "1")
    assert code == 0, text
    expected = {escape_path(os.fsdecode(raw)) for raw in raw_names} | {"p.zip!/a.txt"}
    by_locator = exported(case)
    assert set(by_locator) == expected
    assert "p.zip%21/a.txt" in by_locator and "caf%E9.jpg" in by_locator
    assert by_locator["p.zip%21/a.txt"]["size"] == len(b"the folder's file\n")

    code, text = invoke("add", str(case), str(evidence), "--label", "a", "-j", "1")
    assert code == 0, text  # the rerun resumes: no UNIQUE clash, nothing new

    monkeypatch.setenv("VERISCAN_UNIT_FILES", "1")
    code, text = invoke("add", str(case), str(evidence), "--label", "b", "-j", "1")
    assert code == 0, text
    labels = {
        (loc["evidence"], loc["locator"])
        for row in exported(case).values()
        for loc in row["locations"]  # type: ignore[attr-defined]
    }
    assert ("b", "p.zip%21/a.txt") in labels and ("b", "p.zip!/a.txt") in labels

    for typed in ("caf%E9.jpg", os.fsdecode(b"caf\xe9.jpg"), "new%0Aline", "p.zip%21/a.txt"):
        code, text = invoke("show", str(case), typed, "--json")
        assert code == 0, (typed, text)
        assert json.loads(text)["sha256"]
    code, text = invoke("report", str(case))
    assert code == 0, text


def test_every_zip_member_is_a_location_or_a_problem(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    for name, (data, _) in method_zips().items():
        (evidence / f"{name}.zip").write_bytes(data)
    (evidence / "unsupported.zip").write_bytes(unsupported_zip())
    (evidence / "mismatch.zip").write_bytes(mismatch_zip())
    (evidence / "bad-ppmd.zip").write_bytes(bad_ppmd_zip())
    (evidence / "empty-name.zip").write_bytes(empty_name_zip())
    (evidence / "odd-names.zip").write_bytes(odd_name_zip())
    case = new_case(tmp_path)
    code, text = invoke("add", str(case), str(evidence), "--label", "z", "-j", "1")
    assert code == 1, text  # completed with problems: two members cannot be decoded

    by_locator = exported(case)
    for name in method_zips():
        assert by_locator[f"{name}.zip!/member.txt"]["sha256"]
    for located in (
        "mismatch.zip!/central.txt",
        "empty-name.zip!/unnamed",
        "unsupported.zip!/ok.txt",
        "odd-names.zip!/nul%00.txt",
        "odd-names.zip!/wow%21/x.txt",
    ):
        assert located in by_locator, located
    # members without content of their own still reach the export, on their archive's object
    member_problems = {(p["locator"], p["code"]) for p in by_locator["unsupported.zip"]["problems"]}
    assert member_problems >= {
        ("unsupported.zip!/old.txt", "unsupported-compression"),
        ("unsupported.zip!/sound.wav", "unsupported-compression"),
    }

    code, text = invoke("show", str(case), "unsupported.zip!/old.txt", "--json")
    assert code == 0, text
    shown = json.loads(text)
    assert shown["content"] is None
    assert [p["code"] for p in shown["problems"]] == ["unsupported-compression"]
    assert "Implode" in shown["problems"][0]["message"]

    code, text = invoke("show", str(case), "bad-ppmd.zip!/params.txt", "--json")
    assert code == 0, text  # fails only when opened: still a location with its problem
    assert [p["code"] for p in json.loads(text)["problems"]] == ["archive-error"]
    assert "restore method 3" in json.loads(text)["problems"][0]["message"]

    code, text = invoke("show", str(case), "mismatch.zip!/central.txt", "--json")
    assert code == 0, text
    problems = json.loads(text)["problems"]
    assert any(p["code"] == "name-mismatch" and "local.txt" in p["message"] for p in problems)

    code, text = invoke("add", str(case), str(evidence), "--label", "z", "-j", "1")
    assert code == 1 and "0 locations stored" in text, text  # resumed: the problems remain


def test_hostile_names_and_members_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL refuses NUL and lone surrogates in text: escaped locators never hold either."""
    evidence = tmp_path / "ev"
    raw_names = make_hostile_folder(evidence)
    (evidence / "odd-names.zip").write_bytes(odd_name_zip())
    case = tmp_path / "case"
    code, text = invoke("case", "init", str(case), "--name", "N", "--examiner", "E", "--db", pg_url)
    assert code == 0, text
    code, text = invoke("add", str(case), str(evidence), "--label", "a", "-j", "1")
    assert code == 1, text  # the member named "wow!/x.txt" is a locator-separator problem
    code, text = invoke("add", str(case), str(evidence), "--label", "a", "-j", "1")
    assert code in (0, 1) and "0 locations stored" in text, text
    by_locator = exported(case)
    assert {escape_path(os.fsdecode(raw)) for raw in raw_names} <= set(by_locator)
    assert {"odd-names.zip!/nul%00.txt", "p.zip%21/a.txt", "p.zip!/a.txt"} <= set(by_locator)
    code, text = invoke("show", str(case), os.fsdecode(b"caf\xe9.jpg"), "--json")
    assert code == 0, text


def test_disk_image_names_are_escaped_losslessly(tmp_path: Path) -> None:
    """An ext4 image made from the hostile folder: same locators as the folder source gives."""
    require_tools("mkfs.ext4")
    tree = tmp_path / "tree"
    make_hostile_folder(tree)
    image = tmp_path / "names.img"
    run("mkfs.ext4", "-F", "-q", "-b", "4096", "-d", tree, image, "8192k")
    folder = FolderSource(tree, Settings())
    expected = {str(item.locator): folder.open(item.locator).read() for item in folder.items()}
    disk = DiskSource(image, Settings().replace(carve=False))
    found: dict[str, bytes] = {}
    for item in disk.items():
        if item.locator.depth == 1 and not item.locator.segments[1].startswith("lost+found"):
            with disk.open_item(item) as stream:
                found[item.locator.segments[1]] = stream.read()
    assert found == expected
