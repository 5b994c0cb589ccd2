"""A minimal MBR/GPT reader for the images The Sleuth Kit refuses: truncated ones.

TSK rejects a partition table whose partitions end past the end of the image. A truncated
acquisition is still evidence: the partitions that are whole can be read, and the ones that are
cut must be reported with their offsets. Only the entries are read (no CHS, no attributes).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Final

from veriscan.sources.disk.media import Media

SECTOR: Final = 512
_EXTENDED: Final = frozenset({0x05, 0x0F, 0x85})
_PROTECTIVE: Final = 0xEE
_MAX_LOGICAL: Final = 128
_MAX_GPT_ENTRIES: Final = 1024


@dataclass(frozen=True)
class Entry:
    start: int
    length: int
    description: str


def _mbr_entries(sector: bytes) -> list[tuple[int, int, int]]:
    out = []
    for i in range(4):
        raw = sector[446 + 16 * i : 462 + 16 * i]
        status, ptype = raw[0], raw[4]
        lba, count = struct.unpack_from("<II", raw, 8)
        if status in (0x00, 0x80) and ptype and count and lba:
            out.append((ptype, lba, count))
    return out


def _logical(media: Media, ext_start: int) -> list[Entry]:
    out: list[Entry] = []
    ebr_lba = ext_start
    for _ in range(_MAX_LOGICAL):
        sector = media.read(ebr_lba * SECTOR, SECTOR)
        if len(sector) < SECTOR or sector[510:512] != b"\x55\xaa":
            break
        entries = _mbr_entries(sector)
        nxt = None
        for ptype, lba, count in entries:
            if ptype in _EXTENDED:
                nxt = ext_start + lba
            else:
                out.append(
                    Entry((ebr_lba + lba) * SECTOR, count * SECTOR, f"MBR type {ptype:#04x}")
                )
        if nxt is None or nxt == ebr_lba:
            break
        ebr_lba = nxt
    return out


def _gpt(media: Media) -> list[Entry]:
    header = media.read(SECTOR, 92)
    if header[:8] != b"EFI PART":
        return []
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    if size < 128 or count > _MAX_GPT_ENTRIES:
        return []
    table = media.read(entries_lba * SECTOR, count * size)
    out: list[Entry] = []
    for i in range(len(table) // size):
        raw = table[i * size : (i + 1) * size]
        if raw[:16] == bytes(16):
            continue
        first, last = struct.unpack_from("<QQ", raw, 32)
        name = raw[56:128].decode("utf-16-le", "replace").rstrip("\x00")
        kind = uuid.UUID(bytes_le=raw[:16])
        label = f"GPT {name!r} type {kind}" if name else f"GPT type {kind}"
        out.append(Entry(first * SECTOR, (last - first + 1) * SECTOR, label))
    return out


def read_table(media: Media) -> list[Entry]:
    """Partitions listed by the MBR (with logical ones) or by the GPT it protects."""
    sector = media.read(0, SECTOR)
    if len(sector) < SECTOR or sector[510:512] != b"\x55\xaa":
        return []
    entries = _mbr_entries(sector)
    if any(ptype == _PROTECTIVE for ptype, _, _ in entries):
        return _gpt(media)
    out: list[Entry] = []
    for ptype, lba, count in entries:
        if ptype in _EXTENDED:
            out.extend(_logical(media, lba))
        else:
            out.append(Entry(lba * SECTOR, count * SECTOR, f"MBR type {ptype:#04x}"))
    return out
