"""Every zip member becomes a readable member or one that says why not (issue 15, items 1-3)."""

from __future__ import annotations

import io

import pytest

from support.hostile_archives import (
    DEFLATE64,
    PPMD,
    ZSTD,
    empty_name_zip,
    false_utf8_zip,
    member,
    method_zips,
    mismatch_zip,
    odd_name_zip,
    raw_zip,
    tar_with_names,
    unsupported_zip,
)
from veriscan.sources.archive import ArchiveError, ExpansionBudget, Member, iter_members

ZIP, TAR = "application/zip", "application/x-tar"


def budget() -> ExpansionBudget:
    return ExpansionBudget(
        max_entries=100, max_expanded_bytes=10 << 20, max_ratio=100, ratio_min_bytes=1 << 20
    )


def members(data: bytes, mime: str = ZIP) -> list[tuple[Member, bytes | None]]:
    out = []
    for m in iter_members(io.BytesIO(data), mime, budget()):
        out.append((m, m.open().read() if m.readable else None))
    return out


def codes(m: Member) -> list[str]:
    return [p.code for p in m.problems]


@pytest.mark.parametrize("method", sorted(method_zips()))
def test_methods_zipfile_lacks_are_decoded(method: str) -> None:
    data, content = method_zips()[method]
    [(m, read)] = members(data)
    assert (m.path, codes(m), read) == ("member.txt", [], content)


def test_undecodable_methods_are_members_with_a_problem() -> None:
    got = members(unsupported_zip())
    assert [(m.path, m.readable, codes(m), read) for m, read in got] == [
        ("old.txt", False, ["unsupported-compression"], None),
        ("sound.wav", False, ["unsupported-compression"], None),
        ("ok.txt", True, [], b"fine\n"),
    ]
    assert "method 6 (Implode)" in got[0][0].problems[0].message
    walk = iter_members(io.BytesIO(unsupported_zip()), ZIP, budget())
    next(walk)
    with pytest.raises(ArchiveError, match="compression method 97"):
        next(walk).open()


def test_names_that_differ_between_headers_are_noted_and_read() -> None:
    [(m, read)] = members(mismatch_zip())
    assert (m.path, codes(m), read) == (
        "central.txt",
        ["name-mismatch"],
        b"what the central entry points to\n",
    )
    assert "'local.txt'" in m.problems[0].message and "'central.txt'" in m.problems[0].message


def test_an_empty_member_name_does_not_stop_the_archive() -> None:
    got = members(empty_name_zip())
    assert [(m.path, codes(m), read) for m, read in got] == [
        ("unnamed", ["empty-name"], b"nameless\n"),
        ("named.txt", [], b"named\n"),
    ]


def test_odd_member_names_are_escaped_not_dropped() -> None:
    got = members(odd_name_zip())
    assert [m.path for m, _ in got] == [
        "caf\u00e9.txt",  # no UTF-8 flag: cp437, as the zip specification says
        "nul%00.txt",
        "new%0Aline.txt",
        "wow%21/x.txt",
    ]
    assert [read for _, read in got] == [b"cp437\n", b"nul\n", b"newline\n", b"sep\n"]


def test_names_falsely_flagged_utf8_keep_their_bytes() -> None:
    got = members(false_utf8_zip())
    assert [(m.path, codes(m), read) for m, read in got] == [
        ("caf%E9.txt", [], b"latin-1 name\n"),
        ("na\u00efve.txt", [], b"utf-8 name\n"),
    ]


def test_tar_names_keep_their_bytes() -> None:
    got = members(tar_with_names([b"caf\xe9.jpg", b"plain.txt"]), TAR)
    assert [(m.path, read) for m, read in got] == [
        ("caf%E9.jpg", b"tar member caf\xe9.jpg"),
        ("plain.txt", b"tar member plain.txt"),
    ]


@pytest.mark.parametrize("method", [DEFLATE64, ZSTD, PPMD])
@pytest.mark.parametrize("damage", ["cut", "garbled"])
def test_corrupt_or_cut_data_in_added_methods_is_an_archive_error(method: int, damage: str) -> None:
    content = bytes(range(256)) * 64
    good = member("m.bin", content, method)
    half = len(good.data) // 2
    if damage == "cut":
        good.data = good.data[:half]
    else:
        good.data = good.data[:2] + bytes(b ^ 0x5A for b in good.data[2:])
    walk = iter_members(io.BytesIO(raw_zip([good])), ZIP, budget())
    m = next(walk)
    assert m.path == "m.bin"
    with pytest.raises(ArchiveError), m.open() as handle:
        while handle.read(1 << 12):
            pass


def test_a_deflate64_bomb_is_stopped_by_the_budget() -> None:
    data = raw_zip([member("zeros.bin", bytes(20 << 20), DEFLATE64)])
    walk = iter_members(io.BytesIO(data), ZIP, budget())
    m = next(walk)
    with pytest.raises(ArchiveError, match="limit"), m.open() as handle:
        while handle.read(1 << 16):
            pass
