"""End to end through the pipeline API: sources -> analyzers -> store -> read side."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from veriscan.pipeline.ingest import ingest
from veriscan.plugins import load_registry
from veriscan.settings import Settings
from veriscan.sources.folder import FileSource, FolderSource
from veriscan.store.case import Case
from veriscan.store.queries import content_objects, summary


def run(tmp_path: Path, evidence: Path, executor: str = "inline", **kw: Any) -> Case:
    case = Case.init(tmp_path / "case", "t", "tester")
    settings = Settings(workers=2, **kw)
    src = (FolderSource if evidence.is_dir() else FileSource)(evidence, settings)
    ev = case.add_evidence("ev", None, src.id, str(evidence))
    ingest(case, ev, src, load_registry(), settings, command="test", executor=executor)
    return case


def by_locator(case: Case) -> dict[str, dict[str, Any]]:
    out = {}
    for obj in content_objects(case):
        for loc in obj["locations"]:
            out[loc["locator"]] = obj
    return out


def test_folder_with_nested_archives(tmp_path: Path, small_evidence: Path) -> None:
    case = run(tmp_path, small_evidence)
    objs = by_locator(case)
    assert "holiday.zip!/inner.zip!/deep/photo.png" in objs
    assert "holiday.zip!/a.jpg" in objs
    data = (small_evidence / "DCIM" / "IMG_0001.JPG").read_bytes()
    obj = objs["DCIM/IMG_0001.JPG"]
    assert obj["sha256"] == hashlib.sha256(data).hexdigest()
    assert obj["md5"] == hashlib.md5(data).hexdigest()
    assert obj["sha1"] == hashlib.sha1(data).hexdigest()
    assert obj["mime"] == "image/jpeg"
    assert obj["image"] == {"width": 320, "height": 240}
    assert len(obj["pdq"]["hash"]) == 64
    assert obj["pdq"]["mode"] == "fast"
    dup = objs["DCIM/copy_of_0.jpg"]
    assert {loc["locator"] for loc in dup["locations"]} == {
        "DCIM/IMG_0000.JPG",
        "DCIM/copy_of_0.jpg",
    }
    renamed = objs["docs/renamed.dll"]
    assert renamed["mime"] == "image/png"
    assert renamed["locations"][0]["extension_mismatch"] is True
    broken = objs["docs/broken.jpg"]
    assert broken["problems"] and broken["problems"][0]["analyzer"] in {"image", "pdq"}
    assert objs["docs/notes.txt"]["mime"] == "text/plain"
    s = summary(case)
    assert s["locations"] == 13  # 9 plain files, the zip, its 2 members, the nested member
    ev = case.evidence("ev")[0]
    assert ev.acquisition_hash and ev.completed_at


def test_thumbnails_stay_private_in_case(tmp_path: Path, small_evidence: Path) -> None:
    case = run(tmp_path, small_evidence)
    thumbs = list((case.root / "thumbs").rglob("*.jpg"))
    assert thumbs
    for t in thumbs:
        assert t.stat().st_mode & 0o077 == 0
        assert t.parent.stat().st_mode & 0o777 == 0o700


def test_pool_and_inline_agree(tmp_path: Path, small_evidence: Path) -> None:
    a = by_locator(run(tmp_path / "a", small_evidence, "inline"))
    b = by_locator(run(tmp_path / "b", small_evidence, "local"))
    assert {k: v["sha256"] for k, v in a.items()} == {k: v["sha256"] for k, v in b.items()}
    assert {k: v["pdq"] for k, v in a.items()} == {k: v["pdq"] for k, v in b.items()}


def test_symlinks_recorded_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not evidence")
    root = tmp_path / "ev"
    root.mkdir()
    (root / "real.txt").write_text("evidence")
    os.symlink(outside, root / "link.txt")
    os.symlink(tmp_path, root / "dirlink")
    case = run(tmp_path, root)
    objs = by_locator(case)
    assert set(objs) == {"real.txt"}
    with case.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "select locator, kind, link_target, sha256 from locations order by locator"
        ).all()
    assert ("link.txt", "symlink", str(outside), None) in rows
    assert ("dirlink", "symlink", str(tmp_path), None) in rows


def test_single_archive_file_as_evidence(tmp_path: Path, small_evidence: Path) -> None:
    case = run(tmp_path, small_evidence / "holiday.zip")
    objs = by_locator(case)
    assert set(objs) >= {
        "holiday.zip",
        "holiday.zip!/a.jpg",
        "holiday.zip!/inner.zip!/deep/photo.png",
    }
    ev = case.evidence("ev")[0]
    zip_sha = hashlib.sha256((small_evidence / "holiday.zip").read_bytes()).hexdigest()
    assert ev.acquisition_hash == zip_sha


def test_folder_acquisition_hash_is_stable_and_content_sensitive(
    tmp_path: Path, small_evidence: Path
) -> None:
    h1 = run(tmp_path / "1", small_evidence).evidence("ev")[0].acquisition_hash
    h2 = run(tmp_path / "2", small_evidence).evidence("ev")[0].acquisition_hash
    assert h1 == h2
    (small_evidence / "docs" / "notes.txt").write_text("changed\n")
    h3 = run(tmp_path / "3", small_evidence).evidence("ev")[0].acquisition_hash
    assert h3 != h1


@pytest.mark.parametrize("mode", ["fast", "exact"])
def test_pdq_mode_recorded_in_run(tmp_path: Path, small_evidence: Path, mode: str) -> None:
    case = run(tmp_path, small_evidence, pdq=mode)
    run_row = summary(case)["runs"][-1]
    assert run_row["settings"]["pdq"] == mode
    assert run_row["status"] == "completed"
    assert set(run_row["analyzers"]) >= {"hashes", "filetype", "image", "pdq"}
    assert {o["pdq"]["mode"] for o in content_objects(case) if o["pdq"]} == {mode}
