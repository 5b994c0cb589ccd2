from __future__ import annotations

import pytest

from veriscan.analyzers.filetype import FileTypeAnalyzer, extension_mismatch, sniff_mime
from veriscan.domain import Attribute
from veriscan.settings import Settings


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00", "image/avif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00", "video/mp4"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"a" * 257 + b"ustar\x00", "application/x-tar"),
        (b"plain words\n", "text/plain"),
        (b"", "application/x-empty"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
    ],
)
def test_sniff(head: bytes, mime: str) -> None:
    assert sniff_mime(head) == mime


def test_extension_mismatch() -> None:
    assert extension_mismatch("holiday.dll", "image/png")
    assert extension_mismatch("photo.jpg", "image/png")
    assert not extension_mismatch("photo.JPEG", "image/jpeg")
    assert not extension_mismatch("README", "text/plain")
    assert not extension_mismatch("notes.txt", "text/plain")
    assert extension_mismatch("notes.jpg", "text/plain")


def test_analyzer_uses_only_the_head_across_chunks() -> None:
    state = FileTypeAnalyzer(Settings()).begin("x")
    state.update(b"\x89PN")
    state.update(b"G\r\n\x1a\n" + b"\x00" * 10_000)
    assert state.finish() == [Attribute("mime", "image/png")]


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"8BPS\x00\x01\x00\x00", "image/vnd.adobe.photoshop"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n\x00", "image/jxl"),
        (b"\xff\x0a\xfa\x7f", "image/jxl"),
        (b"FUJIFILMCCD-RAW 0201", "image/x-fuji-raf"),
        (b"FOVb\x00\x00\x02\x00", "image/x-sigma-x3f"),
        (b"II\x1a\x00\x00\x00HEAPCCDR", "image/x-canon-crw"),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01", "image/x-canon-cr3"),
        (b"IIRO\x08\x00\x00\x00", "image/x-olympus-orf"),
        (b"IIU\x00\x08\x00\x00\x00", "image/x-panasonic-rw2"),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "image/tiff"),  # CR2 stays TIFF, as before
        (b"\x00MRM\x00\x00", "image/x-minolta-mrw"),
    ],
)
def test_forensic_formats_from_the_own_table(head: bytes, mime: str) -> None:
    assert sniff_mime(head + b"\x00" * 64) == mime


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"Rar!\x1a\x07\x00", "application/x-rar-compressed"),
        (b"FLV\x01\x05", "video/x-flv"),
    ],
)
def test_unknown_to_the_table_falls_back_to_the_signature_database(head: bytes, mime: str) -> None:
    assert sniff_mime(head + b"\x00" * 64) == mime


def test_short_chance_matches_stay_octet_stream() -> None:
    assert sniff_mime(b"\x00\x01\x02\x03") == "application/octet-stream"
    assert sniff_mime(bytes(range(256)) * 4) == "application/octet-stream"


def test_raw_extensions_are_not_a_mismatch() -> None:
    for name, head in [
        ("a.nef", b"II*\x00\x08\x00\x00\x00"),
        ("a.pef", b"MM\x00*\x00\x00\x00\x08"),
        ("a.cr3", b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01"),
        ("a.psd", b"8BPS\x00\x01"),
    ]:
        assert not extension_mismatch(name, sniff_mime(head + b"\x00" * 64)), name
    assert extension_mismatch("a.cr3", "image/jpeg")
