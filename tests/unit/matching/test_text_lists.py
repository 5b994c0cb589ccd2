"""Text list readers: CSV/TSV, plain, PDQ text and format sniffing, on benign random hashes."""

from __future__ import annotations

import random
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from veriscan.matching.lists.records import BadLine, HashBlock, HashRecord, ListFormatError
from veriscan.matching.lists.text import (
    read_csv_list,
    read_pdq_list,
    read_plain_list,
    sniff_format,
)

_RNG = random.Random(20240611)


def hexhash(digits: int) -> str:
    return f"{_RNG.getrandbits(digits * 4):0{digits}x}"


MD5 = [hexhash(32) for _ in range(6)]
SHA1 = [hexhash(40) for _ in range(6)]
SHA256 = [hexhash(64) for _ in range(6)]
PDQ = [hexhash(64) for _ in range(6)]


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def records(events: list[HashRecord | BadLine]) -> list[HashRecord]:
    return [e for e in events if isinstance(e, HashRecord)]


def bad(events: list[HashRecord | BadLine]) -> list[BadLine]:
    return [e for e in events if isinstance(e, BadLine)]


def test_csv_with_all_columns(tmp_path: Path) -> None:
    text = (
        "MD5,SHA-1,sha_256,PDQ,pdq_quality,Labels,Category,Series\n"
        f"{MD5[0].upper()},{SHA1[0]},{SHA256[0]},{PDQ[0]},90,kernel32.dll;system|boot,2,blue\n"
        f"{MD5[1]},,,,,,,\n"
    )
    events = list(read_csv_list(write(tmp_path, "all.csv", text)))
    assert events == [
        HashRecord(
            line=2,
            md5=MD5[0],
            sha1=SHA1[0],
            sha256=SHA256[0],
            pdq=PDQ[0],
            pdq_quality=90,
            category="2",
            series="blue",
            labels=("kernel32.dll", "system", "boot"),
        ),
        HashRecord(line=3, md5=MD5[1]),
    ]


def test_csv_with_only_sha256_and_blank_lines(tmp_path: Path) -> None:
    text = f"sha256\n{SHA256[0]}\n\n   \n{SHA256[1]}\n"
    events = list(read_csv_list(write(tmp_path, "one.csv", text)))
    assert events == [HashRecord(line=2, sha256=SHA256[0]), HashRecord(line=5, sha256=SHA256[1])]


def test_tsv_is_detected_from_header(tmp_path: Path) -> None:
    text = f"md5\tlabel\n{MD5[0]}\tuser32.dll, version 2\n"
    events = list(read_csv_list(write(tmp_path, "list.tsv", text)))
    assert events == [HashRecord(line=2, md5=MD5[0], labels=("user32.dll, version 2",))]


def test_semicolon_delimiter_splits_labels_on_bar_only(tmp_path: Path) -> None:
    text = f"sha1;labels\n{SHA1[0]};notepad.exe | calc.exe\n"
    events = list(read_csv_list(write(tmp_path, "semi.csv", text)))
    assert events == [HashRecord(line=2, sha1=SHA1[0], labels=("notepad.exe", "calc.exe"))]


def test_explicit_delimiter_overrides_detection(tmp_path: Path) -> None:
    text = f"md5|label\n{MD5[0]}|a;b, c\n"
    events = list(read_csv_list(write(tmp_path, "pipe.txt", text), delimiter="|"))
    assert events == [HashRecord(line=2, md5=MD5[0], labels=("a", "b, c"))]


def test_quoted_fields(tmp_path: Path) -> None:
    text = f'"sha256","label","note"\n"{SHA256[0]}","shell32.dll","seen, twice ""here"""\n'
    events = list(read_csv_list(write(tmp_path, "quoted.csv", text)))
    assert events == [
        HashRecord(
            line=2,
            sha256=SHA256[0],
            labels=("shell32.dll",),
            extra={"note": 'seen, twice "here"'},
        )
    ]


