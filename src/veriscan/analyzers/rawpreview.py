"""The JPEG preview a camera embeds in its RAW file, found by walking the container.

Decoding sensor data needs a RAW developer (LibRaw) and gives a picture that depends on its
settings; every camera RAW format already carries a JPEG preview rendered by the camera. That
preview is what veriscan thumbnails, hashes (PDQ) and shows the detector, and every fact taken
from it is marked as such. Only offsets are read here, all bounds-checked; the JPEG itself goes to
the same guarded Pillow decode as any other image.

Layouts: TIFF-based RAWs (CR2, NEF, ARW, DNG, PEF, SRW, ORF, RW2) keep JPEGs in IFDs and
SubIFDs (strips, JPEGInterchangeFormat, Panasonic's JpgFromRaw); CR3 is ISOBMFF with a PRVW box;
RAF has a fixed header with the JPEG's offset; X3F lists an IMA2 section in a directory at the
end; CRW is a CIFF heap with a JPEG record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from veriscan.analyzers import tiffwalk

SOI = b"\xff\xd8\xff"
MIN_JPEG = 128

RAW_MIMES: dict[str, str] = {
    "image/x-canon-cr2": "CR2",
    "image/x-canon-cr3": "CR3",
    "image/x-canon-crw": "CRW",
    "image/x-fuji-raf": "RAF",
    "image/x-sigma-x3f": "X3F",
    "image/x-olympus-orf": "ORF",
    "image/x-panasonic-rw2": "RW2",
}
"""RAW formats with a signature of their own; the other TIFF-based ones are sniffed as TIFF."""

_RAW_COMPRESSION = frozenset({7, 32767, 32769, 32770, 32772, 34316, 34713, 34892, 65535})
_CFA_PHOTOMETRIC = frozenset({32803, 34892})
_MAKER_KINDS = {"NIKON": "NEF", "SONY": "ARW", "PENTAX": "PEF", "RICOH": "PEF", "SAMSUNG": "SRW"}

CR3_BOXES = frozenset({b"moov", b"uuid", b"trak", b"mdia", b"minf", b"stbl"})
CR3_PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")
CR3_META_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")


@dataclass
class RawPreview:
    """What the container holds: its kind, candidate JPEGs (largest first), the camera's own
    TIFF-structured metadata blocks, and structural defects in fixed wording."""

    kind: str
    jpegs: list[bytes] = field(default_factory=list)
    tiff_blocks: list[bytes] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def raw_kind_of_tiff(data: bytes) -> str | None:
    """The RAW format of a TIFF-structured file, or None for an ordinary TIFF picture."""
    if data[8:10] == b"CR" and data[:4] == b"II*\0":
        return "CR2"
    tree = tiffwalk.walk(data)
    if tree.first(0xC612) is not None:
        return "DNG"
    raw = False
    for directory in tree.directories:
        compression = tiffwalk.value(data, directory.entries.get(0x0103), tree.order)
        photometric = tiffwalk.value(data, directory.entries.get(0x0106), tree.order)
        raw |= compression in _RAW_COMPRESSION or photometric in _CFA_PHOTOMETRIC
    if not raw:
        return None
    make = tiffwalk.text(data, tree.first(0x010F)).upper()
    return next((kind for maker, kind in _MAKER_KINDS.items() if maker in make), "RAW")


def find_preview(data: bytes, kind: str) -> RawPreview:
    if kind == "CR3":
        found = _cr3(data)
    elif kind == "RAF":
        found = _raf(data)
    elif kind == "X3F":
        found = _x3f(data)
    elif kind == "CRW":
        found = _crw(data)
    else:
        found = _tiff(data, kind)
    found.jpegs = sorted({j for j in found.jpegs if _plausible(j)}, key=len, reverse=True)
    return found


def _plausible(jpeg: bytes) -> bool:
    return len(jpeg) >= MIN_JPEG and jpeg.startswith(SOI)


def _tiff(data: bytes, kind: str) -> RawPreview:
    fixed = data
    if data[:4] in (b"IIRO", b"IIRS", b"IIU\0"):
        fixed = b"II*\0" + data[4:]
    elif data[:4] == b"MMOR":
        fixed = b"MM\0*" + data[4:]
    tree = tiffwalk.walk(fixed)
    found = RawPreview(kind, tiff_blocks=[fixed], defects=list(tree.defects))
    order = tree.order
    for directory in tree.directories:
        entries = directory.entries
        found.jpegs.append(tiffwalk.blob(data, entries.get(0x002E)))  # Panasonic JpgFromRaw
        start = tiffwalk.value(data, entries.get(0x0201), order)
        length = tiffwalk.value(data, entries.get(0x0202), order)
        if start is not None and length is not None:
            found.jpegs.append(data[start : start + length])
        compression = tiffwalk.value(data, entries.get(0x0103), order)
        strips = tiffwalk.longs(data, entries[0x0111], order) if 0x0111 in entries else []
        counts = tiffwalk.longs(data, entries[0x0117], order) if 0x0117 in entries else []
        if compression in (6, 7) and len(strips) == 1 and len(counts) == 1:
            found.jpegs.append(data[strips[0] : strips[0] + counts[0]])
    return found


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the ISOBMFF boxes between ``start`` and ``end``."""
    boxes: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end and len(boxes) < 256:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        boxes.append((kind, pos + header, pos + size))
        pos += size
    return boxes


