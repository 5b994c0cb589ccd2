"""`lists import` of hostile lists, run as a child under a memory cap and a time limit.

Before the guard, a 200 KB VICS record of 100,000 nested arrays grew the importer to 24 GB, a
400 MB string took minutes, and one integer above 2^63 rejected the whole file. Each import here
runs in a subprocess whose address space is capped (RLIMIT_AS), so a regression fails the test
with MemoryError or a kill instead of exhausting the machine. The cap sits well above what a
bounded import needs (measured: it runs under 500 MB of address space, numba and numpy included).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.hostile_lists import (
    HOSTILE_MD5,
    bare_nested_arrays,
    long_string,
    nested_arrays,
    nested_objects,
    wide_integer,
    write_long_line,
    write_vics,
)
from veriscan.matching.library import Library
from veriscan.matching.stored import StoredList

ADDRESS_SPACE = 1 << 30
TIME_LIMIT = 60


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_import(
    path: Path, library: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    command = [sys.executable, "-m", "veriscan", "lists", "import", str(path), "--name", "h"]
    started = time.monotonic()
    result = subprocess.run(
        [*command, "--library", str(library), *extra],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=_cap,
        check=False,
    )
    return result, time.monotonic() - started


def imported(library: Path) -> tuple[dict[str, object], list[list[str]]]:
    meta = json.loads((library / "h" / "list.json").read_text(encoding="utf-8"))
    rows = (library / "h" / "bad-lines.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return meta["counts"], [row.split("\t") for row in rows]


VICS_BOMBS: dict[str, tuple[Callable[[], list[bytes]], str, bool]] = {
    "100k nested arrays": (nested_arrays(100_000), "nests deeper than 32 levels", False),
    "100k nested arrays, #Cases": (nested_arrays(100_000), "nests deeper than 32 levels", True),
    "100k nested objects": (nested_objects(100_000), "nests deeper than 32 levels", False),
    "record is 100k arrays": (bare_nested_arrays(100_000), "nests deeper than 32 levels", False),
    "50 MB string": (long_string(50 << 20), "is larger than 8388608 bytes", False),
}


@pytest.mark.parametrize("name", list(VICS_BOMBS))
def test_vics_bomb_is_one_bad_line(tmp_path: Path, name: str) -> None:
    hostile, reason, cases = VICS_BOMBS[name]
    path = write_vics(tmp_path / "bomb.json", hostile, cases=cases)
    result, seconds = run_import(path, tmp_path / "lib")
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: completed with bad lines
    counts, bad = imported(tmp_path / "lib")
    assert counts["records"] == 2 and counts["hashes"] == {"md5": 2}
    assert len(bad) == 1 and bad[0][0] == "2" and reason in bad[0][1], bad
    assert "at byte" in bad[0][1]
    assert seconds < 20, seconds


def test_integer_beyond_64_bits_keeps_the_file_and_the_record(tmp_path: Path) -> None:
    path = write_vics(tmp_path / "wide.json", wide_integer(2**64 + 5))
    result, _ = run_import(path, tmp_path / "lib")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    counts, bad = imported(tmp_path / "lib")
    assert counts["records"] == 3 and counts["field_notes"] == 1 and bad == []
    notes = (tmp_path / "lib" / "h" / "field-notes.tsv").read_text(encoding="utf-8")
    assert "2\tMediaSize: number 18446744073709551621 does not fit 64 bits" in notes
    stored = StoredList.open(Library(tmp_path / "lib"), "h")
    extras = {rec.md5: dict(rec.extra) for rec in stored.records()}
    stored.close()
    assert extras[HOSTILE_MD5]["MediaSize"] == "18446744073709551621"


@pytest.mark.parametrize("fmt", ["csv", "plain"])
def test_text_list_with_one_enormous_line(tmp_path: Path, fmt: str) -> None:
    path = write_long_line(tmp_path / f"long.{fmt}", fmt, 50 << 20)
    result, seconds = run_import(path, tmp_path / "lib", "--format", fmt)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    counts, bad = imported(tmp_path / "lib")
    assert counts["records"] == 2
    line = "3" if fmt == "csv" else "2"
    assert [row[0] for row in bad] == [line] and "longer than 1048576 bytes" in bad[0][1]
    assert seconds < 20, seconds
