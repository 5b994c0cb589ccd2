"""Camera-RAW-shaped files around a drawn JPEG preview, for the RAW preview tests.

No sensor data: each builder lays out the container the way the camera does (offsets, boxes,
directories) with filler where the raw data would be, and puts a JPEG of drawn shapes where the
camera's preview goes. Content is benign by construction.
"""

from __future__ import annotations

import struct

from support.hostile_media import drawn, encode

PREVIEW_SIZE = (160, 120)


def preview_jpeg(seed: int = 11) -> bytes:
    return encode(drawn(seed, PREVIEW_SIZE), "JPEG", quality=90)


def _entry(tag: int, typ: int, count: int, value: int) -> bytes:
    return struct.pack("<HHII", tag, typ, count, value)


def tiff_raw(jpeg: bytes, make: bytes = b"NIKON CORPORATION\0", dng: bool = False) -> bytes:
    """IFD0 (Make, a tiny uncompressed thumbnail's tags, SubIFDs) -> SubIFD 1 holding the JPEG
    preview as JPEGInterchangeFormat, SubIFD 2 the (filler) raw data, compression 34713 (NEF)."""
    raw_data = b"\x5a" * 512
    # layout: header(8) | IFD0 | SubIFD1 | SubIFD2 | make | subifd offsets | jpeg | raw
    ifd0_count = 4 + (1 if dng else 0)
    ifd0_at = 8
    sub1_at = ifd0_at + 2 + 12 * ifd0_count + 4
    sub2_at = sub1_at + 2 + 12 * 3 + 4
    make_at = sub2_at + 2 + 12 * 4 + 4
    offsets_at = make_at + len(make)
    jpeg_at = offsets_at + 8
    raw_at = jpeg_at + len(jpeg)
    ifd0 = [
        _entry(0x00FE, 4, 1, 1),
        _entry(0x010F, 2, len(make), make_at),
        _entry(0x0103, 3, 1, 1),
        _entry(0x014A, 4, 2, offsets_at),
    ]
    if dng:
        ifd0.append(_entry(0xC612, 1, 4, 0x00000401))
    sub1 = [
        _entry(0x0103, 3, 1, 6),
        _entry(0x0201, 4, 1, jpeg_at),
        _entry(0x0202, 4, 1, len(jpeg)),
    ]
    sub2 = [
        _entry(0x0103, 3, 1, 34713),
        _entry(0x0106, 3, 1, 32803),
        _entry(0x0111, 4, 1, raw_at),
        _entry(0x0117, 4, 1, len(raw_data)),
    ]

    def ifd(entries: list[bytes]) -> bytes:
        return struct.pack("<H", len(entries)) + b"".join(sorted(entries)) + b"\0\0\0\0"

    out = b"II*\0" + struct.pack("<I", ifd0_at) + ifd(ifd0) + ifd(sub1) + ifd(sub2)
    out += make + struct.pack("<II", sub1_at, sub2_at) + jpeg + raw_data
    assert len(out) == raw_at + len(raw_data)
    return out


def raf(jpeg: bytes) -> bytes:
    """Fujifilm's header: magic, version, camera id and name, then the JPEG's offset and length."""
    head = b"FUJIFILMCCD-RAW 0201FF383501" + b"DrawCam".ljust(32, b"\0")
    head = head.ljust(84, b"\0")
    jpeg_at = 84 + 8 + 64
    head += struct.pack(">II", jpeg_at, len(jpeg))
    head = head.ljust(jpeg_at, b"\0")
    return head + jpeg + b"\x33" * 256


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def cr3(jpeg: bytes) -> bytes:
    """ftyp 'crx ', moov with Canon's metadata uuid (CMT1 = IFD0 with Make), then the preview
    uuid box holding PRVW, then mdat with filler."""
    make = b"Canon\0"
    ifd0 = struct.pack("<H", 1) + _entry(0x010F, 2, len(make), 26) + b"\0\0\0\0" + make
    cmt1 = b"II*\0" + struct.pack("<I", 8) + ifd0
    when = b"2024:05:06 07:08:09\0"
    exif_ifd = struct.pack("<H", 1) + _entry(0x9003, 2, len(when), 26) + b"\0\0\0\0" + when
    cmt2 = b"II*\0" + struct.pack("<I", 8) + exif_ifd
    meta_uuid = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
    meta = meta_uuid + _box(b"CMT1", cmt1) + _box(b"CMT2", cmt2)
    moov = _box(b"moov", _box(b"uuid", meta))
    prvw_body = struct.pack(">IHHHHI", 0, 1, *PREVIEW_SIZE, 0, len(jpeg)) + jpeg
    prvw_uuid = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")
    preview = _box(b"uuid", prvw_uuid + b"\0" * 8 + _box(b"PRVW", prvw_body))
    ftyp = _box(b"ftyp", b"crx \0\0\0\1crx isom")
    return ftyp + moov + preview + _box(b"mdat", b"\x77" * 512)


def x3f(jpeg: bytes) -> bytes:
    """FOVb header, an IMA2 section holding a JPEG preview, the SECd directory at the end."""
    header = b"FOVb" + struct.pack("<I", 0x00020003) + b"\0" * 24
    section = b"SECi" + struct.pack("<IIIIII", 0x00020000, 2, 18, *PREVIEW_SIZE, 0) + jpeg
    section_at = len(header)
    directory_at = section_at + len(section)
    directory = b"SECd" + struct.pack("<II", 0x00020000, 1)
    directory += struct.pack("<II4s", section_at, len(section), b"IMA2")
    return header + section + directory + struct.pack("<I", directory_at)


def crw(jpeg: bytes) -> bytes:
    """CIFF: the 26-byte header, then one heap holding the JPEG record (tag 0x2007)."""
    header = b"II" + struct.pack("<I", 26) + b"HEAPCCDR" + b"\0" * 12
    table = struct.pack("<H", 1) + struct.pack("<HII", 0x2007, len(jpeg), 0)
    heap = jpeg + table + struct.pack("<I", len(jpeg))
    return header + heap
