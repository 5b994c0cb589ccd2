"""Archive problems carry a code and fixed wording; library exception text goes to the run log."""

from __future__ import annotations

import errno
import gzip
import io
import logging
import lzma
import random
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import py7zr.exceptions
import pytest

from veriscan.analyzers.failures import LOGGER, attach_run_log
from veriscan.sources.archive import (
    ArchiveError,
    DamagedArchiveError,
    ExpansionBudget,
    iter_members,
    reading,
)
from veriscan.sources.archive_wording import archive_failure, log_failure

CASES: list[tuple[BaseException, str, str]] = [
    (
        zipfile.BadZipFile("Bad CRC-32 for file 'm0.png'"),
        "archive-crc",
        "member data fails its CRC-32 check: content damaged",
    ),
    (gzip.BadGzipFile("CRC check failed 0x1 != 0x2"), "archive-crc", "fails its CRC-32 check"),
    (py7zr.exceptions.CrcError(1, 2, "m0.png"), "archive-crc", "fails its CRC-32 check"),
    (
        EOFError("Compressed file ended before the end-of-stream marker was reached"),
        "archive-truncated",
        "compressed stream ended before its end-of-stream marker: truncated",
    ),
    (tarfile.ReadError("unexpected end of data"), "archive-truncated", "data ends early"),
    (
        zlib.error("Error -3 while decompressing data: invalid distance too far back"),
        "archive-corrupt-data",
        "compressed data damaged: cannot be decompressed",
    ),
    (lzma.LZMAError("Corrupt input data"), "archive-corrupt-data", "compressed data damaged"),
    (OSError("Invalid data stream"), "archive-error", "not a valid compressed stream"),
    (gzip.BadGzipFile("Not a gzipped file (b'xx')"), "archive-error", "not a valid compressed"),
    (
        zipfile.BadZipFile("File is not a zip file"),
        "archive-error",
        "no end-of-central-directory record found (the archive may be truncated)",
    ),
    (zipfile.BadZipFile("Truncated central directory"), "archive-truncated", "data ends early"),
    (zipfile.BadZipFile("Bad magic number for central directory"), "archive-error", "damaged"),
    (tarfile.ReadError("invalid header"), "archive-error", "archive structure damaged"),
    (struct.error("unpack requires a buffer of 4 bytes"), "archive-error", "structure damaged"),
    (py7zr.exceptions.Bad7zFile("not a 7z file"), "archive-error", "structure damaged"),
    (
        py7zr.exceptions.UnsupportedCompressionMethodError(b"\x21", "BCJ2"),
        "archive-unsupported",
        "uses a compression or filter veriscan cannot decode",
    ),
    (
        OSError(errno.EIO, "Input/output error"),
        "read-error",
        "read failed: Input/output error",
    ),
    (ValueError("'NoneType' object has no attribute 'w'"), "archive-error", "cannot be read"),
]


@pytest.mark.parametrize(("exc", "code", "wording"), CASES, ids=lambda v: type(v).__name__)
def test_library_failures_get_fixed_wording(exc: BaseException, code: str, wording: str) -> None:
    got_code, got_wording = archive_failure(exc)
    assert got_code == code
    assert wording in got_wording
    library_text = str(exc)
    assert library_text not in got_wording or library_text == "Input/output error"


