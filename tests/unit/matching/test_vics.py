"""VICS JSON: v1 and v2 contexts, lenient fields, bad records by ordinal, streaming, round trip.

Hash values are random hex from a seeded generator; nothing here describes real material.
"""

from __future__ import annotations

import inspect
import io
import json
import random
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veriscan.matching.lists.records import BadLine, HashRecord, ListEvent, ListFormatError
from veriscan.matching.lists.schemes import UK, US
from veriscan.matching.lists.vics import (
    VicsHeader,
    media_counts,
    parse_flag,
    parse_vics_date,
    read_header,
    read_vics,
)
from veriscan.matching.lists.vics_write import context_url, media_record, write_vics

V1_CASES = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases"
V1_MEDIA = "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media"
V2_US_CASES = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
V2_UK_MEDIA = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"


def hx(chars: int, seed: int) -> str:
    return f"{random.Random(seed).getrandbits(chars * 4):0{chars}x}"


H = {f"MD5_{i}": hx(32, i) for i in range(1, 7)}
H |= {f"SHA1_{i}": hx(40, 100 + i) for i in range(1, 7)}
H |= {f"SHA256_{i}": hx(64, 200 + i) for i in range(1, 7)}
H |= {f"PDQ_{i}": hx(64, 300 + i) for i in range(1, 7)}


def write(
    tmp_path: Path, text: str, ctx: str = "", name: str = "list.json", bom: bool = False
) -> Path:
    """Fill <CTX> and the <NAME> hash placeholders (upper-case, as exporters write them)."""
    text = text.replace("<CTX>", ctx)
    for key, value in H.items():
        text = text.replace(f"<{key}>", value.upper())
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def records(events: list[ListEvent]) -> list[HashRecord]:
    return [e for e in events if isinstance(e, HashRecord)]


V1_CASES_TEXT = """{"odata.metadata": "<CTX>", "value": [
 {"CaseID": 1, "CaseNumber": "T-1", "Media": [
   {"MediaID": 10, "Category": 1, "MD5": "<MD5_1>", "SHA1": "<SHA1_1>", "Series": "S-one",
    "IsPrecategorized": "True", "IsDistributed": "false", "Tags": "alpha; beta,,gamma"},
   {"MediaID": 11, "Category": "2", "MD5": "<MD5_2>", "Tags": ["one", " ", "two, three"]}]},
 {"CaseID": 2, "Media": [
   {"MediaID": 12, "Category": null, "SHA1": "<SHA1_3>", "Tags": [{"Name": "x"}, {"Value": "y"}],
    "DateUpdated": "/Date(1700000000000+0100)/"}]}
]}"""


def test_v1_cases_file(tmp_path: Path) -> None:
    path = write(tmp_path, V1_CASES_TEXT, V1_CASES)
    assert read_header(path) == VicsHeader("1", V1_CASES, None, "Cases")
    out = list(read_vics(path, US))
    assert [e.line for e in out] == [1, 2, 3]
    first, second, third = records(out)
    assert (first.md5, first.sha1, first.category, first.series) == (
        H["MD5_1"],
        H["SHA1_1"],
        "1",
        "S-one",
    )
    assert first.labels == ("alpha", "beta", "gamma")
    assert (second.md5, second.sha1, second.category, second.series) == (
        H["MD5_2"],
        None,
        "2",
        None,
    )
    assert second.labels == ("one", "two, three")
    assert (third.sha1, third.category, third.labels) == (H["SHA1_3"], None, ("x", "y"))
    assert parse_flag(first.extra["IsPrecategorized"]) is True
    assert parse_flag(first.extra["IsDistributed"]) is False
    assert parse_vics_date(third.extra["DateUpdated"]) == datetime.fromtimestamp(1_700_000_000, UTC)


def test_v1_media_file(tmp_path: Path) -> None:
    text = """{"odata.metadata": "<CTX>", "value": [
      {"MediaID": 1, "Category": 3, "MD5": "<MD5_1>"},
      {"MediaID": 2, "Category": 4, "SHA1": "<SHA1_2>", "IsDistributed": true}]}"""
    path = write(tmp_path, text, V1_MEDIA)
    assert read_header(path) == VicsHeader("1", V1_MEDIA, None, "Media")
    out = records(list(read_vics(path, US)))
    assert [(r.line, r.md5, r.sha1, r.category) for r in out] == [
        (1, H["MD5_1"], None, "3"),
        (2, None, H["SHA1_2"], "4"),
    ]
    assert parse_flag(out[1].extra["IsDistributed"]) is True


