"""The contract every archive format gets (from the installed ``veriscan.archive_formats``
entry points): its own sample is sniffed as itself and nobody else's, expanding it yields the
member's bytes, a bomb of it stops on the shared budget, and noise is an archive problem, never a
crash."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import tarfile
import zipfile
from collections.abc import Callable

import py7zr
import pytest

from veriscan.plugins import PluginError, Registry
from veriscan.sources.archive import ARCHIVE_MIMES, ArchiveError, ExpansionBudget, iter_members
from veriscan.sources.archives.base import ArchiveFormat
from veriscan.sources.archives.expand import archive_formats, is_archive, sniff_archive

FORMATS = archive_formats()
PAYLOAD = b"member bytes " * 10


def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.bin", data)
    return out.getvalue()


def _7z(data: bytes) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as archive:
        archive.writef(io.BytesIO(data), "a.bin")
    return out.getvalue()


def _tar(data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("a.bin")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


SAMPLES: dict[str, Callable[[bytes], bytes]] = {
    "zip": _zip,
    "7z": _7z,
    "tar": _tar,
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}
MEMBER = {"zip": "a.bin", "7z": "a.bin", "tar": "a.bin"}


def _budget(expanded: int = 1 << 30) -> ExpansionBudget:
    return ExpansionBudget(10_000, expanded, 1_000_000, 1 << 20)


def test_every_builtin_is_registered_with_its_mime() -> None:
    assert {f.id for f in FORMATS} >= set(SAMPLES)
    assert {f.mime for f in FORMATS if f.id in SAMPLES} == ARCHIVE_MIMES
    assert all(is_archive(mime) for mime in ARCHIVE_MIMES) and not is_archive("image/png")


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_sniffs_its_own_sample_and_no_other(fmt: ArchiveFormat) -> None:
    for other, make in SAMPLES.items():
        head = make(PAYLOAD)[:1024]
        assert fmt.sniff(head) == (other == fmt.id), other
        assert sniff_archive(head, FORMATS) == other
    assert sniff_archive(b"\x89PNG\r\n\x1a\n" + bytes(600), FORMATS) is None


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_reads_its_members(fmt: ArchiveFormat) -> None:
    stream = io.BytesIO(SAMPLES[fmt.id](PAYLOAD))
    got = [(m.path, m.open().read()) for m in iter_members(stream, fmt.mime, _budget(), [fmt])]
    assert got == [(MEMBER.get(fmt.id, "content"), PAYLOAD)]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_a_bomb_stops_on_the_budget(fmt: ArchiveFormat) -> None:
    stream = io.BytesIO(SAMPLES[fmt.id](bytes(4 << 20)))
    with pytest.raises(ArchiveError) as raised:
        for member in iter_members(stream, fmt.mime, _budget(1 << 20), [fmt]):
            member.open().read()
    assert raised.value.code.startswith("bomb")


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.id)
def test_noise_is_an_archive_problem(fmt: ArchiveFormat) -> None:
    noise = SAMPLES[fmt.id](PAYLOAD)[:8] + random.Random(3).randbytes(1 << 16)
    with pytest.raises(ArchiveError):
        for member in iter_members(io.BytesIO(noise), fmt.mime, _budget(), [fmt]):
            member.open().read()


def test_registry_refuses_an_archive_format_that_is_not_one() -> None:
    class NotAFormat:
        id = "bogus"

    with pytest.raises(PluginError, match="no archive_formats installed"):
        archive_formats(Registry())
    registry = Registry()
    registry.register("archive_formats", NotAFormat)
    with pytest.raises(PluginError, match="does not subclass ArchiveFormat"):
        archive_formats(registry)