def test_reading_translates_and_logs(tmp_path: Path) -> None:
    attach_run_log(tmp_path, "r1")
    try:
        with pytest.raises(ArchiveError) as caught, reading("zip member 'm0.png'"):
            raise zipfile.BadZipFile("Bad CRC-32 for file 'm0.png'")
        log_failure("tar member 'x'", ValueError("developer detail"))
    finally:
        for handler in list(LOGGER.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                LOGGER.removeHandler(handler)
    assert str(caught.value) == (
        "zip member 'm0.png': member data fails its CRC-32 check: content damaged"
    )
    assert caught.value.code == "archive-crc"
    log = (tmp_path / "logs" / "run-r1.log").read_text()
    assert "Bad CRC-32 for file 'm0.png'" in log
    assert "developer detail" in log and "Traceback" in log


def budget() -> ExpansionBudget:
    return ExpansionBudget(1000, 1 << 30, 10_000, 1 << 20)


def test_zip_crc_failure_reads_as_forensic_wording() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("m0.png", b"pixels" * 50)
    data = bytearray(buf.getvalue())
    at = data.index(b"pixels")
    data[at] ^= 1
    members = iter_members(io.BytesIO(bytes(data)), "application/zip", budget())
    member = next(members)
    with member.open() as handle, pytest.raises(ArchiveError) as caught:
        handle.read()
    assert caught.value.code == "archive-crc"
    assert "Bad CRC" not in str(caught.value)


def test_a_zip_version_zipfile_does_not_implement_is_a_problem_not_a_crash() -> None:
    """zipfile refuses a central directory that asks for a newer zip version (NotImplementedError,
    which no ordinary parse error is): the archive gets a worded problem, the run goes on."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a.txt", b"hello")
    data = bytearray(buf.getvalue())
    data[data.rfind(b"PK\x01\x02") + 6] = 99  # "version needed to extract": 9.9
    with pytest.raises(ArchiveError) as caught:
        list(iter_members(io.BytesIO(bytes(data)), "application/zip", budget()))
    assert caught.value.code == "archive-unsupported"
    assert "zip file version" not in str(caught.value)


def test_zip_members_past_the_end_are_damage_not_a_failure() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.txt", b"a" * 100)
        archive.writestr("b.txt", b"b" * 5000)
    data = buf.getvalue()
    directory = data.index(b"PK\x01\x02")
    cut = data[:200] + data[directory:]  # b.txt's data is gone, the directory kept
    fixed = bytearray(cut)
    end = fixed.index(b"PK\x05\x06")
    struct.pack_into("<L", fixed, end + 16, 200)  # the directory now starts at byte 200
    with pytest.raises(DamagedArchiveError) as caught:
        list(iter_members(io.BytesIO(bytes(fixed)), "application/zip", budget()))
    assert [p.code for p in caught.value.problems] == ["archive-truncated"]
    assert caught.value.problems[0].message.startswith("zip archive is truncated")


def test_damaged_archive_error_survives_pickling() -> None:
    import pickle

    from veriscan.domain import Problem

    exc = DamagedArchiveError([Problem("archive", "m", "archive-trailing-data")])
    back = pickle.loads(pickle.dumps(exc))
    assert back.problems == exc.problems and back.code == "archive-trailing-data"
    plain = pickle.loads(pickle.dumps(ArchiveError("x", "archive-crc")))
    assert plain.code == "archive-crc"


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buf.getvalue()


def read_moved(moved: bytes) -> tuple[dict[str, bytes | str], set[str]]:
    """Each member's content (or the code it failed with), and which were found moved."""
    got: dict[str, bytes | str] = {}
    shifted: set[str] = set()
    for member in iter_members(io.BytesIO(moved), "application/zip", budget()):
        if "archive-shifted-member" in [p.code for p in member.problems]:
            shifted.add(member.path)
        try:
            with member.open() as handle:
                got[member.path] = handle.read()
        except ArchiveError as exc:
            got[member.path] = exc.code
    return got, shifted


MEMBERS = [("a.txt", random.Random(7).randbytes(2000)), ("b.txt", b"beta " * 300), ("c.txt", b"g")]
DAMAGED = ("archive-crc", "archive-corrupt-data", "archive-truncated")


@pytest.mark.parametrize("fix_directory", [False, True])
def test_zip_members_moved_by_inserted_bytes_are_found(fix_directory: bool) -> None:
    data = zip_bytes(MEMBERS)
    second = data.index(b"PK\x03\x04", 4)
    moved = bytearray(data[: second - 20] + b"x" * 37 + data[second - 20 :])
    if fix_directory:  # as a tool that rewrote the end record would leave it
        end = moved.index(b"PK\x05\x06")
        (start,) = struct.unpack_from("<L", moved, end + 16)
        struct.pack_into("<L", moved, end + 16, start + 37)
    got, shifted = read_moved(bytes(moved))
    assert got.pop("a.txt") in DAMAGED
    assert got == dict(MEMBERS[1:])
    # zipfile moves every offset by as much as the directory moved, so without the fix the
    # untouched first member is the one that looks moved.
    assert shifted == ({"b.txt", "c.txt"} if fix_directory else {"a.txt"})


def test_zip_members_moved_by_removed_bytes_are_found() -> None:
    data = zip_bytes(MEMBERS)
    second = data.index(b"PK\x03\x04", 4)
    got, shifted = read_moved(data[: second - 31] + data[second - 20 :])
    assert got.pop("a.txt") in DAMAGED
    assert got == dict(MEMBERS[1:])
    assert shifted == {"a.txt"}  # zipfile's offsets went below zero for it: no crash
