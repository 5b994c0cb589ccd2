from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import py7zr
import pytest

from support.streams import pipe
from veriscan.settings import Settings
from veriscan.sources.archive import (
    ARCHIVE_MIMES,
    ArchiveError,
    ExpansionBudget,
    LimitExceeded,
    Member,
    is_archive,
    iter_members,
)

ZIP = "application/zip"
TAR = "application/x-tar"
GZIP = "application/gzip"
BZIP2 = "application/x-bzip2"
XZ = "application/x-xz"
SEVEN = "application/x-7z-compressed"
ZEROS = bytes(8 << 20)
Codec = Callable[[bytes], bytes]


def budget(**limits: int) -> ExpansionBudget:
    values = {
        "max_entries": 1000,
        "max_expanded_bytes": 1 << 30,
        "max_ratio": 10_000,
        "ratio_min_bytes": 1 << 20,
    }
    values.update(limits)
    return ExpansionBudget(**values)


def write_zip(path: Path, members: list[tuple[str, bytes]], *, deflate: bool = True) -> Path:
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2024, 5, 17, 12, 30, 0)), data, method)
    return path


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def expand(stream: BinaryIO, mime: str, limits: ExpansionBudget | None = None) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for member in iter_members(stream, mime, limits or budget()):
        with member.open() as handle:
            out[member.path] = handle.read()
    return out


def codes(member: Member) -> list[str]:
    return [problem.code for problem in member.problems]


def test_mime_table() -> None:
    assert is_archive("application/x-xz")
    assert not is_archive("image/jpeg")
    assert {ZIP, TAR, GZIP, BZIP2, XZ, SEVEN} == ARCHIVE_MIMES
    with pytest.raises(ValueError, match="not an archive"):
        next(iter_members(io.BytesIO(b""), "image/jpeg", budget()))


def test_budget_comes_from_settings() -> None:
    settings = Settings(archive_max_entries=7, archive_max_ratio=9)
    limits = ExpansionBudget.from_settings(settings)
    assert (limits.max_entries, limits.max_ratio) == (7, 9)
    assert limits.max_expanded_bytes == settings.archive_max_expanded_bytes
    assert limits.ratio_min_bytes == settings.archive_ratio_min_bytes
    assert (limits.entries, limits.expanded_bytes) == (0, 0)


def test_nested_archive_members_keep_their_paths(tmp_path: Path) -> None:
    inner = gzip.compress(tar_bytes([("x/y.txt", b"deep"), ("z.txt", b"zed")]))
    outer = write_zip(
        tmp_path / "outer.zip",
        [("top.txt", b"top"), ("dir/sub/mid.txt", b"mid"), ("dir/inner.tar.gz", inner)],
    )
    limits = budget()
    seen: dict[str, bytes] = {}
    with outer.open("rb") as stream:
        for member in iter_members(stream, ZIP, limits):
            with member.open() as handle:
                if member.path.endswith(".tar.gz"):
                    for child, data in expand(handle, GZIP, limits).items():
                        seen[f"{member.path}!/{child}"] = data
                else:
                    seen[member.path] = handle.read()
    assert seen == {
        "top.txt": b"top",
        "dir/sub/mid.txt": b"mid",
        "dir/inner.tar.gz!/x/y.txt": b"deep",
        "dir/inner.tar.gz!/z.txt": b"zed",
    }
    assert limits.entries == 5
    assert limits.expanded_bytes >= len(inner) + 3 * 512


def test_zip_metadata_and_directories(tmp_path: Path) -> None:
    path = tmp_path / "meta.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("folder/", b"")
        archive.writestr(zipfile.ZipInfo("folder/a.txt", (2024, 5, 17, 12, 30, 0)), b"abc")
    with path.open("rb") as stream:
        members = list(iter_members(stream, ZIP, budget()))
    assert [(m.path, m.size, m.mtime, m.encrypted, m.problems) for m in members] == [
        ("folder/a.txt", 3, 1715949000.0, False, [])
    ]


