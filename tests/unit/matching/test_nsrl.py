"""NSRL RDS v3 reader on a small, benign RDS-shaped SQLite database built in the test."""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Generator
from pathlib import Path

import pytest

from veriscan.matching.lists.nsrl import read_nsrl_rds
from veriscan.matching.lists.records import BadLine, HashRecord, ListFormatError

_RNG = random.Random(31337)


def hexhash(digits: int) -> str:
    return f"{_RNG.getrandbits(digits * 4):0{digits}x}"


ROWS = [
    (hexhash(64), hexhash(40), hexhash(32), "kernel32.dll", 1024, 7),
    (hexhash(64).upper(), hexhash(40), hexhash(32), "user32.dll", 2048, 7),
    ("", hexhash(40), hexhash(32), "notepad.exe", 0, 8),
    (hexhash(64), hexhash(40), "not-a-md5", "calc.exe", 4096, 8),
    ("", "", "", "empty.txt", 1, 9),
    (hexhash(64), hexhash(40), hexhash(32), "", 12, 9),
]


def build_rds(path: Path, *, wal: bool = False) -> None:
    """FILE, PKG and OS tables shaped like the published RDS v3 schema (trimmed)."""
    connection = sqlite3.connect(path)
    try:
        if wal:
            connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(
            """
            CREATE TABLE OS (os_id INTEGER PRIMARY KEY, name VARCHAR, version VARCHAR,
                             manufacturer_id INTEGER);
            CREATE TABLE PKG (package_id INTEGER PRIMARY KEY, name VARCHAR, version VARCHAR,
                              category VARCHAR, os_id INTEGER REFERENCES OS(os_id),
                              manufacturer_id INTEGER, language VARCHAR, application_type
                              VARCHAR);
            CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL,
                               md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL,
                               file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
                               package_id INTEGER NOT NULL);
            """
        )
        connection.execute("INSERT INTO OS VALUES (1, 'SampleOS', '1.0', 1)")
        for package_id in (7, 8, 9):
            connection.execute(
                "INSERT INTO PKG VALUES (?, 'Sample Suite', '2.1', 'Utility', 1, 1, 'English',"
                " 'Operating System')",
                (package_id,),
            )
        connection.executemany(
            "INSERT INTO FILE VALUES (?, ?, ?, '0badc0de', ?, ?, ?)",
            ROWS,
        )
        connection.commit()
    finally:
        connection.close()


def test_reads_records_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "RDS_test.db"
    build_rds(path)
    events = list(read_nsrl_rds(path))
    sha256, sha1, md5 = ROWS[0][0], ROWS[0][1], ROWS[0][2]
    assert events[0] == HashRecord(
        line=1,
        md5=md5,
        sha1=sha1,
        sha256=sha256,
        labels=("kernel32.dll",),
        extra={"file_size": 1024, "package_id": 7},
    )
    assert events[1] == HashRecord(
        line=2,
        md5=ROWS[1][2],
        sha1=ROWS[1][1],
        sha256=ROWS[1][0].lower(),
        labels=("user32.dll",),
        extra={"file_size": 2048, "package_id": 7},
    )
    assert events[2] == HashRecord(
        line=3,
        md5=ROWS[2][2],
        sha1=ROWS[2][1],
        labels=("notepad.exe",),
        extra={"file_size": 0, "package_id": 8},
    )
    assert isinstance(events[3], BadLine) and events[3].line == 4
    assert "md5" in events[3].reason
    assert events[4] == BadLine(5, "row 5: no hash")
    assert events[5] == HashRecord(
        line=6,
        md5=ROWS[5][2],
        sha1=ROWS[5][1],
        sha256=ROWS[5][0],
        extra={"file_size": 12, "package_id": 9},
    )
    assert len(events) == len(ROWS)


def test_line_is_the_rowid(tmp_path: Path) -> None:
    path = tmp_path / "gaps.db"
    build_rds(path)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM FILE WHERE rowid IN (1, 2)")
    connection.close()
    lines = [event.line for event in read_nsrl_rds(path)]
    assert lines == [3, 4, 5, 6]


def test_column_names_are_case_insensitive_and_optional(tmp_path: Path) -> None:
    path = tmp_path / "upper.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE File (SHA1 TEXT, MD5 TEXT)")
    connection.execute("INSERT INTO File VALUES (?, ?)", (ROWS[0][1], ROWS[0][2]))
    connection.commit()
    connection.close()
    assert list(read_nsrl_rds(path)) == [HashRecord(line=1, md5=ROWS[0][2], sha1=ROWS[0][1])]


@pytest.mark.parametrize("wal", [False, True])
def test_opened_read_only_and_leaves_no_side_files(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "RDS_ro.db"
    build_rds(path, wal=wal)
    before_files = sorted(p.name for p in tmp_path.iterdir())
    before_bytes = path.read_bytes()
    old = 1_600_000_000
    os.utime(path, (old, old))
    mtime = path.stat().st_mtime_ns
    path.chmod(0o444)
    try:
        events = list(read_nsrl_rds(path))
    finally:
        path.chmod(0o644)
    assert len(events) == len(ROWS)
    assert path.read_bytes() == before_bytes
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == before_files == ["RDS_ro.db"]


def test_abandoned_reader_closes_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "partial.db"
    build_rds(path)
    events = read_nsrl_rds(path)
    assert next(events).line == 1
    assert isinstance(events, Generator)
    events.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial.db"]


def test_non_sqlite_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "hashes.txt"
    path.write_text(f"{hexhash(32)}\n")
    with pytest.raises(ListFormatError, match="not an SQLite database"):
        list(read_nsrl_rds(path))


def test_sqlite_without_file_table_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE PKG (package_id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(ListFormatError, match="no FILE table"):
        list(read_nsrl_rds(path))


def test_file_table_without_hash_columns_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "nohash.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE FILE (file_name TEXT, file_size INTEGER)")
    connection.commit()
    connection.close()
    with pytest.raises(ListFormatError, match="none of the md5, sha1, sha256"):
        list(read_nsrl_rds(path))


def test_truncated_database_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)
    with pytest.raises(ListFormatError):
        list(read_nsrl_rds(path))
