"""The list library: streaming imports, bad lines kept with numbers, idempotence, lookups."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from veriscan.matching.exact import ExactTable
from veriscan.matching.library import ImportOptions, Library, LibraryError
from veriscan.matching.pdqindex import hex_to_words
from veriscan.matching.stored import StoredList


def _hex(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("0123456789abcdef") for _ in range(n))


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    return Library(tmp_path / "lists")


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("md5,sha256,pdq,quality,category,series,labels\n" + "\n".join(rows) + "\n")
    return path


def test_csv_import_counts_bad_lines_and_keeps_them_with_numbers(
    lib: Library, tmp_path: Path
) -> None:
    rnd = random.Random(1)
    good = [f"{_hex(rnd, 32)},{_hex(rnd, 64)},{_hex(rnd, 64)},90,2,S-1,a|b" for _ in range(3)]
    rows = [good[0], "nothex,,,,,,", good[1], f"{_hex(rnd, 32)},,,,9,,", good[2]]
    report = lib.import_list(_csv(tmp_path / "l.csv", rows), ImportOptions(name="one"))
    counts = report.meta.counts
    assert counts["records"] == 3
    assert counts["bad_lines"] == 2
    assert counts["hashes"] == {"md5": 3, "sha256": 3, "pdq": 3}
    assert counts["categories"] == {"2": 3}
    assert [line for line, _ in report.first_bad] == [3, 5]
    bad = (lib.root / "one" / "bad-lines.tsv").read_text().splitlines()
    assert [b.split("\t")[0] for b in bad[1:]] == ["3", "5"]
    stored = StoredList.open(lib, "one")
    md5 = good[1].split(",")[0]
    hits = stored.exact("md5").lookup(["0" * 32, md5.upper().lower()])
    assert hits == [(1, 1)]
    entry = stored.entry(1)
    assert (entry.category, entry.series, entry.labels, entry.line) == ("2", "S-1", ("a", "b"), 4)
    stored.close()


def test_reimport_is_a_no_op_and_other_content_needs_replace(lib: Library, tmp_path: Path) -> None:
    rnd = random.Random(2)
    path = tmp_path / "plain.txt"
    path.write_text("\n".join(_hex(rnd, 32) for _ in range(50)) + "\n")
    first = lib.import_list(path, ImportOptions(name="p"))
    assert first.changed
    before = {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (lib.root / "p").iterdir()
        if p.is_file()
    }
    again = lib.import_list(path, ImportOptions(name="p"))
    assert not again.changed
    after = {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (lib.root / "p").iterdir()
        if p.is_file()
    }
    assert before == after
    path.write_text(path.read_text() + _hex(rnd, 32) + "\n")
    with pytest.raises(LibraryError, match="--replace"):
        lib.import_list(path, ImportOptions(name="p"))
    replaced = lib.import_list(path, ImportOptions(name="p"), replace=True)
    assert replaced.meta.counts["records"] == 51
    assert [p.name for p in lib.root.iterdir()] == ["p"], "no temporary folders are left behind"


def test_changing_an_option_is_not_a_silent_no_op(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("a" * 32 + "\n")
    lib.import_list(path, ImportOptions(name="p"))
    with pytest.raises(LibraryError):
        lib.import_list(path, ImportOptions(name="p", known_good=True))


def test_a_list_with_no_usable_entry_is_refused_and_leaves_nothing(
    lib: Library, tmp_path: Path
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("zz\nnot a hash\n")
    with pytest.raises(LibraryError, match="no usable entries"):
        lib.import_list(path, ImportOptions(name="bad", fmt="plain"))
    assert lib.names() == []
    assert not any(lib.root.iterdir())


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "x" * 101, "sp ace"])
def test_invalid_names(lib: Library, tmp_path: Path, name: str) -> None:
    path = tmp_path / "l.txt"
    path.write_text("a" * 32 + "\n")
    with pytest.raises(LibraryError, match="invalid list name"):
        lib.import_list(path, ImportOptions(name=name))


def test_unknown_list_and_removal(lib: Library, tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="no list named"):
        lib.meta("nope")
    path = tmp_path / "l.txt"
    path.write_text("a" * 40 + "\n")
    lib.import_list(path, ImportOptions(name="s"))
    assert lib.meta("s").counts["hashes"] == {"sha1": 1}
    lib.remove("s")
    assert lib.names() == []


def test_nsrl_is_known_good_by_default(lib: Library, tmp_path: Path) -> None:
    db = tmp_path / "rds.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT, file_name TEXT,"
        " file_size INTEGER, package_id INTEGER)"
    )
    con.execute(
        "INSERT INTO FILE VALUES (?, ?, ?, 'x', 'notepad.exe', 10, 1)",
        ("A" * 64, "B" * 40, "C" * 32),
    )
    con.commit()
    con.close()
    meta = lib.import_list(db, ImportOptions(name="nsrl")).meta
    assert meta.format == "nsrl" and meta.known_good
    assert StoredList.open(lib, "nsrl").exact("sha256").lookup(["a" * 64]) == [(0, 0)]


def test_pdq_hashes_below_quality_are_not_indexed(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "pdq.txt"
    path.write_text("f" * 64 + ",90\n" + "0" * 64 + ",10\n" + "a" * 64 + "\n")
    meta = lib.import_list(path, ImportOptions(name="pdq")).meta
    assert meta.counts["hashes"] == {"pdq": 2}
    assert meta.counts["pdq_low_quality"] == 1
    stored = StoredList.open(lib, "pdq")
    q, entries, d = stored.pdq_search(hex_to_words(["0" * 64, "f" * 63 + "e"]))
    assert list(zip(q.tolist(), entries.tolist(), d.tolist(), strict=False)) == [(1, 0, 1)]


def test_plain_import_streams_in_constant_memory(lib: Library, tmp_path: Path) -> None:
    rnd = np.random.default_rng(4)
    path = tmp_path / "big.txt"
    digests = rnd.integers(0, 256, size=(200_000, 16), dtype=np.uint8)
    with path.open("w") as fh:
        for row in digests:
            fh.write(row.tobytes().hex() + "\n")
    tracemalloc.start()
    meta = lib.import_list(path, ImportOptions(name="big")).meta
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert meta.counts["hashes"] == {"md5": 200_000}
    # 200k entries as Python objects would take tens of MB; the raw digests are 3.2 MB
    assert peak < 24 << 20, f"import peaked at {peak / 1e6:.1f} MB of Python allocations"
    table = ExactTable(lib.root / "big", "md5")
    probe = [digests[i].tobytes().hex() for i in (0, 77_777, 199_999)]
    assert table.lookup(probe) == [(0, 0), (1, 77_777), (2, 199_999)]


def test_exact_lookup_finds_every_entry_of_a_repeated_hash_and_prefix_twins(
    tmp_path: Path,
) -> None:
    from veriscan.matching.exact import build_exact

    a = bytes(range(16))
    twin = a[:8] + bytes(8)  # same 64-bit prefix, different digest
    digests = np.frombuffer(a + twin + a, dtype=np.uint8).reshape(-1, 16)
    build_exact(tmp_path, "md5", digests, np.asarray([5, 6, 7], dtype=np.uint32))
    table = ExactTable(tmp_path, "md5")
    assert sorted(table.lookup([a.hex()])) == [(0, 5), (0, 7)]
    assert table.lookup([twin.hex()]) == [(0, 6)]
    assert table.lookup([bytes(16).hex()]) == []


def test_vics_scheme_comes_from_the_file(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "uk.json"
    doc = {
        "@odata.context": "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media",
        "value": [{"MediaID": 1, "Category": 1, "MD5": "A" * 32}],
    }
    path.write_text(json.dumps(doc))
    meta = lib.import_list(path, ImportOptions(name="uk")).meta
    assert meta.scheme == "UK"
    assert meta.counts["categories"] == {"A": 1}


def test_vpdq_folder_import(lib: Library, tmp_path: Path) -> None:
    folder = tmp_path / "vids"
    folder.mkdir()
    (folder / "one.txt").write_text("0,100," + "f" * 64 + ",0.000\n1,100," + "e" * 64 + ",1.000\n")
    (folder / "broken.txt").write_text("garbage\n")
    report = lib.import_list(folder, ImportOptions(name="v"))
    assert report.meta.format == "vpdq"
    assert report.meta.counts["videos"] == 1
    assert report.meta.counts["video_frames"] == 2
    assert report.meta.counts["bad_lines"] == 1
    stored = StoredList.open(lib, "v")
    frames = stored.entry(0).extra["frames"]
    assert frames == [[100, "f" * 64, 0.0], [100, "e" * 64, 1.0]]
    assert set(stored.video_candidates(hex_to_words(["e" * 63 + "f"]))) == {0}


def test_list_files_are_not_modified_by_import(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("a" * 32 + "\n")
    os.chmod(path, 0o444)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    lib.import_list(path, ImportOptions(name="ro"))
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_case_hashes_come_in_bounded_chunks(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from veriscan.domain import RunInfo
    from veriscan.matching.engine import case_hashes
    from veriscan.store import schema
    from veriscan.store.case import Case

    case = Case.init(tmp_path / "case", "T", "E")
    run = case.start_run(RunInfo("test", "0", {}, {}), None)
    rows = [
        {
            "sha256": f"{i:064x}",
            "md5": "0" * 32,
            "sha1": "0" * 40,
            "size": 1,
            "mime": "image/png",
            "findings": {},
            "run_id": run,
        }
        for i in range(25)
    ]
    with case.engine.begin() as conn:
        conn.execute(insert(schema.contents), rows)
    chunks = list(case_hashes(case, chunk=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [h.sha256 for c in chunks for h in c] == [r["sha256"] for r in rows]
