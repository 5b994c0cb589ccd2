"""Media access without The Sleuth Kit: raw and split raw reads, free-space arithmetic, streams."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from veriscan.names import unescape
from veriscan.sources.disk.media import (
    MediaError,
    RawMedia,
    looks_like_image,
    open_media,
    split_segments,
)
from veriscan.sources.disk.streams import RangeStream
from veriscan.sources.disk.verify import verify_image
from veriscan.sources.disk.volumes import free_ranges
from veriscan.sources.disk.walk import decode_name

DATA = bytes(range(256)) * 300  # 76,800 bytes, every offset distinguishable mod 256


def _split(tmp_path: Path, sizes: list[int]) -> Path:
    at = 0
    for n, size in enumerate(sizes, start=1):
        (tmp_path / f"disk.{n:03d}").write_bytes(DATA[at : at + size])
        at += size
    return tmp_path / "disk.001"


def test_split_raw_reads_across_segment_boundaries(tmp_path: Path) -> None:
    first = _split(tmp_path, [10_000, 30_000, 36_800])
    (tmp_path / "disk.005").write_bytes(b"not consecutive, not part of the set")
    assert [p.name for p in split_segments(first)] == ["disk.001", "disk.002", "disk.003"]
    with open_media(first) as media:
        assert media.info.format == "split-raw"
        assert media.size == len(DATA)
        for offset, length in [(0, 10), (9_990, 20), (9_999, 30_002), (39_999, 2), (0, len(DATA))]:
            assert media.read(offset, length) == DATA[offset : offset + length]
        assert media.read(len(DATA) - 5, 100) == DATA[-5:]
        assert media.read(len(DATA) + 10, 100) == b""
        with pytest.raises(MediaError):
            media.read(-1, 10)


def test_single_raw_and_a_numbered_file_that_is_not_a_first_segment(tmp_path: Path) -> None:
    lone = tmp_path / "disk.002"
    lone.write_bytes(DATA)
    assert split_segments(lone) == [lone]
    raw = tmp_path / "usb.dd"
    raw.write_bytes(DATA)
    with RawMedia([raw]) as media:
        assert media.info.format == "raw"
        assert media.read(100, 5) == DATA[100:105]


def test_images_are_recognised_by_ewf_signature_or_raw_name(tmp_path: Path) -> None:
    ewf = tmp_path / "renamed.bin.evidence"
    ewf.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + bytes(100))
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    (tmp_path / "x.img").write_bytes(b"")
    assert looks_like_image(ewf)
    assert looks_like_image(tmp_path / "x.img")
    assert not looks_like_image(photo)
    assert not looks_like_image(tmp_path)


def test_missing_image_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        open_media(tmp_path / "absent.E01")


def test_free_ranges_are_the_complement_of_the_runs() -> None:
    runs = [(10, 5), (0, 2), (12, 10), (40, 1), (50, 100)]
    assert free_ranges(0, 59, iter(runs)) == [(2, 8), (22, 18), (41, 9)]
    assert free_ranges(0, 9, iter([])) == [(0, 10)]
    assert free_ranges(5, 9, iter([(0, 100)])) == []
    assert free_ranges(0, 99, iter([(0, 50)]), min_blocks=60) == []


def test_names_become_safe_locator_segments() -> None:
    # issue 15: names are escaped losslessly instead of replaced ("_", U+FFFD)
    assert decode_name(b"a/b\x01c.jpg") == "a%2Fb%01c.jpg"
    assert decode_name(b"") == "_"
    assert decode_name("café.png".encode()) == "café.png"
    assert decode_name(b"\xe5ILE.JPG") == "%E5ILE.JPG"
    assert unescape(decode_name(b"\xe5ILE.JPG")) == os.fsdecode(b"\xe5ILE.JPG")


def test_range_stream_reads_seeks_and_refuses_short_data(tmp_path: Path) -> None:
    raw = tmp_path / "d.raw"
    raw.write_bytes(DATA)
    with open_media(raw) as media:
        stream = RangeStream(media, 1000, 500)
        assert stream.read(10) == DATA[1000:1010]
        stream.seek(0)
        assert stream.read() == DATA[1000:1500]
        beyond = RangeStream(media, len(DATA) - 10, 50)
        assert beyond.read(10) == DATA[-10:]
        with pytest.raises(OSError, match="truncated"):
            beyond.read(10)


def test_verify_raw_with_expected_hashes(tmp_path: Path) -> None:
    raw = tmp_path / "d.raw"
    raw.write_bytes(DATA)
    before = (hashlib.sha256(raw.read_bytes()).hexdigest(), os.stat(raw).st_mtime_ns)
    computed = verify_image(raw)
    assert computed.result == "computed" and computed.ok
    assert computed.computed["md5"] == hashlib.md5(DATA).hexdigest()
    assert computed.computed["sha256"] == hashlib.sha256(DATA).hexdigest()
    good = verify_image(raw, expected={"MD5": hashlib.md5(DATA).hexdigest().upper()})
    assert good.result == "verified"
    bad = verify_image(raw, expected={"sha1": "0" * 40})
    assert bad.result == "mismatch" and bad.mismatched == ["sha1"] and not bad.ok
    assert (hashlib.sha256(raw.read_bytes()).hexdigest(), os.stat(raw).st_mtime_ns) == before


def test_verify_reports_progress_and_unreadable_images(tmp_path: Path) -> None:
    raw = tmp_path / "d.raw"
    raw.write_bytes(DATA)
    seen: list[tuple[int, int]] = []
    verify_image(raw, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(DATA), len(DATA))
    missing = verify_image(tmp_path / "gone.E01")
    assert missing.result == "unreadable" and missing.error