def test_zip_bomb_stops_on_expanded_bytes(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "bomb.zip", [("zeros.bin", ZEROS)])
    limits = budget(max_expanded_bytes=1 << 20)
    with path.open("rb") as stream:
        members = iter_members(stream, ZIP, limits)
        member = next(members)
        with pytest.raises(LimitExceeded) as caught, member.open() as handle:
            while handle.read(1 << 16):
                pass
    assert caught.value.code == "bomb-expanded-bytes"
    assert limits.expanded_bytes <= (1 << 20) + (1 << 20)


def test_zip_bomb_stops_on_ratio(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "bomb.zip", [("zeros.bin", ZEROS)])
    limits = budget(max_ratio=50, ratio_min_bytes=1 << 16)
    with path.open("rb") as stream, pytest.raises(LimitExceeded) as caught:
        expand(stream, ZIP, limits)
    assert caught.value.code == "bomb-ratio"
    assert limits.expanded_bytes < len(ZEROS)


def test_compressible_but_small_data_is_not_a_bomb(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "fine.zip", [("zeros.bin", bytes(1 << 15))])
    limits = budget(max_ratio=2, ratio_min_bytes=1 << 16)
    with path.open("rb") as stream:
        assert expand(stream, ZIP, limits) == {"zeros.bin": bytes(1 << 15)}


def test_tgz_bomb_stops_on_ratio_even_when_unread() -> None:
    data = gzip.compress(tar_bytes([("zeros.bin", ZEROS), ("after.txt", b"x")]))
    limits = budget(max_ratio=50, ratio_min_bytes=1 << 16)
    members = iter_members(pipe(data), GZIP, limits)
    assert next(members).path == "zeros.bin"
    with pytest.raises(LimitExceeded) as caught:
        next(members)
    assert caught.value.code == "bomb-ratio"


def test_entry_limit(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "many.zip", [(f"f{i}.txt", b"") for i in range(10)])
    limits = budget(max_entries=4)
    got: list[str] = []
    with path.open("rb") as stream, pytest.raises(LimitExceeded) as caught:
        got.extend(member.path for member in iter_members(stream, ZIP, limits))
    assert caught.value.code == "bomb-entries"
    assert got == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]


def test_entry_limit_is_shared_with_nested_levels() -> None:
    limits = budget(max_entries=3, entries=2)
    with pytest.raises(LimitExceeded, match="more than 3"):
        expand(io.BytesIO(tar_bytes([("a", b"1"), ("b", b"2")])), TAR, limits)


def test_limit_exceeded_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(LimitExceeded("bomb-ratio", "too much")))
    assert (error.code, str(error)) == ("bomb-ratio", "too much")


HOSTILE = [
    ("../x", "x"),
    ("/etc/passwd", "etc/passwd"),
    ("C:\\Windows\\evil.dll", "Windows/evil.dll"),
    ("a/../../b", "a/b"),
]


def test_hostile_zip_names_are_sanitised(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "evil.zip", [(raw, raw.encode()) for raw, _ in HOSTILE])
    with path.open("rb") as stream:
        members = [(m, m.open().read()) for m in iter_members(stream, ZIP, budget())]
    for (raw, clean), (member, data) in zip(HOSTILE, members, strict=True):
        assert (member.path, data) == (clean, raw.encode())
        assert codes(member) == ["hostile-path"]
        assert repr(raw) in member.problems[0].message


def test_hostile_tar_names_are_sanitised_and_dot_prefix_is_not() -> None:
    data = tar_bytes([("./ok.txt", b"ok"), ("../../up.txt", b"up"), ("back\\slash.txt", b"b")])
    members = list(iter_members(io.BytesIO(data), TAR, budget()))
    assert [(m.path, codes(m)) for m in members] == [
        ("ok.txt", []),
        ("up.txt", ["hostile-path"]),
        ("back/slash.txt", []),
    ]


