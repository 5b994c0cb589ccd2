"""The contract every list format gets (built-ins from the installed entry points, plus a third
party's): its own sample is sniffed as itself and nobody else's, ``--format auto`` picks it, reading
yields its entries and its bad lines by number, and hostile bytes are refused in bounded memory."""

from __future__ import annotations

import json
import random
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from support.third_party_matching import DigestLines
from veriscan.matching.library import detect_format
from veriscan.matching.lists.formats import ListFormat, ReadOptions
from veriscan.matching.lists.records import BadLine, HashRecord, ListFormatError
from veriscan.matching.lists.schemes import US
from veriscan.matching.registry import list_formats

FORMATS: list[ListFormat] = [*list_formats(), DigestLines()]
RND = random.Random(16)
MD5 = f"{RND.getrandbits(128):032x}"
PDQ = f"{RND.getrandbits(256):064x}"
CONTEXT = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def _text(body: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "sample"
        path.write_text(body, encoding="utf-8")
        return path

    return write


def _nsrl(folder: Path) -> Path:
    path = folder / "rds.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE FILE (sha1 VARCHAR, md5 VARCHAR)")
    connection.executemany(
        "INSERT INTO FILE VALUES (?, ?)", [(f"{RND.getrandbits(160):040x}", MD5), ("zz", "yy")]
    )
    connection.commit()
    connection.close()
    return path


def _vpdq(folder: Path) -> Path:
    path = folder / "videos"
    path.mkdir()
    (path / "a.txt").write_text(f"0,90,{PDQ},0.0\n1,90,{PDQ},1.0\n", encoding="utf-8")
    (path / "b.txt").write_text("not,a frame\n", encoding="utf-8")
    return path


VICS = {
    "@odata.context": CONTEXT,
    "value": [{"MediaID": 1, "Category": 1, "MD5": MD5}, {"MediaID": 2, "MD5": ["x"]}],
}
SAMPLES: dict[str, Callable[[Path], Path]] = {
    "vics": _text(json.dumps(VICS)),
    "csv": _text(f"md5,category\n{MD5},1\nzz,1\n"),
    "plain": _text(f"{MD5}\nnot hex at all\n"),
    "pdq": _text(f"{PDQ},90\n{PDQ[:10]},90\n"),
    "nsrl": _nsrl,
    "vpdq": _vpdq,
    "digestlines": _text(f"digest:{PDQ}\ndigest:no\n"),
}


def _sample(fmt_id: str, tmp_path: Path) -> Path:
    folder = tmp_path / fmt_id
    folder.mkdir()
    return SAMPLES[fmt_id](folder)


def _head(path: Path) -> bytes:
    return path.read_bytes()[:65536] if path.is_file() else b""


def test_every_registered_format_has_a_sample() -> None:
    assert {f.id for f in FORMATS} <= set(SAMPLES)
    assert [f.id for f in list_formats()][:6] == ["vics", "csv", "plain", "pdq", "nsrl", "vpdq"]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_sniffs_its_own_sample_and_no_other(fmt: ListFormat, tmp_path: Path) -> None:
    for other in SAMPLES:
        path = _sample(other, tmp_path)
        said = fmt.sniff(path, _head(path))
        if other == fmt.id:
            assert said, other
        elif not (fmt.fallback and other not in {f.id for f in list_formats()}):
            assert not said, other
        assert detect_format(path, FORMATS) == other


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_reads_entries_and_bad_lines(fmt: ListFormat, tmp_path: Path) -> None:
    events = list(fmt.read(_sample(fmt.id, tmp_path), ReadOptions(US)))
    records = [e for e in events if isinstance(e, HashRecord)]
    bad = [e for e in events if isinstance(e, BadLine)]
    assert records and bad
    assert all(isinstance(b.line, int) and b.line >= 1 and b.reason for b in bad)
    assert {r.line for r in records}.isdisjoint({b.line for b in bad})


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_hostile_bytes_are_refused_in_bounded_memory(fmt: ListFormat, tmp_path: Path) -> None:
    """4 MiB of noise with one 3 MiB line: bad lines or a format error, never a crash, and
    no more memory than a few times the longest line."""
    noise = random.Random(7).randbytes(1 << 20) + b"a" * (3 << 20) + b"\n"
    path = tmp_path / "hostile"
    if fmt.id == "vpdq":
        path.mkdir()
        (path / "x.txt").write_bytes(noise)
    else:
        path.write_bytes(noise)
    tracemalloc.start()
    try:
        events = list(fmt.read(path, ReadOptions(US)))
    except ListFormatError:
        events = []
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert not [e for e in events if isinstance(e, HashRecord)]
    assert len(events) < 100_000
    assert peak < 64 << 20