V2_US_TEXT = """{"@odata.context": "<CTX>", "value": [{"CaseID": "c-1", "Media": [
  {"MediaID": 5, "Category": 2, "MD5": "<MD5_1>",
   "AlternativeHashes": [{"HashName": "SHA-256", "HashValue": "<SHA256_1>"},
                         {"HashName": "pdq", "HashValue": "<PDQ_1>"},
                         {"HashName": "aHash", "HashValue": "0f0f"}],
   "PhotoDNA": "QUJDREVGR0g=", "MediaSize": 20480, "Score": 0.25,
   "MediaFiles": [{"FileName": "a.jpg"}, {"FileName": "b.jpg"}], "Exifs": [{"k": "v"}],
   "TotalMediaFiles": 99, "NewVendorField": {"nested": [1, 2.5, "z"]}},
  {"MediaID": 6, "Category": 0,
   "AlternativeHashes": [{"HashName": "SHA256", "HashValue": "<SHA256_2>"}]},
  {"MediaID": 7, "PhotoDNA": "QUJDREVGR0g="}
]}]}"""


def test_v2_us_cases_with_alternative_hashes_and_unknown_keys(tmp_path: Path) -> None:
    path = write(tmp_path, V2_US_TEXT, V2_US_CASES)
    assert read_header(path) == VicsHeader("2", V2_US_CASES, "US", "Cases")
    out = list(read_vics(path, US))
    first, second = records(out)
    assert (first.md5, first.sha256, first.pdq, first.category) == (
        H["MD5_1"],
        H["SHA256_1"],
        H["PDQ_1"],
        "2",
    )
    assert first.extra["NewVendorField"] == {"nested": [1, 2.5, "z"]}
    assert type(first.extra["MediaSize"]) is int
    assert type(first.extra["Score"]) is float
    assert first.extra["PhotoDNA"] == "QUJDREVGR0g="
    assert json.loads(json.dumps(first.extra)) == first.extra
    assert media_counts(first.extra) == {"MediaFiles": 2, "Exifs": 1}
    assert media_counts(second.extra) == {"MediaFiles": 0, "Exifs": 0}
    assert (second.sha256, second.category) == (H["SHA256_2"], None)
    assert out[2] == BadLine(3, "MediaID 7: no usable hash (MD5, SHA1, SHA256 or PDQ)")


def test_category_zero_both_choices_on_one_file(tmp_path: Path) -> None:
    path = write(tmp_path, V2_US_TEXT, V2_US_CASES)
    as_uncategorised = records(list(read_vics(path, US, "uncategorised")))
    as_non_pertinent = records(list(read_vics(path, US, "non-pertinent")))
    assert [r.category for r in as_uncategorised] == ["2", None]
    assert [r.category for r in as_non_pertinent] == ["2", "non-pertinent"]
    with pytest.raises(ValueError, match="category_zero"):
        read_vics(path, US, "ignore")


def test_v2_uk_media_with_bom(tmp_path: Path) -> None:
    text = """{"@odata.context": "<CTX>", "value": [
      {"MediaID": 1, "Category": 1, "MD5": "<MD5_1>", "IsPrecategorized": true},
      {"MediaID": 2, "Category": "3", "MD5": "<MD5_2>", "IsPrecategorized": "FALSE"},
      {"MediaID": 3, "Category": 4, "MD5": "<MD5_3>", "Series": ""}]}"""
    path = write(tmp_path, text, V2_UK_MEDIA, bom=True)
    assert read_header(path) == VicsHeader("2", V2_UK_MEDIA, "UK", "Media")
    out = records(list(read_vics(path, UK)))
    assert [(r.md5, r.category, r.series) for r in out] == [
        (H["MD5_1"], "A", None),
        (H["MD5_2"], "C", None),
        (H["MD5_3"], "prohibited", None),
    ]
    assert [parse_flag(r.extra["IsPrecategorized"]) for r in out[:2]] == [True, False]


