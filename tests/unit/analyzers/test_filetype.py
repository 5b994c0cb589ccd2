from __future__ import annotations

import pytest

from veriscan.analyzers.filetype import FileTypeAnalyzer, extension_mismatch, sniff_mime
from veriscan.model import Attribute
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
