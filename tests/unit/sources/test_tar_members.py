"""Damaged tars and compressed streams: later members are recovered, and every loss is a problem.

tarfile's stream mode used to take a damaged header after the first for the end of the archive,
and bz2/lzma dropped bytes after the last stream: members vanished with no trace (issue 15).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import py7zr
import pytest

from support.streams import pipe
from veriscan.sources.archive import (
    ArchiveError,
    DamagedArchiveError,
    ExpansionBudget,
    iter_members,
)

TAR = "application/x-tar"
GZIP = "application/gzip"
BZIP2 = "application/x-bzip2"
XZ = "application/x-xz"
SEVEN = "application/x-7z-compressed"


def budget() -> ExpansionBudget:
    return ExpansionBudget(1000, 1 << 30, 10_000, 1 << 20)


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


MEMBERS = [("a.txt", b"first" * 300), ("b.bin", os.urandom(3000)), ("c.txt", b"third")]


def expand_all(data: bytes, mime: str) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
    """Every member read, and the archive's own problems as (code, message)."""
    got: dict[str, bytes] = {}
    damage: list[tuple[str, str]] = []
    try:
        for member in iter_members(pipe(data), mime, budget()):
            with member.open() as handle:
                got[member.path] = handle.read()
    except DamagedArchiveError as exc:
        damage = [(p.code, p.message) for p in exc.problems]
    return got, damage


