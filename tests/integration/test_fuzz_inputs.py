"""Fuzz-style scan: a few hundred damaged images, videos and archives in one CLI scan (issue 15).

Every file must end up stored as a location (and archive members as locations of their own) or
be explained by a problem, and no stored problem message may read like a program failure. The
mutations come from a seeded RNG, so a failure reproduces exactly.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import hostile_media as hm
from veriscan.cli.app import app

SEED = 1515
PER_FORMAT = 48
ARCHIVES = 24
VIDEOS = 16
EXCEPTION_TEXT = re.compile(
    r"'NoneType'|object has no attribute|[A-Za-z]Error\(|Exception\(|Traceback|"
    r"<[^>]* at 0x[0-9a-fA-F]+>|\[Errno|line \d+, in |"
    # zipfile, zlib, gzip, lzma and tarfile's own phrasings
    r"Bad CRC-32 for file|Error -?\d+ while|Compressed file ended|Bad magic number|"
    r"invalid (?:distance|block type|stored block|code)|Not a gzipped file|Corrupt input data|"
    r"unexpected end of data|File is not a zip file"
)


def build(root: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The fuzz folder: {file name: how it was made}, {archive name: member names}."""
    rnd = random.Random(SEED)
    root.mkdir()
    made: dict[str, str] = {}
    archives: dict[str, list[str]] = {}
    for fmt in hm.FORMATS:
        for i in range(PER_FORMAT):
            kind, data = hm.mutate(hm.drawn_file(fmt, i), rnd)
            name = f"{fmt.lower()}-{i:03d}-{kind}.{hm.SUFFIX[fmt]}"
            (root / name).write_bytes(data)
            made[name] = kind
    for i in range(VIDEOS):
        container, suffix = ("mp4", "mp4") if i % 2 == 0 else ("matroska", "mkv")
        kind, data = hm.mutate(hm.drawn_video(container, i), rnd)
        name = f"video-{i:02d}-{kind}.{suffix}"
        (root / name).write_bytes(data)
        made[name] = kind
    for name, data in hm.hostile_images().items():
        (root / name).write_bytes(data)
        made[name] = "hostile"
    for i in range(ARCHIVES):
        members = {
            f"m{j}.{hm.SUFFIX[fmt]}": hm.mutate(hm.drawn_file(fmt, 100 + i + j), rnd)[1]
            for j, fmt in enumerate(rnd.sample(hm.FORMATS, 3))
        }
        packed = hm.zip_of(members) if i % 2 == 0 else hm.tar_of(members)
        kind = "intact"
        if i % 3:  # two in three archives are themselves damaged
            kind, packed = hm.mutate(packed, rnd)
        name = f"archive-{i:02d}-{kind}.{'zip' if i % 2 == 0 else 'tar'}"
        (root / name).write_bytes(packed)
        made[name] = kind
        archives[name] = sorted(members)
    return made, archives


@dataclass
class Scan:
    made: dict[str, str]
    archives: dict[str, list[str]]
    locations: set[str]
    explained: set[str]
    """Locators with a problem on them or on their content."""
    problems: list[tuple[str, str, str]]
    seconds: float
    hashed: int
    """Contents that still got a PDQ hash: the damage left most images decodable."""
    videos: int
    """Contents the vPDQ analyzer looked at."""


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    evidence = tmp_path / "fuzz"
    made, archives = build(evidence)
    case = tmp_path / "case"
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["scan", str(evidence), "--case", str(case), "--no-detector", "--workers", "2"]
    )
    seconds = time.monotonic() - started
    assert result.exit_code in (0, 1), result.output  # 1: completed, with problems recorded
    assert "Traceback" not in result.output
    with sqlite3.connect(case / "case.db") as db:
        by_sha = dict(db.execute("select locator, sha256 from locations"))
        rows = db.execute("select locator, sha256, code, message from problems").fetchall()
        hashed = db.execute("select count(*) from contents where pdq_hash is not null").fetchone()
        videos = db.execute("select count(*) from contents where mime like 'video/%'").fetchone()
    explained = {loc for loc, _, _, _ in rows if loc}
    sha_problem = {sha for _, sha, _, _ in rows if sha}
    explained |= {loc for loc, sha in by_sha.items() if sha in sha_problem}
    problems = [(loc or sha, code, msg) for loc, sha, code, msg in rows]
    return Scan(made, archives, set(by_sha), explained, problems, seconds, hashed[0], videos[0])


def test_every_fuzzed_file_is_stored(scan: Scan) -> None:
    missing = sorted(name for name in scan.made if name not in scan.locations)
    assert not missing, f"files with no location: {missing[:10]}"
    assert scan.seconds < 90, f"the fuzz scan took {scan.seconds:.0f} s"
    assert scan.hashed > 100 and scan.videos > 8, (scan.hashed, scan.videos)


def test_no_stored_problem_reads_like_a_program_failure(scan: Scan) -> None:
    leaked = [p for p in scan.problems if EXCEPTION_TEXT.search(p[2])]
    assert not leaked, f"exception text in stored problems: {leaked[:5]}"
    assert all(code and code != "error" for _, code, _ in scan.problems)
    codes = {code for _, code, _ in scan.problems}
    assert {"exif-malformed", "image-too-large", "image-truncated"} <= codes
    assert {"archive-crc", "archive-damaged-header"} <= codes, sorted(codes)


def test_archive_members_are_stored_or_their_loss_is_a_problem(scan: Scan) -> None:
    lost = []
    for name, members in scan.archives.items():
        inside = {f"{name}!/{m}" for m in members}
        explained = name in scan.explained or any(
            loc.startswith(f"{name}!/") for loc in scan.explained
        )
        if not (inside <= scan.locations or explained):
            lost.append(name)
    assert not lost, f"archives whose members were lost without a problem: {lost}"
