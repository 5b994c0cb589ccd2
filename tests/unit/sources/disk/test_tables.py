"""The fallback partition-table reader, on tables written byte by byte."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

from veriscan.sources.disk.media import RawMedia
from veriscan.sources.disk.tables import SECTOR, read_table


def _mbr(entries: list[tuple[int, int, int]], status: int = 0) -> bytes:
    sector = bytearray(SECTOR)
    for i, (ptype, lba, count) in enumerate(entries):
        struct.pack_into("<B3sB3sII", sector, 446 + 16 * i, status, b"", ptype, b"", lba, count)
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def _media(tmp_path: Path, data: bytes) -> RawMedia:
    path = tmp_path / "t.img"
    path.write_bytes(data)
    return RawMedia([path])


def test_mbr_primary_and_logical_partitions(tmp_path: Path) -> None:
    disk = bytearray(64 * SECTOR)
    disk[:SECTOR] = _mbr([(0x0C, 2, 10), (0x05, 20, 40)])
    disk[20 * SECTOR : 21 * SECTOR] = _mbr([(0x83, 2, 8), (0x05, 15, 20)])
    disk[35 * SECTOR : 36 * SECTOR] = _mbr([(0x07, 1, 5)])
    with _media(tmp_path, bytes(disk)) as media:
        entries = read_table(media)
    assert [(e.start // SECTOR, e.length // SECTOR) for e in entries] == [(2, 10), (22, 8), (36, 5)]
    assert entries[1].description == "MBR type 0x83"


def test_gpt_entries_are_read_past_the_protective_mbr(tmp_path: Path) -> None:
    disk = bytearray(40 * SECTOR)
    disk[:SECTOR] = _mbr([(0xEE, 1, 39)])
    header = bytearray(92)
    header[:8] = b"EFI PART"
    struct.pack_into("<QII", header, 72, 2, 4, 128)
    disk[SECTOR : SECTOR + 92] = header
    kind = uuid.UUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7")
    entry = bytearray(128)
    entry[:16] = kind.bytes_le
    struct.pack_into("<QQ", entry, 32, 34, 1000)
    entry[56 : 56 + 8] = "DATA".encode("utf-16-le")
    disk[2 * SECTOR : 2 * SECTOR + 128] = entry
    with _media(tmp_path, bytes(disk)) as media:
        (only,) = read_table(media)
    assert only.start == 34 * SECTOR and only.length == 967 * SECTOR  # beyond the image: truncated
    assert "DATA" in only.description and str(kind) in only.description


def test_boot_code_is_not_taken_for_partition_entries(tmp_path: Path) -> None:
    vbr = bytearray(_mbr([(0x0C, 2, 10)], status=0x4F))  # a status byte no MBR uses
    with _media(tmp_path, bytes(vbr) + bytes(SECTOR)) as media:
        assert read_table(media) == []
    with _media(tmp_path, bytes(2 * SECTOR)) as media:
        assert read_table(media) == []