def test_unknown_columns_kept_only_when_non_empty(tmp_path: Path) -> None:
    text = f"md5,Source,case_ref\n{MD5[0]},lab A,\n{MD5[1]},,C-17\n"
    events = list(read_csv_list(write(tmp_path, "extra.csv", text)))
    assert events == [
        HashRecord(line=2, md5=MD5[0], extra={"Source": "lab A"}),
        HashRecord(line=3, md5=MD5[1], extra={"case_ref": "C-17"}),
    ]


def test_bad_rows_reported_at_their_lines_and_good_rows_continue(tmp_path: Path) -> None:
    text = (
        "md5,sha256,quality\n"
        f"{MD5[0]},,\n"
        f"{MD5[1][:-1]}z,,\n"
        ",,\n"
        f"{MD5[2]},{SHA256[2]}\n"
        f"{MD5[3]},,101\n"
        f'"{MD5[4]},,\n'
        f"{MD5[5]},{SHA256[5]},7\n"
    )
    events = list(read_csv_list(write(tmp_path, "bad.csv", text)))
    assert records(events) == [
        HashRecord(line=2, md5=MD5[0]),
        HashRecord(line=8, md5=MD5[5], sha256=SHA256[5], pdq_quality=7),
    ]
    problems = {b.line: b.reason for b in bad(events)}
    assert sorted(problems) == [3, 4, 5, 6, 7]
    assert "'md5'" in problems[3] and "hexadecimal" in problems[3]
    assert problems[4] == "no hash"
    assert problems[5] == "expected 3 cells, got 2"
    assert "0..100" in problems[6]
    assert "CSV" in problems[7]


def test_undecodable_row_is_a_bad_line(tmp_path: Path) -> None:
    data = f"md5\n{MD5[0]}\n".encode() + b"\xff\xfe\n" + f"{MD5[1]}\n".encode()
    events = list(read_csv_list(write(tmp_path, "bytes.csv", data)))
    assert events == [
        HashRecord(line=2, md5=MD5[0]),
        BadLine(3, "not valid UTF-8"),
        HashRecord(line=4, md5=MD5[1]),
    ]


def test_header_without_hash_column_is_a_format_error(tmp_path: Path) -> None:
    path = write(tmp_path, "nohash.csv", "name,size\nkernel32.dll,10\n")
    with pytest.raises(ListFormatError, match="no hash column"):
        list(read_csv_list(path))


def test_empty_csv_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ListFormatError, match="empty"):
        list(read_csv_list(write(tmp_path, "empty.csv", "\n\n")))


def test_category_callback_maps_and_its_value_error_is_a_bad_line(tmp_path: Path) -> None:
    def scheme(cell: str) -> str | None:
        table = {"1": "cat-a", "0": None}
        if cell not in table:
            raise ValueError(f"unknown category {cell}")
        return table[cell]

    text = f"md5,category\n{MD5[0]},1\n{MD5[1]},9\n{MD5[2]}, 0 \n{MD5[3]},\n"
    events = list(read_csv_list(write(tmp_path, "cat.csv", text), category=scheme))
    assert events == [
        HashRecord(line=2, md5=MD5[0], category="cat-a"),
        BadLine(3, "category '9': unknown category 9"),
        HashRecord(line=4, md5=MD5[2]),
        HashRecord(line=5, md5=MD5[3]),
    ]


def test_csv_bom_and_crlf(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + f"sha1,label\r\n{SHA1[0]},ntdll.dll\r\n".encode()
    events = list(read_csv_list(write(tmp_path, "bom.csv", data)))
    assert events == [HashRecord(line=2, sha1=SHA1[0], labels=("ntdll.dll",))]


@pytest.mark.parametrize(("kind", "values"), [("md5", MD5), ("sha1", SHA1), ("sha256", SHA256)])
def test_plain_lists_detect_kind(tmp_path: Path, kind: str, values: list[str]) -> None:
    path = write(tmp_path, f"{kind}.txt", "\n".join(v.upper() for v in values[:3]) + "\n")
    events = list(read_plain_list(path))
    assert events == [HashRecord(line=i + 1, **{kind: v}) for i, v in enumerate(values[:3])]


def test_plain_64_hex_is_pdq_only_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path, "pdq.txt", f"{PDQ[0]}\n")
    assert list(read_plain_list(path)) == [HashRecord(line=1, sha256=PDQ[0])]
    assert list(read_plain_list(path, kind="pdq")) == [HashRecord(line=1, pdq=PDQ[0])]


