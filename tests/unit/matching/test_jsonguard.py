"""The VICS byte guard: records come through exactly as json.loads reads them, whatever the
chunking, and a record beyond a bound becomes one bad line while the rest of the file imports.

Bounds are set small here so each one is checked at its edge; the hostile-size versions run in
tests/integration/test_hostile_list_import.py under a memory cap.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from support.hostile_lists import GOOD_MD5, MEDIA_CONTEXT, write_dirty_lines
from veriscan.matching.library import ImportOptions, Library
from veriscan.matching.lists import jsonguard
from veriscan.matching.lists.jsonguard import Limits
from veriscan.matching.lists.records import BadLine, HashRecord, ListEvent, ListFormatError
from veriscan.matching.lists.schemes import US
from veriscan.matching.lists.vics import read_header, read_vics

TRICKY = ['a"b', "back\\slash\\", '\\\\"', "[{]}:,", "é ✓ \u2028", "\\u0000", "\t\n"]


def random_value(rnd: random.Random, depth: int) -> object:
    roll = rnd.random()
    if depth > 3 or roll < 0.3:
        return rnd.choice([rnd.choice(TRICKY), rnd.randint(-(2**63), 2**63 - 1), 1.5, None, True])
    if roll < 0.65:
        return [random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    return {rnd.choice(TRICKY) + str(i): random_value(rnd, depth + 1) for i in range(3)}


def vics(tmp_path: Path, records: list[bytes], name: str = "v.json") -> Path:
    head = b'{"@odata.context": ' + json.dumps(MEDIA_CONTEXT).encode() + b', "value": ['
    path = tmp_path / name
    path.write_bytes(head + b",\n".join(records) + b"]}")
    return path


def md5(i: int) -> str:
    return f"{i:032x}"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 65536])
def test_records_match_json_loads_at_any_chunking(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rnd = random.Random(chunk)
    records = [
        {"MediaID": i, "MD5": md5(i), "X": random_value(rnd, 0), 'K\\"': TRICKY} for i in range(40)
    ]
    text = json.dumps({"@odata.context": MEDIA_CONTEXT, "value": records}, indent=chunk % 3)
    path = tmp_path / "v.json"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(jsonguard, "CHUNK_BYTES", chunk)
    events = list(read_vics(path, US))
    assert [e.extra for e in events if isinstance(e, HashRecord)] == records
    assert read_header(path).root == "Media"


def run(path: Path, limits: Limits | None = None) -> list[ListEvent]:
    return list(read_vics(path, US, limits=limits))


def bad_lines(events: list[ListEvent]) -> dict[int, str]:
    return {e.line: e.reason for e in events if isinstance(e, BadLine)}


def test_each_bound_is_exact(tmp_path: Path) -> None:
    limits = Limits(record_bytes=200, record_depth=3, record_values=20)
    ok = [
        b'{"MD5": "%s", "X": [[1]]}' % md5(1).encode(),
        b'{"MD5": "%s", "X": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]}' % md5(2).encode(),
        b'{"MD5": "%s", "X": "%s"}' % (md5(3).encode(), b"z" * 140),
    ]
    over = [
        b'{"MD5": "%s", "X": [[[1]]]}' % md5(4).encode(),
        b'{"MD5": "%s", "X": [%s]}' % (md5(5).encode(), b",".join([b"1"] * 25)),
        b'{"MD5": "%s", "X": "%s"}' % (md5(6).encode(), b"z" * 200),
    ]
    events = run(vics(tmp_path, ok + over), limits)
    assert [e.line for e in events if isinstance(e, HashRecord)] == [1, 2, 3]
    bad = bad_lines(events)
    assert "nests deeper than 3 levels" in bad[4]
    assert "has more than 20 brackets and separators" in bad[5]
    assert "is larger than 200 bytes" in bad[6]
    assert all(reason.startswith("media record at byte ") for reason in bad.values())


def test_numbers_beyond_64_bits_are_kept_as_text_with_a_note(tmp_path: Path) -> None:
    records = [
        b'{"MD5": "%s", "A": 9223372036854775807, "B": -9223372036854775808}' % md5(1).encode(),
        b'{"MD5": "%s", "MediaSize": 9223372036854775808}' % md5(2).encode(),
        b'{"MD5": "%s", "X": [{"Y": -99999999999999999999999}], "F": 1e999}' % md5(3).encode(),
        b'{"MD5": "%s", "F": 1.5e300, "S": "123456789012345678901234"}' % md5(4).encode(),
        b'{"MD5": "%s", "N": 1%s}' % (md5(5).encode(), b"0" * 5000),
    ]
    events = run(vics(tmp_path, records))
    good = {e.line: e for e in events if isinstance(e, HashRecord)}
    assert good[1].extra["A"] == 2**63 - 1 and good[1].extra["B"] == -(2**63)
    assert good[1].notes == ()
    assert good[2].extra["MediaSize"] == "9223372036854775808"
    assert good[2].notes == (
        "MediaSize: number 9223372036854775808 does not fit 64 bits; kept as text",
    )
    assert (
        good[3].extra["X"] == [{"Y": "-99999999999999999999999"}] and good[3].extra["F"] == "1e999"
    )
    assert [n.split(":")[0] for n in good[3].notes] == ["X[0].Y", "F"]
    assert good[4].extra == {"MD5": md5(4), "F": 1.5e300, "S": "123456789012345678901234"}
    assert good[5].extra["N"] == "1" + "0" * 5000


def test_records_yajl_would_stop_on_are_bad_lines_alone(tmp_path: Path) -> None:
    records = [
        b'{"MD5": "%s"}' % md5(1).encode(),
        b'{"MD5": "%s", "C": "tab\x01here"}' % md5(2).encode(),
        b'{"MD5": "%s", "C": "\xff\xfe"}' % md5(3).encode(),
        b'{"MD5": "%s", "C": \\ 1}' % md5(4).encode(),
        b'{"MD5": "%s", "N": NaN}' % md5(5).encode(),
        b'{"MD5": "%s", "C": "caf\xc3\xa9"}' % md5(6).encode(),
    ]
    events = run(vics(tmp_path, records))
    assert [e.line for e in events if isinstance(e, HashRecord)] == [1, 6]
    bad = bad_lines(events)
    assert "is not valid JSON" in bad[2] and "is not valid UTF-8" in bad[3]
    assert "backslash outside a string" in bad[4] and "is not valid JSON" in bad[5]


def test_cases_file_skips_bombs_outside_media(tmp_path: Path) -> None:
    context = MEDIA_CONTEXT.replace("#Media", "#Cases")
    deep = b"[" * 5000 + b"]" * 5000
    text = b'{"@odata.context": "%s", "value": [{"CaseID": 1, "Other": [%s], "Media": [' % (
        context.encode(),
        deep,
    )
    text += b'{"MD5": "%s"}, %s, {"MD5": "%s"}]}]}' % (md5(1).encode(), deep, md5(2).encode())
    path = tmp_path / "c.json"
    path.write_bytes(text)
    events = run(path)
    assert [type(e).__name__ for e in events] == ["HashRecord", "BadLine", "HashRecord"]


CTX = MEDIA_CONTEXT.encode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"@odata.context": "%s", "value": []}' % (b"z" * (2 << 20)), "more than 1048576 bytes"),
        (b'{"@odata.context": "%s", "value": [] \\ }' % CTX, "outside the records has a backsl"),
        (b'{"@odata.context": "%s", "value": [{"MD5": \\"x"}]}' % CTX, "breaks off after media"),
    ],
)
def test_broken_skeleton_is_a_format_error(tmp_path: Path, text: bytes, message: str) -> None:
    """A backslash before a quote outside any string flips what the lexer counts as string: the
    file then ends inside one, which is reported as the file breaking off, never a crash."""
    path = tmp_path / "s.json"
    path.write_bytes(text)
    with pytest.raises(ListFormatError, match=message):
        list(read_vics(path, US))


@pytest.mark.parametrize("fmt", ["csv", "plain", "pdq"])
def test_text_lists_refuse_nul_and_broken_utf8_line_by_line(tmp_path: Path, fmt: str) -> None:
    path = write_dirty_lines(tmp_path / f"dirty.{fmt}", fmt)
    library = Library(tmp_path / "lib")
    report = library.import_list(path, ImportOptions(name="d", fmt=fmt))
    assert report.meta.counts["records"] == 2
    reasons = [reason for _, reason in report.first_bad]
    assert len(reasons) == 2, reasons
    assert "NUL" in reasons[0] or "\\x00" in reasons[0]
    assert "UTF-8" in reasons[1]
    rows = (tmp_path / "lib" / "d" / "bad-lines.tsv").read_bytes()
    assert b"\x00" not in rows and GOOD_MD5[0].encode() not in rows


def test_a_record_posing_as_a_marker_changes_nothing_else(tmp_path: Path) -> None:
    limits = Limits(record_depth=2)
    records = [
        b'{"\\u0000veriscan-record": 999999}',
        b'{"MD5": "%s", "X": [[[1]]]}' % md5(1).encode(),
        b'{"MD5": "%s"}' % md5(2).encode(),
    ]
    events = run(vics(tmp_path, records), limits)
    bad = bad_lines(events)
    assert bad[1] == "no usable hash (MD5, SHA1, SHA256 or PDQ)"
    assert "nests deeper than 2 levels" in bad[2]
    assert [e.line for e in events if isinstance(e, HashRecord)] == [3]