def test_malformed_records_are_reported_by_ordinal(tmp_path: Path) -> None:
    text = """{"@odata.context": "<CTX>", "value": [
      {"MediaID": 1, "MD5": "<MD5_1>"},
      "just a string",
      {"MediaID": 3, "MD5": "ABC123"},
      {"MediaID": 4, "MD5": "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"},
      {"MediaID": 5, "Series": "no hashes here"},
      {"MediaID": 6, "MD5": "<MD5_2>", "Category": 7},
      {"MD5": "<MD5_3>", "Category": "two"},
      {"MediaID": 8, "MD5": "<MD5_4>",
       "AlternativeHashes": [{"HashName": "MD5", "HashValue": "<MD5_5>"}]},
      {"MediaID": 9, "SHA1": "<SHA1_6>", "Category": "1"}
    ]}"""
    path = write(tmp_path, text, V2_US_CASES.replace("#Cases", "#Media"))
    out = list(read_vics(path, US))
    assert [e.line for e in out] == list(range(1, 10))
    good = records(out)
    assert [(r.line, r.md5 or r.sha1) for r in good] == [(1, H["MD5_1"]), (9, H["SHA1_6"])]
    bad = {e.line: e.reason for e in out if isinstance(e, BadLine)}
    assert bad[2] == "media record is not a JSON object (string)"
    assert bad[3] == "MediaID 3: MD5: md5 must be 32 hex digits, got 6"
    assert bad[4].startswith("MediaID 4: MD5: md5 is not hexadecimal")
    assert bad[5] == "MediaID 5: no usable hash (MD5, SHA1, SHA256 or PDQ)"
    assert bad[6] == "MediaID 6: category 7 is not in scheme US"
    assert bad[7] == "Category 'two' is not a number"
    assert bad[8] == "MediaID 8: AlternativeHashes MD5 disagrees with another MD5 in the record"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'[{"MD5": "x"}]', "top level is not a JSON object"),
        (b'{"value": [{"MD5": "x"}]}', "no '@odata.context' or 'odata.metadata' key"),
        (b'{"@odata.context": "http://example.org/$metadata#Things", "value": []}', "not a Proj"),
        (b'{"@odata.context": 3, "value": []}', "is not a string"),
        (
            b'{"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/3.0.xml#Media"}',
            "version 3 is not supported",
        ),
    ],
)
def test_files_that_are_not_vics(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ListFormatError, match=message):
        read_header(path)
    with pytest.raises(ListFormatError, match=message):
        list(read_vics(path, US))


def test_header_found_before_broken_rest_and_after_value(tmp_path: Path) -> None:
    broken = write(tmp_path, '{"@odata.context": "<CTX>", "value": [{{{{', V2_UK_MEDIA, "a.json")
    assert read_header(broken).scheme == "UK"
    late = write(
        tmp_path, '{"value": [{"MD5": "<MD5_1>"}], "odata.metadata": "<CTX>"}', V1_MEDIA, "b.json"
    )
    assert read_header(late).root == "Media"
    assert [r.md5 for r in records(list(read_vics(late, US)))] == [H["MD5_1"]]