def test_mixed_plain_list_rejected_line_by_line(tmp_path: Path) -> None:
    lines = [MD5[0], MD5[1], "", "# a comment", MD5[2], "", SHA1[0], MD5[3], SHA256[0]]
    events = list(read_plain_list(write(tmp_path, "mixed.txt", "\n".join(lines) + "\n")))
    assert events == [
        HashRecord(line=1, md5=MD5[0]),
        HashRecord(line=2, md5=MD5[1]),
        HashRecord(line=5, md5=MD5[2]),
        BadLine(7, "line 7 holds a sha1 hash but this list holds md5"),
        HashRecord(line=8, md5=MD5[3]),
        BadLine(9, "line 9 holds a sha256 hash but this list holds md5"),
    ]


def test_plain_with_given_kind_refuses_other_lengths(tmp_path: Path) -> None:
    text = f"{SHA1[0]}\n{MD5[0]}\n{MD5[1][:20]}\n"
    events = list(read_plain_list(write(tmp_path, "given.txt", text), kind="sha1"))
    assert events == [
        HashRecord(line=1, sha1=SHA1[0]),
        BadLine(2, "line 2 holds an md5 hash but this list holds sha1"),
        BadLine(3, "sha1 must be 40 hex digits, got 20"),
    ]


def test_plain_bad_lines_before_kind_is_known(tmp_path: Path) -> None:
    data = b"kernel32.dll\n" + b"\xff\xfe\n" + b"abc123\n" + f"{SHA1[0]}\n".encode()
    events = list(read_plain_list(write(tmp_path, "junk.txt", data)))
    assert events[0] == BadLine(1, "not hexadecimal: 'kernel32.dll'")
    assert events[1] == BadLine(2, "not valid UTF-8")
    assert isinstance(events[2], BadLine) and events[2].line == 3 and "6 hex" in events[2].reason
    assert events[3] == HashRecord(line=4, sha1=SHA1[0])