def _cr3(data: bytes) -> RawPreview:
    """Canon keeps IFD0 in CMT1, the EXIF directory in CMT2 and GPS in CMT4, each a whole TIFF."""
    found = RawPreview("CR3")
    blocks: dict[bytes, bytes] = {}
    stack = [(0, len(data), 0)]
    while stack:
        start, end, depth = stack.pop()
        for kind, body, box_end in _boxes(data, start, end):
            if kind == b"uuid" and data[body : body + 16] == CR3_PREVIEW_UUID:
                stack.append((body + 16 + 8, box_end, depth + 1))  # 8 bytes of unknown use
            elif kind == b"uuid" and data[body : body + 16] == CR3_META_UUID:
                stack.append((body + 16, box_end, depth + 1))
            elif kind in (b"PRVW", b"THMB"):
                jpeg_at = data.find(SOI, body, box_end)
                if jpeg_at >= 0:
                    found.jpegs.append(data[jpeg_at:box_end])
            elif kind in (b"CMT1", b"CMT2", b"CMT4"):
                blocks.setdefault(kind, data[body:box_end])
            elif kind in CR3_BOXES and depth < 8:
                stack.append((body, box_end, depth + 1))
    if b"CMT1" in blocks:
        found.tiff_blocks = [blocks.get(kind, b"") for kind in (b"CMT1", b"CMT2", b"CMT4")]
    if not found.jpegs and not found.tiff_blocks:
        found.defects.append("no CR3 preview or metadata box found")
    return found


def _raf(data: bytes) -> RawPreview:
    found = RawPreview("RAF")
    if len(data) >= 92:
        start, length = struct.unpack_from(">II", data, 84)
        found.jpegs.append(data[start : start + length])
    return found


def _x3f(data: bytes) -> RawPreview:
    found = RawPreview("X3F")
    if len(data) < 12:
        return found
    directory = struct.unpack_from("<I", data, len(data) - 4)[0]
    if data[directory : directory + 4] != b"SECd":
        found.defects.append("X3F section directory missing")
        return found
    count = min(struct.unpack_from("<I", data, directory + 8)[0], 256)
    for i in range(count):
        at = directory + 12 + 12 * i
        if at + 12 > len(data):
            break
        offset, length, kind = struct.unpack_from("<II4s", data, at)
        section = data[offset : offset + length]
        if kind in (b"IMA2", b"IMAG") and section[:4] == b"SECi" and len(section) > 28:
            image_type, data_format = struct.unpack_from("<II", section, 8)
            if image_type == 2 and data_format == 18:  # a preview, stored as JPEG
                found.jpegs.append(section[28:])
    return found


def _crw(data: bytes) -> RawPreview:
    found = RawPreview("CRW")
    if len(data) < 26:
        return found
    start = struct.unpack_from("<I", data, 2)[0]
    stack = [(start, len(data), 0)]
    while stack:
        heap_start, heap_end, depth = stack.pop()
        if heap_end - heap_start < 6 or heap_end > len(data):
            continue
        table = heap_start + struct.unpack_from("<I", data, heap_end - 4)[0]
        if table + 2 > heap_end:
            found.defects.append("CIFF directory offset outside its heap")
            continue
        count = min(struct.unpack_from("<H", data, table)[0], 1024)
        for i in range(count):
            at = table + 2 + 10 * i
            if at + 10 > heap_end:
                break
            tag, size, offset = struct.unpack_from("<HII", data, at)
            begin = heap_start + offset
            if tag & 0xC000 or begin + size > heap_end:
                continue
            if tag & 0x3FFF == 0x2007:
                found.jpegs.append(data[begin : begin + size])
            elif (tag >> 8) & 0x38 in (0x28, 0x30) and depth < 8:
                stack.append((begin, begin + size, depth + 1))
    return found
