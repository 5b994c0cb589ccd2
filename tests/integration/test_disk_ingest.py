"""Disk images through the CLI: E01 ingest with verification, JSONL fields, damaged images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import fingerprint, invoke

from diskimages import (
    disk_fs_images,  # noqa: F401 - session fixture
    require_modules,
)
from diskimages_disks import (
    DiskImage,
    E01Image,
    corrupt_e01,
    drop_last_segment,
    gpt_disk,  # noqa: F401 - session fixture
    gpt_e01,  # noqa: F401 - session fixture
)

require_modules("pytsk3", "pyewf")


def _case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    code, text = invoke("case", "init", str(case), "--name", "Op D", "--examiner", "E")
    assert code == 0, text
    return case


def _jsonl(case: Path, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "out.jsonl"
    code, text = invoke("export", "jsonl", str(case), "-o", str(out))
    assert code == 0, text
    return [json.loads(line) for line in out.read_text().splitlines()]


def _locations(records: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], str]]:
    return {loc["locator"]: (loc, r["sha256"]) for r in records for loc in r["locations"]}


def _status(case: Path) -> dict[str, Any]:
    code, text = invoke("status", str(case), "--json")
    assert code == 0, text
    result: dict[str, Any] = json.loads(text)
    return result


def test_e01_ingest_verifies_and_exports_deleted_carved_and_times(
    tmp_path: Path,
    gpt_disk: DiskImage,  # noqa: F811
    gpt_e01: E01Image,  # noqa: F811
) -> None:
    case = _case(tmp_path)
    before = fingerprint(gpt_e01.first.parent)
    code, text = invoke(
        "add", str(case), str(gpt_e01.first), "--label", "laptop", "--verify", "--workers", "2"
    )
    assert code == 0, text
    assert "verified" in text
    assert fingerprint(gpt_e01.first.parent) == before, "the image must never change"

    evidence = _status(case)["evidence"][0]
    verification = evidence["details"]["verification"]
    assert verification["result"] == "verified"
    assert verification["computed"]["md5"] == gpt_e01.md5
    assert verification["computed"]["sha1"] == gpt_e01.sha1
    assert evidence["acquisition_hash"] == verification["computed"]["sha256"]
    image = evidence["details"]["image"]
    assert image["format"] == "ewf" and len(image["segments"]) == len(gpt_e01.paths)
    assert image["headers"]["case_number"] == gpt_e01.headers["case_number"]
    assert [v["file_system"] for v in image["volumes"]] == ["fat32", "ext4"]

    locations = _locations(_jsonl(case, tmp_path))
    name = gpt_e01.first.name
    fat = gpt_disk.partitions[0].fs
    assert fat is not None
    loc, sha = locations[f"{name}!/p1{fat.files[0].path}"]
    assert sha == fat.files[0].sample.sha256
    assert loc["deleted"] is False and loc["carved"] is False
    assert set(loc["fs_times"]) >= {"modified", "accessed", "born"}
    loc, sha = locations[f"{name}!/p1{fat.deleted[0].tsk_path}"]
    assert loc["deleted"] is True and sha == fat.deleted[0].sample.sha256
    for fixture in gpt_disk.carved:
        hits = [(v, s) for k, (v, s) in locations.items() if f"/offset-{fixture.offset}." in k]
        assert len(hits) == 1 and hits[0][1] == fixture.sha256
        assert hits[0][0]["carved"] is True and hits[0][0]["fs_times"] is None


def test_rerun_resumes_without_duplicates(
    tmp_path: Path,
    gpt_disk: DiskImage,  # noqa: F811
) -> None:
    case = _case(tmp_path)
    before = fingerprint(gpt_disk.path.parent)
    args = ("add", str(case), str(gpt_disk.path), "--label", "usb", "--executor", "inline")
    assert invoke(*args)[0] == 0
    assert fingerprint(gpt_disk.path.parent) == before, "the image must never change"
    first = _status(case)
    code, text = invoke(*args)
    assert code == 0, text
    assert "already done" in text
    assert _status(case)["locations"] == first["locations"]
    evidence = first["evidence"][0]
    assert evidence["acquisition_hash"] is None
    assert "not hashed" in evidence["acquisition_method"]


def test_verify_image_command(gpt_e01: E01Image, tmp_path: Path) -> None:  # noqa: F811
    code, text = invoke("verify-image", str(gpt_e01.first), "--json")
    assert code == 0, text
    result = json.loads(text[text.index("{") :])  # progress lines go to stderr, mixed in here
    assert result["result"] == "verified" and result["stored"]["md5"] == gpt_e01.md5
    code, text = invoke("verify-image", str(gpt_e01.first), "--sha256", "0" * 64)
    assert code == 1 and "MISMATCH" in text


def test_corrupted_segment_fails_verification_but_the_scan_completes(
    tmp_path: Path,
    gpt_disk: DiskImage,  # noqa: F811
    gpt_e01: E01Image,  # noqa: F811
) -> None:
    damaged = corrupt_e01(gpt_e01, gpt_disk, tmp_path / "bad")
    code, text = invoke("verify-image", str(damaged.image.first))
    assert code == 1 and "MISMATCH" in text
    case = _case(tmp_path)
    code, text = invoke(
        "add", str(case), str(damaged.image.first), "--label", "bad", "--verify",
        "--executor", "inline",
    )  # fmt: skip
    assert code == 0, text
    assert "did not verify" in text
    evidence = _status(case)["evidence"][0]
    assert evidence["details"]["verification"]["result"] == "mismatch"
    assert evidence["details"]["verification"]["mismatched"] == ["md5", "sha1"]
    assert "mismatch" in evidence["acquisition_method"]


def test_missing_last_segment_is_recorded_not_a_crash(
    tmp_path: Path,
    gpt_e01: E01Image,  # noqa: F811
) -> None:
    partial = drop_last_segment(gpt_e01, tmp_path / "partial")
    code, text = invoke("verify-image", str(partial.first))
    assert code == 2 and "unreadable" in text
    case = _case(tmp_path)
    code, text = invoke(
        "add", str(case), str(partial.first), "--label", "cut", "--executor", "inline"
    )
    assert code == 1, text  # completed, with problems
    status = _status(case)
    assert status["problems"] > 0
    assert status["evidence"][0]["completed_at"]


def test_no_carve_flag(tmp_path: Path, gpt_disk: DiskImage) -> None:  # noqa: F811
    case = _case(tmp_path)
    code, text = invoke(
        "add", str(case), str(gpt_disk.path), "--label", "usb", "--no-carve",
        "--executor", "inline",
    )  # fmt: skip
    assert code == 0, text
    assert not any("/offset-" in k for k in _locations(_jsonl(case, tmp_path)))


@pytest.mark.parametrize("flag", ["--verify"])
def test_verify_refuses_a_folder(tmp_path: Path, flag: str) -> None:
    case = _case(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    code, text = invoke("add", str(case), str(folder), "--label", "f", flag)
    assert code == 2 and "disk images" in text
