"""Hostile inputs made in the tests: zips written byte by byte, odd file names, tars with raw names.

``zipfile`` cannot write Deflate64, zstd or PPMd members, mismatched local and central names or
an empty name, so :func:`raw_zip` lays out local headers and the central directory by hand.
"""

from __future__ import annotations

import io
import lzma
import os
import random
import struct
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import inflate64
import pyppmd

try:
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    from backports import zstd

STORED, DEFLATE64, ZSTD, XZ, PPMD, IMPLODE, WAVPACK = 0, 9, 93, 95, 98, 6, 97
UTF8_FLAG = 0x800
_PPMD_ORDER, _PPMD_MEM_MB = 6, 16


@dataclass
class RawMember:
    """One member as it will sit in the file: ``data`` is already compressed with ``method``."""

    name: bytes
    data: bytes
    size: int
    crc: int
    method: int = STORED
    flags: int = 0
    local_name: bytes | None = None


def compress(content: bytes, method: int) -> bytes:
    """Content compressed as a zip member of ``method`` holds it (junk for undecodable methods)."""
    if method == STORED:
        return content
    if method == DEFLATE64:
        deflater = inflate64.Deflater()
        return bytes(deflater.deflate(content)) + bytes(deflater.flush())
    if method == ZSTD:
        return bytes(zstd.compress(content))
    if method == XZ:
        return lzma.compress(content, lzma.FORMAT_XZ)
    if method == PPMD:
        params = (_PPMD_ORDER - 1) | ((_PPMD_MEM_MB - 1) << 4)  # restore method 0
        encoder = pyppmd.Ppmd8Encoder(_PPMD_ORDER, _PPMD_MEM_MB << 20, 0)
        return struct.pack("<H", params) + encoder.encode(content) + encoder.flush()
    return b"\x5a" * max(len(content) // 2, 1)


def member(name: str | bytes, content: bytes, method: int = STORED, **kw: object) -> RawMember:
    raw = name.encode("utf-8") if isinstance(name, str) else name
    flags = UTF8_FLAG if isinstance(name, str) and not name.isascii() else 0
    fields: dict[str, object] = {"flags": flags, **kw}
    return RawMember(
        raw,
        compress(content, method),
        len(content),
        zlib.crc32(content),
        method,
        **fields,  # type: ignore[arg-type]
    )


def raw_zip(members: list[RawMember]) -> bytes:
    out = io.BytesIO()
    central: list[bytes] = []
    for m in members:
        offset = out.tell()
        local = m.name if m.local_name is None else m.local_name
        out.write(
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.data),
                m.size,
                len(local),
                0,
            )
        )
        out.write(local + m.data)
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.data),
                m.size,
                len(m.name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + m.name
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(
        struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0
        )
    )
    return out.getvalue()


def method_zips() -> dict[str, tuple[bytes, bytes]]:
    """Zips of one member each, by the method it uses, with the content it must yield."""
    content = b"veriscan benign test content\n" * 200
    return {
        name: (raw_zip([member("member.txt", content, method)]), content)
        for name, method in (
            ("deflate64", DEFLATE64),
            ("zstd", ZSTD),
            ("xz", XZ),
            ("ppmd", PPMD),
        )
    }


def unsupported_zip() -> bytes:
    """One member in Implode (PKZIP 1) and one in WavPack, beside a readable one."""
    return raw_zip(
        [
            member("old.txt", b"imploded long ago\n", IMPLODE),
            member("sound.wav", b"RIFF....WAVE", WAVPACK),
            member("ok.txt", b"fine\n"),
        ]
    )


def bad_ppmd_zip() -> bytes:
    """A PPMd member whose parameter header asks for restore method 3: it fails when opened."""
    bad = member("params.txt", b"benign\n", PPMD)
    bad.data = struct.pack("<H", (_PPMD_ORDER - 1) | (3 << 12)) + bad.data[2:]
    return raw_zip([bad])


def mismatch_zip() -> bytes:
    return raw_zip(
        [member("central.txt", b"what the central entry points to\n", local_name=b"local.txt")]
    )


def empty_name_zip() -> bytes:
    return raw_zip([member(b"", b"nameless\n"), member("named.txt", b"named\n")])


def odd_name_zip() -> bytes:
    """cp437 bytes (no UTF-8 flag), a NUL, a newline and the locator separator in member names."""
    return raw_zip(
        [
            member(b"caf\x82.txt", b"cp437\n"),
            member(b"nul\x00.txt", b"nul\n"),
            member(b"new\nline.txt", b"newline\n"),
            member(b"wow!/x.txt", b"sep\n"),
        ]
    )


def false_utf8_zip() -> bytes:
    """Names flagged UTF-8 that are not (Latin-1 bytes), beside a true UTF-8 name."""
    return raw_zip(
        [
            member(b"caf\xe9.txt", b"latin-1 name\n", flags=UTF8_FLAG),
            member("na\u00efve.txt", b"utf-8 name\n"),
        ]
    )


def tar_with_names(names: list[bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for raw in names:
            info = tarfile.TarInfo(os.fsdecode(raw))
            data = b"tar member " + raw
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


HOSTILE_FILE_NAMES: tuple[bytes, ...] = (
    b"caf\xe9.jpg",
    b"\xff\xfe\xfd",
    b"\xc3",
    b"q.zip!",
    b"!",
    b"!!",
    b"a!b",
    b"%",
    b"%41",
    b"%2",
    b"%25",
    b"100%.txt",
    b"back\\slash",
    b"new\nline",
    b"tab\there",
    b"cr\rname",
    b"bell\x07",
    b"del\x7f",
    b"\xe2\x80\xaegpj.exe",
    b"...",
    b"..a",
    b" lead",
    b"trail ",
    b"#2",
    b"unnamed",
    "caf\u00e9.jpg".encode(),
    "\u65e5\u672c.png".encode(),
    b"x" * 255,
)
"""Names a POSIX folder can hold; '/', NUL, '', '.' and '..' are exercised through archives."""


def random_names(count: int, seed: int = 15) -> list[bytes]:
    """Random byte names weighted towards the characters the escape treats specially."""
    rng = random.Random(seed)
    alphabet = [*b"%!/\\.#_ \n\x00\x7fAfz09", 0x80, 0xC3, 0xA9, 0xE2, 0xFF, 0xDC]
    names = []
    for _ in range(count):
        length = rng.randint(1, 12)
        names.append(
            bytes(
                rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256)
                for _ in range(length)
            )
        )
    return names


def make_hostile_folder(root: Path) -> list[bytes]:
    """Files with every hostile name, plus the folder that reads like an archive locator."""
    root.mkdir(parents=True, exist_ok=True)
    broot = os.fsencode(root)
    for raw in HOSTILE_FILE_NAMES:
        with open(os.path.join(broot, raw), "wb") as f:
            f.write(b"benign bytes of " + raw)
    clash = root / "p.zip!"
    clash.mkdir()
    (clash / "a.txt").write_bytes(b"the folder's file\n")
    (root / "p.zip").write_bytes(raw_zip([member("a.txt", b"the archive's member\n")]))
    return [*HOSTILE_FILE_NAMES, b"p.zip!/a.txt", b"p.zip"]
