"""A bounded walk over TIFF image file directories (IFDs), for EXIF checks and RAW previews.

EXIF blocks and most camera RAW files (CR2, NEF, ARW, DNG, PEF, SRW, ORF, RW2) are TIFF
structures: directories of tagged entries, linked in chains and sub-directories by offsets. A
hostile file can make those offsets loop, point outside the file or claim millions of entries.
This walk reads only what it needs, refuses loops and out-of-range offsets, caps how many
directories and entries it reads, and reports each defect in fixed forensic wording.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAX_IFDS = 64
MAX_ENTRIES = 4096
"""No real directory comes near this (cameras write a few hundred tags at most)."""

SUBIFDS = 0x014A
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
_CHILD_TAGS = (SUBIFDS, EXIF_IFD, GPS_IFD)
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


@dataclass
class Entry:
    tag: int
    type: int
    count: int
    value_at: int
    """Where the value starts: inside the entry when it fits in four bytes, else its offset."""


@dataclass
class Directory:
    offset: int
    entries: dict[int, Entry] = field(default_factory=dict)


@dataclass
class TiffWalk:
    order: str
    directories: list[Directory] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    """Fixed wordings such as "IFD loop"; empty for a well-formed structure. Vendor quirks that
    readers tolerate (unknown entry types, a sub-directory's link field reused for data) are not
    defects."""

    def first(self, tag: int) -> Entry | None:
        for directory in self.directories:
            if tag in directory.entries:
                return directory.entries[tag]
        return None


def header_order(data: bytes) -> str | None:
    """``<`` or ``>`` from the byte-order mark; None when ``data`` is not TIFF-like at all."""
    if data[:2] == b"II":
        return "<"
    if data[:2] == b"MM":
        return ">"
    return None


def walk(data: bytes, first: int | None = None) -> TiffWalk:
    """Every directory reachable from the header (or from ``first``): the IFD chain, SubIFDs and
    the EXIF and GPS directories, each read once."""
    order = header_order(data) or "<"
    result = TiffWalk(order)
    if header_order(data) is None or len(data) < 8:
        result.defects.append("not a TIFF structure")
        return result
    start = struct.unpack_from(order + "I", data, 4)[0] if first is None else first
    queue = [(start, True)]
    seen: set[int] = set()
    while queue:
        offset, chained = queue.pop(0)
        if offset == 0:
            continue
        if offset in seen:
            _note(result, "IFD loop")
            continue
        if len(seen) >= MAX_IFDS:
            _note(result, f"more than {MAX_IFDS} directories")
            break
        seen.add(offset)
        directory, next_offset = _read(data, offset, order, result)
        if directory is None:
            continue
        result.directories.append(directory)
        for tag in _CHILD_TAGS:
            entry = directory.entries.get(tag)
            if entry is not None:
                queue.extend((child, False) for child in longs(data, entry, order)[:MAX_IFDS])
        if chained:  # writers often let a sub-directory's link field overlap the next value
            queue.append((next_offset, True))
    return result


def _note(result: TiffWalk, defect: str) -> None:
    if defect not in result.defects:
        result.defects.append(defect)


def _read(data: bytes, offset: int, order: str, result: TiffWalk) -> tuple[Directory | None, int]:
    if offset + 2 > len(data) or offset < 8:
        _note(result, "directory offset outside the block")
        return None, 0
    count = struct.unpack_from(order + "H", data, offset)[0]
    if count > MAX_ENTRIES or offset + 2 + 12 * count > len(data):
        _note(result, "directory entry count larger than the block")
        count = min(count, MAX_ENTRIES, (len(data) - offset - 2) // 12)
    directory = Directory(offset)
    for i in range(count):
        at = offset + 2 + 12 * i
        tag, typ, n = struct.unpack_from(order + "HHI", data, at)
        size = _SIZES.get(typ, 1) * n
        value_at = at + 8 if size <= 4 else struct.unpack_from(order + "I", data, at + 8)[0]
        if typ in _SIZES and value_at + size > len(data):
            _note(result, "entry value count larger than the block")
            continue
        directory.entries[tag] = Entry(tag, typ, n, value_at)
    link_at = offset + 2 + 12 * count
    next_offset = 0
    if link_at + 4 <= len(data):
        next_offset = struct.unpack_from(order + "I", data, link_at)[0]
    return directory, next_offset


def longs(data: bytes, entry: Entry, order: str) -> list[int]:
    """The entry's values as integers (SHORT or LONG entries; anything else gives none)."""
    code = {3: "H", 4: "I", 13: "I"}.get(entry.type)
    if code is None or entry.count > MAX_ENTRIES:
        return []
    try:
        return list(struct.unpack_from(f"{order}{entry.count}{code}", data, entry.value_at))
    except struct.error:
        return []


def value(data: bytes, entry: Entry | None, order: str) -> int | None:
    values = longs(data, entry, order) if entry is not None else []
    return values[0] if values else None


def text(data: bytes, entry: Entry | None) -> str:
    if entry is None or entry.type != 2:
        return ""
    raw = data[entry.value_at : entry.value_at + min(entry.count, 256)]
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def blob(data: bytes, entry: Entry | None) -> bytes:
    """An UNDEFINED or BYTE entry's bytes (an embedded JPEG, a maker's block)."""
    if entry is None or entry.type not in (1, 7):
        return b""
    return data[entry.value_at : entry.value_at + entry.count]


def exif_defects(exif_block: bytes) -> list[str]:
    """Defects of an EXIF block (``Exif\\0\\0`` prefix optional), worded for the examiner."""
    tiff = exif_block[6:] if exif_block.startswith(b"Exif\0\0") else exif_block
    return [f"EXIF block malformed: {defect}" for defect in walk(tiff).defects]