def test_truncated_file_yields_what_came_before_then_fails(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"@odata.context": "<CTX>", "value": [{"MD5": "<MD5_1>"}, {"MD5": "<MD5_2>"}, {"MD5"',
        V2_UK_MEDIA,
    )
    events = read_vics(path, UK)
    assert [next(events).line, next(events).line] == [1, 2]
    with pytest.raises(ListFormatError, match="after media record 2"):
        next(events)


def test_streaming_50k_media(tmp_path: Path) -> None:
    """The last record is broken, yet the first is available: the file is not read whole."""
    path = tmp_path / "big.json"
    rnd = random.Random(7)
    total = 50_000
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f'{{"@odata.context": "{V2_UK_MEDIA}", "value": [')
        for i in range(1, total + 1):
            md5 = f"{rnd.getrandbits(128):032X}"
            fh.write(f'{"," if i > 1 else ""}{{"MediaID": {i}, "Category": 2, "MD5": "{md5}"}}')
        fh.write(', {"MediaID": "tail", "MD5": ')
    size = path.stat().st_size
    events = read_vics(path, UK)
    assert inspect.isgenerator(events)
    first = next(events)
    assert isinstance(first, HashRecord)
    assert (first.line, first.category, first.extra["MediaID"]) == (1, "B", 1)
    tracemalloc.start()
    try:
        count = 1
        with pytest.raises(ListFormatError, match=f"after media record {total}"):
            for _ in events:
                count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == total
    assert peak < size / 4, (peak, size)


def test_parse_flag() -> None:
    cases = {"true": True, "FALSE": False, " True ": True, "1": True, "0": False}
    for raw, want in cases.items():
        assert parse_flag(raw) is want
    assert [parse_flag(v) for v in (True, False, 1, 0)] == [True, False, True, False]
    assert [parse_flag(v) for v in (None, "yes", 2, 1.0, [], "")] == [None] * 6


def test_parse_vics_date() -> None:
    moment = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_vics_date("/Date(1700000000000)/") == moment
    assert parse_vics_date("/Date(1700000000000+0100)/") == moment
    assert parse_vics_date("/Date(1700000000000-0500)/") == moment
    assert parse_vics_date("2023-11-14T23:13:20+01:00") == moment
    assert parse_vics_date("2023-11-14T22:13:20Z") == moment
    assert parse_vics_date("2023-11-14T22:13:20") == moment
    parsed = parse_vics_date("/Date(0)/")
    assert parsed is not None and parsed.tzinfo is UTC
    for bad in ("", "/Date(abc)/", "yesterday", 1700000000000, None, "/Date(99999999999999999)/"):
        assert parse_vics_date(bad) is None


def test_context_url() -> None:
    assert context_url("US") == (
        "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    )
    assert context_url("UK", "Cases").endswith("/UK/$metadata#Cases")
    with pytest.raises(ValueError):
        context_url("FR")


def test_media_record_merges_alternative_hashes() -> None:
    extra = {
        "MediaID": 42,
        "md5": "stale",
        "AlternativeHashes": [
            {"HashName": "aHash", "HashValue": "0f0f"},
            {"HashName": "sha-256", "HashValue": "old", "Source": "tool"},
        ],
        "Tags": ["old"],
    }
    record = HashRecord(
        line=1, md5=H["MD5_1"], sha256=H["SHA256_1"], pdq=H["PDQ_1"], category="A", extra=extra
    )
    out = media_record(record, UK, 7)
    assert out["MediaID"] == 42
    assert "md5" not in out and out["MD5"] == H["MD5_1"].upper()
    assert "SHA1" not in out and "Tags" not in out and "Series" not in out
    assert out["Category"] == 1
    assert out["AlternativeHashes"] == [
        {"HashName": "aHash", "HashValue": "0f0f"},
        {"HashName": "SHA256", "HashValue": H["SHA256_1"].upper(), "Source": "tool"},
        {"HashName": "PDQ", "HashValue": H["PDQ_1"]},
    ]
    assert extra["md5"] == "stale"
    fresh = media_record(HashRecord(line=1, sha1=H["SHA1_1"], labels=("t",)), UK, 7)
    assert fresh == {"MediaID": 7, "Category": None, "SHA1": H["SHA1_1"].upper(), "Tags": ["t"]}


NORMALISED = {"MediaID", "Category", "MD5", "SHA1", "AlternativeHashes", "Series", "Tags"}


def test_round_trip(tmp_path: Path) -> None:
    text = V2_US_TEXT.replace('"Category": 0', '"Category": 4')
    source = write(tmp_path, text, V2_US_CASES, "in.json")
    originals = records(list(read_vics(source, US)))
    originals.append(
        HashRecord(
            line=3,
            sha1=H["SHA1_4"],
            pdq=H["PDQ_4"],
            category="non-pertinent",
            series="S9",
            labels=("a, b", "c"),
            extra={"IsDistributed": "True", "DateUpdated": "/Date(1700000000000)/"},
        )
    )
    buffer = io.StringIO()
    assert write_vics(buffer, originals, US, "US") == 3
    text = buffer.getvalue()
    assert json.loads(text)["@odata.context"] == context_url("US")
    written = json.loads(text)["value"]
    assert [m["MediaID"] for m in written] == [5, 6, 3]
    assert written[0]["AlternativeHashes"][2] == {"HashName": "aHash", "HashValue": "0f0f"}
    target = tmp_path / "out.json"
    target.write_text(text, encoding="utf-8")
    assert read_header(target) == VicsHeader("2", context_url("US"), "US", "Media")
    again = records(list(read_vics(target, US, "non-pertinent")))
    assert len(again) == 3
    fields = ("md5", "sha1", "sha256", "pdq", "category", "series", "labels")
    for before, after in zip(originals, again, strict=True):
        assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
        rest_before = {k: v for k, v in before.extra.items() if k not in NORMALISED}
        assert {k: v for k, v in after.extra.items() if k not in NORMALISED} == rest_before
    assert again[0].extra["MD5"] == H["MD5_1"].upper()
    assert again[0].extra["Category"] == 2
    assert again[2].extra["Category"] == 0
    assert again[2].extra["Tags"] == ["a, b", "c"]
    assert again[2].extra["Series"] == "S9"
    assert again[0].extra["PhotoDNA"] == "QUJDREVGR0g="
    assert again[0].extra["NewVendorField"] == {"nested": [1, 2.5, "z"]}


def test_write_vics_empty() -> None:
    buffer = io.StringIO()
    assert write_vics(buffer, [], UK, "UK") == 0
    assert json.loads(buffer.getvalue()) == {"@odata.context": context_url("UK"), "value": []}