def test_plain_bom_crlf_trailing_space_and_comments(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + f"# exported list\r\n{MD5[0]}  \r\n\t{MD5[1]}\t\r\n".encode()
    events = list(read_plain_list(write(tmp_path, "crlf.txt", data)))
    assert events == [HashRecord(line=2, md5=MD5[0]), HashRecord(line=3, md5=MD5[1])]


def test_plain_bom_directly_before_hash(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + f"{MD5[0]}\n".encode()
    assert list(read_plain_list(write(tmp_path, "bom.txt", data))) == [
        HashRecord(line=1, md5=MD5[0])
    ]


def test_plain_unknown_kind_argument() -> None:
    with pytest.raises(ValueError, match="unknown hash kind"):
        read_plain_list(Path("unused.txt"), kind="crc32")


def test_plain_list_streams(tmp_path: Path) -> None:
    count = 200_000
    rng = random.Random(7)
    path = tmp_path / "big.txt"
    with path.open("w") as handle:
        for _ in range(count):
            handle.write(f"{rng.getrandbits(128):032x}\n")
    first_line = path.open().readline().strip()
    events = read_plain_list(path)
    tracemalloc.start()
    try:
        first = next(events)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first == HashRecord(line=1, md5=first_line)
    assert peak < 500_000, f"first record cost {peak} bytes: the reader is not streaming"
    total, last_line, blocks = 1, 1, 0
    for event in events:
        if isinstance(event, HashBlock):
            total += len(event.digests)
            last_line = event.first_line + len(event.digests) - 1
            blocks += 1
        else:
            assert isinstance(event, HashRecord)
            total += 1
            last_line = event.line
    assert total == count
    assert last_line == count
    assert blocks, "clean runs of lines come as vectorised blocks"


def test_pdq_list_both_forms_and_bad_lines(tmp_path: Path) -> None:
    text = (
        "# pdq export\n"
        f"{PDQ[0]},100\n"
        f"{PDQ[1].upper()}\n"
        f"{PDQ[2]},101\n"
        f"{PDQ[3]},high\n"
        f"{PDQ[4]},50,extra\n"
        f"{PDQ[5][:60]},80\n"
        f" {PDQ[5]} , 0 \n"
    )
    events = list(read_pdq_list(write(tmp_path, "pdq.txt", text)))
    assert records(events) == [
        HashRecord(line=2, pdq=PDQ[0], pdq_quality=100),
        HashRecord(line=3, pdq=PDQ[1], pdq_quality=None),
        HashRecord(line=8, pdq=PDQ[5], pdq_quality=0),
    ]
    problems = {b.line: b.reason for b in bad(events)}
    assert sorted(problems) == [4, 5, 6, 7]
    assert "0..100" in problems[4] and "0..100" in problems[5]
    assert "3 fields" in problems[6]
    assert problems[7] == "pdq must be 64 hex digits, got 60"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'\xef\xbb\xbf  \n{"odata.metadata": "x", "value": []}', "vics"),
        (f"md5,label\n{MD5[0]},a\n".encode(), "csv"),
        (f"sha256\tlabel\n{SHA256[0]}\ta\n".encode(), "csv"),
        (f"SHA256\n{SHA256[0]}\n".encode(), "csv"),
        (f"# comment\n\n{SHA1[0]}\n".encode(), "plain"),
        (f"{SHA256[0]}\n".encode(), "plain"),
        (f"{PDQ[0]},100\n{PDQ[1]},90\n".encode(), "pdq"),
        (b"# only a comment\n", "plain"),
    ],
)
def test_sniff_format(tmp_path: Path, content: bytes, expected: str) -> None:
    assert sniff_format(write(tmp_path, "list", content)) == expected


def test_sniff_sqlite_is_nsrl(tmp_path: Path) -> None:
    path = tmp_path / "rds.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE FILE (sha256 TEXT)")
    connection.close()
    assert sniff_format(path) == "nsrl"


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b" \n\r\n"])
def test_sniff_empty_file_is_a_format_error(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(ListFormatError, match="empty"):
        sniff_format(write(tmp_path, "empty", content))


def _expand(events: list[object]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for event in events:
        if isinstance(event, HashBlock):
            out += [
                (event.first_line + i, row.tobytes().hex()) for i, row in enumerate(event.digests)
            ]
        elif isinstance(event, HashRecord):
            out.append((event.line, event.md5 or event.sha1 or event.sha256 or event.pdq or ""))
    return out


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_block_path_gives_what_the_line_path_gives(tmp_path: Path, newline: str) -> None:
    rng = random.Random(11)
    lines = [f"{rng.getrandbits(160):040x}" for _ in range(120_000)]
    lines[3] = lines[3].upper()
    lines[90_000] = lines[90_000].upper()
    lines[100_001] = "not a hash"
    lines[110_000] = "ab" * 16  # an md5 inside a sha1 list
    path = tmp_path / "sha1.txt"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    events = list(read_plain_list(path))
    bad = [(e.line, e.reason) for e in events if isinstance(e, BadLine)]
    assert [line for line, _ in bad] == [100_002, 110_001]
    assert "holds an md5" in bad[1][1]
    got = _expand(events)
    want = [(i + 1, v.lower()) for i, v in enumerate(lines) if i not in (100_001, 110_000)]
    assert got == want
    assert any(isinstance(e, HashBlock) for e in events)