def test_names_that_would_forge_a_locator_or_vanish(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "odd.zip", [("wow!/pic.jpg", b"p"), ("..", b"d")])
    with path.open("rb") as stream:
        members = list(iter_members(stream, ZIP, budget()))
    assert [(m.path, codes(m)) for m in members] == [
        # issue 15: one reversible escape for every name ("!_/" could clash with a real "!_")
        ("wow%21/pic.jpg", ["locator-separator"]),
        ("unnamed", ["hostile-path"]),
    ]


def test_duplicate_names_get_suffixes(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(path, [("a.txt", b"1"), ("a.txt", b"2"), ("a.txt#2", b"3"), ("a.txt", b"4")])
    with path.open("rb") as stream:
        members = [(m.path, codes(m), m.open().read()) for m in iter_members(stream, ZIP, budget())]
    assert members == [
        ("a.txt", [], b"1"),
        ("a.txt#2", ["duplicate-name"], b"2"),
        ("a.txt#2#2", ["duplicate-name"], b"3"),
        ("a.txt#3", ["duplicate-name"], b"4"),
    ]


def set_encrypted_flag(data: bytes, signature: bytes, flag_offset: int) -> bytes:
    at = data.index(signature)
    (flags,) = struct.unpack_from("<H", data, at + flag_offset)
    return data[: at + flag_offset] + struct.pack("<H", flags | 1) + data[at + flag_offset + 2 :]


def test_encrypted_zip_member_is_recorded_not_read(tmp_path: Path) -> None:
    plain = write_zip(tmp_path / "p.zip", [("secret.jpg", b"cipher?")], deflate=False)
    data = set_encrypted_flag(plain.read_bytes(), b"PK\x03\x04", 6)
    data = set_encrypted_flag(data, b"PK\x01\x02", 8)
    (tmp_path / "enc.zip").write_bytes(data)
    with (tmp_path / "enc.zip").open("rb") as stream:
        (member,) = iter_members(stream, ZIP, budget())
        assert member.encrypted
        assert codes(member) == ["encrypted"]
        assert member.problems[0].message == "encrypted member, content not analysed"
        with pytest.raises(ArchiveError, match="encrypted"):
            member.open()


def test_zip_symlink_is_special(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, b"/etc/shadow")
    with path.open("rb") as stream:
        (member,) = iter_members(stream, ZIP, budget())
        assert codes(member) == ["special-file"]
        with pytest.raises(ArchiveError, match="symbolic link"):
            member.open()


def test_truncated_zip_is_an_archive_error(tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "w.zip", [("a.bin", os.urandom(5000)), ("b.bin", b"b")])
    (tmp_path / "cut.zip").write_bytes(whole.read_bytes()[:3000])
    with (tmp_path / "cut.zip").open("rb") as stream, pytest.raises(ArchiveError, match="zip"):
        next(iter_members(stream, ZIP, budget()))


def test_zip_members_past_the_end_are_reported_after_the_rest(tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "w.zip", [("a.txt", b"a"), ("b.txt", b"b")]).read_bytes()
    second = whole.index(b"PK\x01\x02", whole.index(b"PK\x01\x02") + 4)
    broken = whole[: second + 42] + struct.pack("<I", 1 << 30) + whole[second + 46 :]
    (tmp_path / "b.zip").write_bytes(broken)
    got: list[tuple[str, list[str]]] = []
    with (tmp_path / "b.zip").open("rb") as stream, pytest.raises(ArchiveError, match="truncat"):
        got.extend((m.path, codes(m)) for m in iter_members(stream, ZIP, budget()))
    # issue 15: the lost member is a location with a problem too, not only a count on the archive
    assert got == [("a.txt", []), ("b.txt", ["truncated"])]


def test_zip_crc_mismatch_surfaces_from_read(tmp_path: Path) -> None:
    whole = write_zip(tmp_path / "w.zip", [("a.txt", b"hello world")], deflate=False)
    data = whole.read_bytes().replace(b"hello world", b"hellO world")
    (tmp_path / "crc.zip").write_bytes(data)
    with (tmp_path / "crc.zip").open("rb") as stream:
        members = iter_members(stream, ZIP, budget())
        with next(members).open() as handle, pytest.raises(ArchiveError, match="CRC"):
            handle.read()


def test_truncated_tgz_yields_earlier_members_then_fails() -> None:
    data = gzip.compress(
        tar_bytes([("a.txt", b"first"), ("noise.bin", os.urandom(5000)), ("c.txt", b"c")])
    )
    got: dict[str, bytes] = {}
    with pytest.raises(ArchiveError, match="ended before"):
        for member in iter_members(pipe(data[:-100]), GZIP, budget()):
            got[member.path] = b""
            with member.open() as handle:
                got[member.path] = handle.read()
    assert got == {"a.txt": b"first", "noise.bin": b""}


def test_truncated_tgz_fails_from_the_iterator_when_nothing_is_read() -> None:
    data = gzip.compress(tar_bytes([("a.txt", b"first"), ("noise.bin", os.urandom(5000))]))
    got: list[str] = []
    with pytest.raises(ArchiveError, match="gzip"):
        got.extend(m.path for m in iter_members(pipe(data[:-100]), GZIP, budget()))
    assert got == ["a.txt", "noise.bin"]


@pytest.mark.parametrize(
    ("mime", "compress"),
    [
        (TAR, lambda data: data),
        (GZIP, gzip.compress),
        (BZIP2, bz2.compress),
        (XZ, lzma.compress),
    ],
)
def test_tar_streams_from_a_non_seekable_source(
    mime: str, compress: Callable[[bytes], bytes]
) -> None:
    first, second = os.urandom(70_000), b"second member"
    data = compress(tar_bytes([("one.bin", first), ("dir/two.txt", second), ("three", b"")]))
    members = iter_members(pipe(data), mime, budget())
    one = next(members)
    assert (one.path, one.size, one.mtime) == ("one.bin", len(first), 1_700_000_000.0)
    with one.open() as handle:
        assert handle.read(10) == first[:10]
    two = next(members)
    with two.open() as handle:
        assert handle.read() == second
    assert [m.path for m in members] == ["three"]


def test_streams_expire_when_the_iterator_moves_on() -> None:
    members = iter_members(io.BytesIO(tar_bytes([("a", b"a" * 100), ("b", b"b")])), TAR, budget())
    first = next(members)
    handle = first.open()
    with pytest.raises(ArchiveError, match="already opened"):
        first.open()
    next(members)
    with pytest.raises(ArchiveError, match="moved on"):
        handle.read()
    with pytest.raises(ArchiveError, match="moved on"):
        first.open()


def test_tar_links_and_devices_are_recorded_not_read() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        link = tarfile.TarInfo("shadow")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        device = tarfile.TarInfo("dev/null")
        device.type = tarfile.CHRTYPE
        folder = tarfile.TarInfo("dev")
        folder.type = tarfile.DIRTYPE
        for info in (link, folder, device):
            archive.addfile(info)
    members = list(iter_members(io.BytesIO(out.getvalue()), TAR, budget()))
    assert [(m.path, codes(m)) for m in members] == [
        ("shadow", ["special-file"]),
        ("dev/null", ["special-file"]),
    ]
    assert "'/etc/shadow'" in members[0].problems[0].message
    with pytest.raises(ArchiveError, match="character device"):
        members[1].open()


@pytest.mark.parametrize(
    ("mime", "compress"),
    [
        (GZIP, gzip.compress),
        (BZIP2, bz2.compress),
        (XZ, lzma.compress),
    ],
)
def test_single_compressed_file_is_one_member(
    mime: str, compress: Callable[[bytes], bytes]
) -> None:
    payload = b"not a tar at all\n" * 100
    members = list(iter_members(pipe(compress(payload)), mime, budget()))
    assert [m.path for m in members] == ["content"]
    assert members[0].size is None


def test_single_gzip_file_content_and_mtime() -> None:
    payload = os.urandom(3000)
    data = gzip.compress(payload, mtime=1_600_000_000)
    members = iter_members(pipe(data), GZIP, budget())
    member = next(members)
    with member.open() as handle:
        assert handle.read() == payload
    assert member.mtime == 1_600_000_000.0
    assert list(members) == []


@pytest.mark.parametrize("mime", [ZIP, SEVEN, GZIP, TAR])
def test_garbage_is_an_archive_error(mime: str) -> None:
    garbage = io.BytesIO(b"\x01" * 2048)
    with pytest.raises(ArchiveError):
        list(iter_members(garbage, mime, budget()))


def write_7z(path: Path, members: list[tuple[str, bytes]], **options: object) -> Path:
    with py7zr.SevenZipFile(path, "w", **options) as archive:  # type: ignore[arg-type]
        for name, data in members:
            archive.writestr(data, name)
    return path


def test_7z_round_trip_with_skipped_members(tmp_path: Path) -> None:
    noise = os.urandom(150_000)
    path = write_7z(
        tmp_path / "a.7z",
        [("a/one.txt", b"one" * 1000), ("skip.bin", noise), ("empty", b""), ("b/two", b"2")],
    )
    with py7zr.SevenZipFile(path, "a") as archive:
        archive.writestr(b"later folder", "c/three.txt")
    limits = budget()
    got: dict[str, bytes] = {}
    with path.open("rb") as stream:
        for member in iter_members(stream, SEVEN, limits):
            assert member.mtime is not None
            if member.path != "skip.bin":
                with member.open() as handle:
                    got[member.path] = handle.read()
    assert got == {
        "a/one.txt": b"one" * 1000,
        "empty": b"",
        "b/two": b"2",
        "c/three.txt": b"later folder",
    }
    assert limits.expanded_bytes >= len(noise)


def test_7z_bomb_is_metered(tmp_path: Path) -> None:
    path = write_7z(tmp_path / "bomb.7z", [("zeros.bin", ZEROS)])
    with path.open("rb") as stream, pytest.raises(LimitExceeded) as caught:
        expand(stream, SEVEN, budget(max_ratio=50, ratio_min_bytes=1 << 16))
    assert caught.value.code == "bomb-ratio"


def test_7z_with_password_is_recorded_not_read(tmp_path: Path) -> None:
    path = write_7z(tmp_path / "enc.7z", [("secret.jpg", b"x" * 100)], password="pw")
    with path.open("rb") as stream:
        (member,) = iter_members(stream, SEVEN, budget())
        assert (member.path, member.encrypted, codes(member)) == ("secret.jpg", True, ["encrypted"])
        with pytest.raises(ArchiveError, match="encrypted"):
            member.open()


def test_7z_with_encrypted_file_list_is_an_archive_error(tmp_path: Path) -> None:
    path = write_7z(tmp_path / "h.7z", [("a", b"a")], password="pw", header_encryption=True)
    with path.open("rb") as stream, pytest.raises(ArchiveError, match="password"):
        next(iter_members(stream, SEVEN, budget()))


def test_truncated_7z_is_an_archive_error(tmp_path: Path) -> None:
    data = write_7z(tmp_path / "w.7z", [("a", os.urandom(4000))]).read_bytes()
    with pytest.raises(ArchiveError, match="7z"):
        next(iter_members(io.BytesIO(data[:2000]), SEVEN, budget()))


def _drain(members: Iterator[Member]) -> None:
    for member in members:
        member.open().read()


def test_7z_crc_mismatch_surfaces_from_read(tmp_path: Path) -> None:
    data = bytearray(
        write_7z(
            tmp_path / "w.7z", [("a", b"abc" * 50)], filters=[{"id": py7zr.FILTER_COPY}]
        ).read_bytes()
    )
    data[32] ^= 0xFF
    with pytest.raises(ArchiveError, match="CRC"):
        _drain(iter_members(io.BytesIO(bytes(data)), SEVEN, budget()))


def test_unknown_zip_compression_method_is_an_archive_error() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("odd.bin", b"payload")
    raw = bytearray(buf.getvalue())
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        pos = raw.find(sig)
        raw[pos + offset : pos + offset + 2] = struct.pack("<H", 99)
    members = iter_members(io.BytesIO(bytes(raw)), ZIP, budget())
    member = next(members)
    with pytest.raises(ArchiveError, match="compression method 99"):
        member.open()