def header_offsets(data: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [info.offset for info in tar.getmembers()]


def test_intact_tar_has_no_problems() -> None:
    got, damage = expand_all(tar_bytes(MEMBERS), TAR)
    assert got == dict(MEMBERS)
    assert damage == []


def test_a_damaged_header_is_skipped_and_later_members_still_read() -> None:
    data = bytearray(tar_bytes(MEMBERS))
    second = header_offsets(bytes(data))[1]
    data[second + 100] ^= 0xFF  # breaks the checksum of b.bin's header
    got, damage = expand_all(bytes(data), TAR)
    assert got == {"a.txt": MEMBERS[0][1], "c.txt": b"third"}
    assert [code for code, _ in damage] == ["archive-damaged-header"]
    assert f"damaged header at byte {second}:" in damage[0][1]


def test_inserted_bytes_shift_headers_off_the_grid_and_are_resynced() -> None:
    data = tar_bytes(MEMBERS)
    second = header_offsets(data)[1]
    shifted = data[:second] + b"inserted garbage" + data[second:]
    got, damage = expand_all(shifted, TAR)
    assert got == dict(MEMBERS)
    assert [code for code, _ in damage] == ["archive-damaged-header"]
    assert f"next valid header at byte {second + 16}" in damage[0][1]


def test_resync_searches_past_a_long_run_of_garbage() -> None:
    data = tar_bytes(MEMBERS)
    third = header_offsets(data)[2]
    noise = bytes(range(1, 251)) * 1200  # 300 kB with no 'ustar' in it
    got, damage = expand_all(data[:third] + noise + data[third:], TAR)
    assert got == dict(MEMBERS)
    assert [code for code, _ in damage] == ["archive-damaged-header"]


def test_a_damaged_last_header_stops_the_listing_with_a_problem() -> None:
    data = bytearray(tar_bytes(MEMBERS))
    third = header_offsets(bytes(data))[2]
    data[third + 257 : third + 262] = b"xxxxx"  # no magic left to resync on either
    data[third + 100] ^= 0xFF
    got, damage = expand_all(bytes(data), TAR)
    assert set(got) == {"a.txt", "b.bin"}
    assert damage[0] == (
        "archive-truncated-listing",
        f"listing stopped at a damaged header at byte {third}; members after it may be missing",
    )


def test_data_after_the_end_marker_is_reported() -> None:
    got, damage = expand_all(tar_bytes(MEMBERS) + b"hidden bytes" * 100, TAR)
    assert got == dict(MEMBERS)
    assert [code for code, _ in damage] == ["archive-trailing-data"]
    assert "after the end-of-archive marker" in damage[0][1]


def test_members_appended_after_the_end_marker_are_listed_and_flagged() -> None:
    got, damage = expand_all(tar_bytes(MEMBERS[:1]) + tar_bytes(MEMBERS[2:]), TAR)
    assert got == {"a.txt": MEMBERS[0][1], "c.txt": b"third"}
    assert [code for code, _ in damage] == ["archive-data-after-end"]


def test_a_tar_without_end_marker_may_have_been_cut() -> None:
    data = tar_bytes(MEMBERS)
    end = header_offsets(data)[2] + 1024  # c.txt's header and its one data block
    got, damage = expand_all(data[:end], TAR)
    assert got == dict(MEMBERS)
    assert damage == [
        (
            "archive-no-end-marker",
            f"the archive ends at byte {end} without its end-of-archive marker: it may have "
            "been cut short, and members after it would be missing",
        )
    ]


def test_a_tar_cut_inside_a_header_is_truncated() -> None:
    data = tar_bytes(MEMBERS)
    third = header_offsets(data)[2]
    got, damage = expand_all(data[: third + 200], TAR)
    assert set(got) == {"a.txt", "b.bin"}
    assert [code for code, _ in damage] == ["archive-truncated"]


def test_no_header_at_all_is_an_archive_error() -> None:
    with pytest.raises(ArchiveError, match="no valid tar header") as caught:
        list(iter_members(pipe(b"\x01" * 4096), TAR, budget()))
    assert not isinstance(caught.value, DamagedArchiveError)


COMPRESSORS: list[tuple[str, Callable[[bytes], bytes]]] = [
    (GZIP, gzip.compress),
    (BZIP2, bz2.compress),
    (XZ, lzma.compress),
]


@pytest.mark.parametrize(("mime", "compress"), COMPRESSORS)
@pytest.mark.parametrize("inner", ["tar", "single"])
def test_garbage_after_the_compressed_stream_is_reported(
    mime: str, compress: Callable[[bytes], bytes], inner: str
) -> None:
    payload = tar_bytes(MEMBERS) if inner == "tar" else b"plain text\n" * 500
    packed = compress(payload)
    got, damage = expand_all(packed + b"\x00\x00\x00\x00not compressed data", mime)
    assert got == (dict(MEMBERS) if inner == "tar" else {"content": payload})
    assert [code for code, _ in damage] == ["archive-trailing-data"]
    codec = {GZIP: "gzip", BZIP2: "bzip2", XZ: "xz"}[mime]
    assert damage[0][1].startswith(
        f"19 bytes after the end of the {codec} data at byte {len(packed) + 4} "
    )


@pytest.mark.parametrize(("mime", "compress"), COMPRESSORS)
def test_concatenated_streams_and_zero_padding_are_not_damage(
    mime: str, compress: Callable[[bytes], bytes]
) -> None:
    got, damage = expand_all(compress(b"one ") + compress(b"two") + bytes(8), mime)
    assert got == {"content": b"one two"}
    assert damage == []


@pytest.mark.parametrize(("mime", "compress"), COMPRESSORS)
def test_bytes_that_only_look_like_another_stream_are_trailing_data(
    mime: str, compress: Callable[[bytes], bytes]
) -> None:
    magic = {GZIP: b"\x1f\x8b", BZIP2: b"BZh", XZ: b"\xfd7zXZ\x00"}[mime]
    got, damage = expand_all(compress(b"kept") + magic + b"\xff" * 40, mime)
    assert got == {"content": b"kept"}  # the real stream is still read and hashed
    assert [code for code, _ in damage] == ["archive-trailing-data"]


def test_truncated_compressed_stream_wording() -> None:
    data = gzip.compress(os.urandom(4000))
    with pytest.raises(ArchiveError) as caught:
        expand_all(data[:-50], GZIP)
    assert caught.value.code == "archive-truncated"
    assert "ended before its end-of-stream marker" in str(caught.value)


def test_corrupt_deflate_data_wording() -> None:
    data = bytearray(gzip.compress(b"some text that compresses " * 200))
    data[20:30] = b"\xff" * 10
    with pytest.raises(ArchiveError) as caught:
        expand_all(bytes(data), GZIP)
    assert caught.value.code == "archive-corrupt-data"
    assert "Error -3" not in str(caught.value)


def test_garbage_after_a_7z_archive_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(b"inside", "in.txt")
    data = path.read_bytes()
    members = iter_members(io.BytesIO(data + b"appended!"), SEVEN, budget())
    with pytest.raises(DamagedArchiveError) as caught:
        for member in members:
            with member.open() as handle:
                assert handle.read() == b"inside"
    assert [p.code for p in caught.value.problems] == ["archive-trailing-data"]
    assert f"9 bytes after the end of the 7z archive at byte {len(data)}" in str(caught.value)


def test_7z_zero_padding_is_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "a.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(b"inside", "in.txt")
    padded = io.BytesIO(path.read_bytes() + bytes(64))
    assert [m.path for m in iter_members(padded, SEVEN, budget())] == ["in.txt"]


@pytest.mark.parametrize(("mime", "compress"), COMPRESSORS)
def test_compressed_tar_with_a_damaged_header_is_resynced(
    mime: str, compress: Callable[[bytes], bytes]
) -> None:
    data = tar_bytes(MEMBERS)
    second = header_offsets(data)[1]
    got, damage = expand_all(compress(data[:second] + b"junk" + data[second:]), mime)
    assert got == dict(MEMBERS)
    assert [code for code, _ in damage] == ["archive-damaged-header"]
