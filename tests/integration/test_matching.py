"""Hash lists end to end: a scan of the demo evidence reports exactly the planted matches."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from veriscan.analyzers.pdq import pdq_hash
from veriscan.cli.app import app
from veriscan.demo.evidence import make_demo_evidence

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def records(case: Path) -> list[dict[str, Any]]:
    code, text = invoke("export", "jsonl", str(case))
    assert code == 0, text
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _edited_pdq(path: Path) -> str:
    """The PDQ of a resized, re-encoded copy: close to the original, not byte-identical."""
    img = Image.open(path).convert("RGB")
    img = img.resize((img.width * 9 // 10, img.height * 9 // 10))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=60)
    return pdq_hash(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))[0]


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "evidence"
    make_demo_evidence(root)
    return root


def _fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_scan_reports_exactly_the_listed_files(tmp_path: Path, demo: Path) -> None:
    jpegs = sorted(demo.rglob("*.jpg"))
    by_md5, by_sha256, edited = jpegs[0], jpegs[1], jpegs[2]
    edited_hash = _edited_pdq(edited)
    lst = tmp_path / "known.csv"
    lst.write_text(
        "md5,sha256,pdq,category,series\n"
        f"{hashlib.md5(by_md5.read_bytes()).hexdigest()},,,1,S-A\n"
        f",{hashlib.sha256(by_sha256.read_bytes()).hexdigest()},,2,\n"
        f",,{edited_hash},3,S-C\n"
        f",,{'0f' * 32},4,\n"
        "this line is bad,,,,\n"
    )
    code, text = invoke("lists", "import", str(lst), "--name", "known", "--source", "unit test")
    assert code == 1, text  # imported, but a bad line: exit 1 (issue 15, item 16)
    assert "1 bad lines" in text
    before = _fingerprint(demo)
    case = tmp_path / "case"
    code, text = invoke("scan", str(demo), "--case", str(case), "--pdq", "exact")
    assert code in (0, 1), text
    assert "known:" in text
    assert _fingerprint(demo) == before, "evidence must never change"

    objs = records(case)
    sha_md5 = hashlib.sha256(by_md5.read_bytes()).hexdigest()
    sha_sha = hashlib.sha256(by_sha256.read_bytes()).hexdigest()
    expected = {(sha_md5, "md5", 0, "1"), (sha_sha, "sha256", 0, "2")}
    for obj in objs:
        pdq = obj["pdq"]
        if pdq and pdq["quality"] >= 50 and _distance(pdq["hash"], edited_hash) <= 31:
            expected.add((obj["sha256"], "pdq", _distance(pdq["hash"], edited_hash), "3"))
    got = {
        (o["sha256"], m["hash_type"], m["distance"], m["category"])
        for o in objs
        for m in o["matches"]
    }
    assert got == expected
    edited_sha = hashlib.sha256(edited.read_bytes()).hexdigest()
    assert any(sha == edited_sha and kind == "pdq" and d > 0 for sha, kind, d, _ in got)
    for obj in objs:
        for m in obj["matches"]:
            assert set(m) == {
                "list",
                "entry",
                "hash_type",
                "distance",
                "category",
                "series",
                "labels",
                "known_good",
            }
            assert m["list"] == "known" and m["known_good"] is False


def test_match_command_groups_known_good_and_exports(tmp_path: Path, demo: Path) -> None:
    case = tmp_path / "case"
    code, text = invoke("scan", str(demo), "--case", str(case))
    assert code in (0, 1), text
    objs = records(case)
    grouped = [o for o in objs if o["group"]]
    assert grouped, "the demo has near-duplicate copies"
    for o in grouped:
        rep = next(x for x in objs if x["sha256"] == o["group"]["id"])
        assert rep["group"]["representative"] is True
        assert _distance(o["pdq"]["hash"], rep["pdq"]["hash"]) == o["group"]["distance"]

    # an allow-list made of two files' hashes: matches marked known-good, not exported
    allow = tmp_path / "allow.txt"
    allowed = [o for o in objs if o["mime"] == "image/png"][:2]
    allow.write_text("".join(o["sha1"] + "\n" for o in allowed))
    code, text = invoke("lists", "import", str(allow), "--name", "os-files", "--known-good")
    assert code == 0, text
    code, text = invoke("match", str(case), "--list", "os-files")
    assert code == 0, text
    assert "os-files (known-good): sha1 2" in text
    objs = records(case)
    known = {o["sha256"] for o in objs if any(m["known_good"] for m in o["matches"])}
    assert known == {o["sha256"] for o in allowed}

    code, text = invoke("status", str(case))
    assert "2 known-good" in text and "list os-files: sha1 2" in text
    code, text = invoke("report", str(case))
    html = (case / "report.html").read_text()
    assert "2 of them left out of the file list" in html
    for o in allowed:
        assert o["sha256"] not in html
    invoke("report", str(case), "--known-good")
    assert all(o["sha256"] in (case / "report.html").read_text() for o in allowed)

    out = tmp_path / "share.csv"
    code, text = invoke("export", "hashes", str(case), "-o", str(out))
    assert code == 0, text
    exported = out.read_text().splitlines()
    assert exported[0] == "md5,sha1,sha256,pdq,quality,category,series,labels"
    shas = {line.split(",")[2] for line in exported[1:]}
    code, text = invoke("lists", "import", str(out), "--name", "reimported")
    assert code == 0 and f"{len(exported) - 1} entries" in text, text
    code, text = invoke("show", str(case), allowed[0]["sha256"])
    assert "Hash-list matches" in text and "known-good" in text
    assert not shas & known, "known-good files are never exported"
    media = {o["sha256"] for o in objs if o["mime"].startswith(("image/", "video/"))}
    assert shas == media - known


def test_vics_export_round_trips_through_import(tmp_path: Path, demo: Path) -> None:
    case = tmp_path / "case"
    invoke("scan", str(demo), "--case", str(case))
    first = records(case)
    lst = tmp_path / "cats.csv"
    target = next(o for o in first if o["mime"] == "image/jpeg")
    lst.write_text(f"sha1,category,series,labels\n{target['sha1']},2,S-9,x|y\n")
    assert invoke("lists", "import", str(lst), "--name", "cats")[0] == 0
    assert invoke("match", str(case))[0] == 0
    out = tmp_path / "case.vics.json"
    code, text = invoke("export", "vics", str(case), "-o", str(out))
    assert code == 0, text
    doc = json.loads(out.read_text())
    assert doc["@odata.context"].endswith("/2.0.xml/US/$metadata#Media")
    from veriscan.review import audit
    from veriscan.store.case import Case

    exports = [e for e in audit.entries(Case.open(case)) if e.action == "export"]
    assert (exports[-1].object, exports[-1].details["format"]) == (str(out), "vics")
    assert audit.verify(Case.open(case)).ok
    media = {m["SHA1"].lower(): m for m in doc["value"]}
    assert media[target["sha1"]]["Category"] == 2
    assert media[target["sha1"]]["Series"] == "S-9"
    for obj in first:
        if obj["sha1"] in media:
            files = media[obj["sha1"]]["MediaFiles"]
            assert sorted(f["FilePath"] for f in files) == sorted(
                loc["locator"] for loc in obj["locations"]
            )
    code, text = invoke("lists", "import", str(out), "--name", "back")
    assert code == 0, text
    code, text = invoke("lists", "show", "back", "--entries", "100")
    assert code == 0, text
    assert f"sha1={target['sha1']}" in text
    line = next(x for x in text.splitlines() if target["sha1"] in x)
    assert "category=2" in line and "series=S-9" in line
    # importing the same export again changes nothing
    code, text = invoke("lists", "import", str(out), "--name", "back")
    assert "unchanged" in text


def test_category_zero_is_an_explicit_choice(tmp_path: Path) -> None:
    doc = {
        "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
        "value": [{"MediaID": 1, "Category": 0, "MD5": "AB" * 16}],
    }
    path = tmp_path / "zero.json"
    path.write_text(json.dumps(doc))
    assert invoke("lists", "import", str(path), "--name", "z1")[0] == 0
    code, text = invoke(
        "lists", "import", str(path), "--name", "z2", "--category-zero", "non-pertinent"
    )
    assert code == 0, text
    code, text = invoke("lists", "ls", "--json")
    metas = {m["name"]: m for m in json.loads(text)}
    assert metas["z1"]["counts"]["categories"] == {}
    assert metas["z2"]["counts"]["categories"] == {"non-pertinent": 1}
    code, text = invoke("lists", "import", str(path), "--name", "z3", "--category-zero", "maybe")
    assert code == 2


def test_list_commands_fail_cleanly(tmp_path: Path) -> None:
    code, text = invoke("lists", "show", "missing")
    assert code == 2 and "no list named" in text
    code, text = invoke("lists", "rm", "missing")
    assert code == 2
    code, text = invoke("lists", "import", str(tmp_path / "nope.csv"), "--name", "x")
    assert code == 2 and "does not exist" in text
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, text = invoke("lists", "import", str(empty), "--name", "x")
    assert code == 2
    code, text = invoke("lists", "ls")
    assert code == 0 and "no lists" in text
