"""Carving JPEG, PNG, GIF and WebP files out of raw bytes, such as a disk's unallocated space.

A signature only nominates a candidate; a file is reported only when its whole structure walks
cleanly (JPEG markers, PNG chunks with their CRCs, GIF blocks, WebP's RIFF chunks). Header/footer
matching would report fragments and concatenations as files, and an examiner cannot tell such a
splice from a real file once it is exported, so a candidate that does not validate is dropped.

Memory stays bounded whatever the region's size: one scan window plus one validation block. All
reads go through the caller's ``read_at``; an exception it raises is an I/O fault on the evidence
and propagates, while anything that goes wrong with the data itself only rejects the candidate.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

ReadAt = Callable[[int, int], bytes]

_EXTENSIONS: Final = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}

# GIF87a/GIF89a share one search: each find is a pass over the window, and the validator checks
# the version anyway.
_SIGNATURES: Final = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF8", "gif"),
    (b"RIFF", "webp"),
)
_OVERLAP: Final = max(len(sig) for sig, _ in _SIGNATURES) - 1
_BLOCK: Final = 256 << 10
# Wiped or trimmed space reads as zeros, and no signature holds a zero byte: all-zero blocks are
# dropped with one memcmp each before the (much slower) signature searches run.
_ZERO_BLOCK: Final = 4096
_ZEROS: Final = bytes(_ZERO_BLOCK)

# In entropy-coded data FF 00 is a stuffed byte, FF D0-D7 a restart marker and FF FF fill before
# a marker; any other FF xx ends the scan. A regex finds that in C rather than a Python byte loop;
# bytes.find gets to the first FF before it, far faster across zero runs.
_SCAN_END: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE: Final = frozenset(range(0xD0, 0xD8)) | {0x01}


@dataclass(frozen=True)
class Carved:
    """A validated file; ``offset`` is relative to the start of the carved region."""

    offset: int
    length: int
    kind: str

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.kind]


class _StructureError(Exception):
    """The candidate's structure does not hold."""


class _Reader:
    """Bounded random access for one candidate's walk.

    Reads go in blocks so a multi-megabyte file costs a few hundred ``read_at`` calls, not one per
    marker, and never past ``limit`` (region end or ``max_file_bytes``): a file that would need
    bytes beyond it is rejected. ``reading`` is set only while ``read_at`` runs, so the caller can
    tell an I/O fault (propagates) from malformed data (rejects).
    """

    def __init__(self, read_at: ReadAt, limit: int, base: int, buf: bytes) -> None:
        self._read_at = read_at
        self.limit = limit
        self._base = base
        self._buf = buf
        self.reading = False

    def _ensure(self, off: int, n: int) -> None:
        if self._base <= off and off + n <= self._base + len(self._buf):
            return
        if off < 0 or off + n > self.limit:
            raise _StructureError
        self.reading = True
        data = self._read_at(off, min(max(n, _BLOCK), self.limit - off))
        self.reading = False
        if len(data) < n:
            raise _StructureError
        self._base, self._buf = off, data

    def take(self, off: int, n: int) -> bytes:
        if off + n > self.limit:
            raise _StructureError
        self._ensure(off, n)
        start = off - self._base
        return self._buf[start : start + n]

    def byte(self, off: int) -> int:
        if off >= self.limit:
            raise _StructureError
        self._ensure(off, 1)
        return self._buf[off - self._base]

    def crc32(self, off: int, n: int) -> int:
        """CRC over a range in blocks, so a huge PNG chunk never sits in memory whole."""
        end = off + n
        if end > self.limit:
            raise _StructureError
        crc = 0
        while off < end:
            part = self.take(off, min(end - off, _BLOCK))
            crc = zlib.crc32(part, crc)
            off += len(part)
        return crc

    def scan_end(self, off: int) -> int:
        """Offset of the marker that ends entropy-coded data starting at ``off``."""
        while True:
            if off + 2 > self.limit:
                raise _StructureError
            self._ensure(off, 2)
            stop = min(len(self._buf), self.limit - self._base)
            first_ff = self._buf.find(b"\xff", off - self._base, stop)
            found = None if first_ff < 0 else _SCAN_END.search(self._buf, first_ff, stop)
            if found is not None:
                return self._base + found.start()
            # The last byte may be the FF of a marker split across blocks: look at it again.
            off = self._base + stop - 1
            if off + 2 > self.limit:
                raise _StructureError
            self._base, self._buf = off, b""


def _u16be(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _jpeg(r: _Reader, start: int) -> int:
    """Marker walk; the file ends at the EOI that follows at least one SOF and one SOS."""
    p = start + 2
    seen_sof = seen_sos = False
    while True:
        if r.byte(p) != 0xFF:
            raise _StructureError
        marker = r.byte(p + 1)
        while marker == 0xFF:
            p += 1
            marker = r.byte(p + 1)
        p += 2
        if marker == 0xD9:
            if seen_sof and seen_sos:
                return p
            raise _StructureError
        if marker in _STANDALONE:
            continue
        if marker in (0x00, 0xD8):
            # A second SOI means we ran into another file: a truncated one must not swallow it.
            raise _StructureError
        length = _u16be(r.take(p, 2))
        if length < 2:
            raise _StructureError
        if marker in _SOF:
            head = r.take(p, 8)
            components = head[7]
            if components < 1 or length != 8 + 3 * components or _u16be(head[5:7]) == 0:
                raise _StructureError
            seen_sof = True
        elif marker == 0xDA:
            components = r.byte(p + 2)
            if not seen_sof or not 1 <= components <= 4 or length != 6 + 2 * components:
                raise _StructureError
            seen_sos = True
            p = r.scan_end(p + length)
            continue
        p += length
        if p > r.limit:
            raise _StructureError


def _png(r: _Reader, start: int) -> int:
    """Chunk walk with every CRC checked; IHDR first, the file ends after IEND."""
    p = start + 8
    first = True
    while True:
        head = r.take(p, 8)
        length, kind = int.from_bytes(head[:4], "big"), head[4:]
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _StructureError
        if first and (kind != b"IHDR" or length != 13):
            raise _StructureError
        first = False
        crc = r.crc32(p + 4, 4 + length)
        if crc != int.from_bytes(r.take(p + 8 + length, 4), "big"):
            raise _StructureError
        p += 12 + length
        if kind == b"IEND":
            return p


def _sub_blocks(r: _Reader, p: int) -> int:
    while True:
        n = r.byte(p)
        p += 1 + n
        if n == 0:
            return p


def _gif(r: _Reader, start: int) -> int:
    """Block walk to the trailer; at least one image, nothing but extensions and images."""
    if r.take(start + 4, 2) not in (b"7a", b"9a"):
        raise _StructureError
    p = start + 6
    flags = r.take(p, 7)[4]
    p += 7
    if flags & 0x80:
        p += 3 << ((flags & 7) + 1)
    images = 0
    while True:
        block = r.byte(p)
        p += 1
        if block == 0x3B:
            if images:
                return p
            raise _StructureError
        if block == 0x21:
            p = _sub_blocks(r, p + 1)
        elif block == 0x2C:
            flags = r.take(p, 9)[8]
            p += 9
            if flags & 0x80:
                p += 3 << ((flags & 7) + 1)
            if not 1 <= r.byte(p) <= 11:  # LZW minimum code size; codes stop at 12 bits
                raise _StructureError
            p = _sub_blocks(r, p + 1)
            images += 1
        else:
            raise _StructureError


def _webp(r: _Reader, start: int) -> int:
    """RIFF walk: the chunks must tile the declared size exactly, starting with an image chunk."""
    head = r.take(start, 12)
    riff_size = int.from_bytes(head[4:8], "little")
    if head[8:12] != b"WEBP" or riff_size < 12 or riff_size & 1:
        raise _StructureError
    end = start + 8 + riff_size
    if end > r.limit:
        raise _StructureError
    p = start + 12
    first = True
    while p < end:
        chunk = r.take(p, 8)
        fourcc, n = chunk[:4], int.from_bytes(chunk[4:], "little")
        if not all(0x20 <= c <= 0x7E for c in fourcc):
            raise _StructureError
        if first:
            _webp_first_chunk(r, fourcc, p + 8, n)
            first = False
        p += 8 + n + (n & 1)
    if p != end:
        raise _StructureError
    return end


def _webp_first_chunk(r: _Reader, fourcc: bytes, data: int, n: int) -> None:
    """The image chunk's own signature: cheap, and RIFF alone is a weak structure."""
    if fourcc == b"VP8 ":
        if n < 10 or r.take(data + 3, 3) != b"\x9d\x01\x2a":
            raise _StructureError
    elif fourcc == b"VP8L":
        if n < 5 or r.byte(data) != 0x2F:
            raise _StructureError
    elif fourcc != b"VP8X" or n != 10:
        raise _StructureError


_VALIDATORS: Final[dict[str, Callable[[_Reader, int], int]]] = {
    "jpeg": _jpeg,
    "png": _png,
    "gif": _gif,
    "webp": _webp,
}


def _validate(
    read_at: ReadAt, kind: str, start: int, limit: int, base: int, buf: bytes
) -> int | None:
    """End offset of a valid file at ``start``, or None; only ``read_at``'s own errors escape."""
    reader = _Reader(read_at, limit, base, buf)
    try:
        end = _VALIDATORS[kind](reader, start)
    except _StructureError:
        return None
    except Exception:
        # Malformed data must never stop a carve, but an I/O fault is the caller's to record.
        if reader.reading:
            raise
        return None
    return end if start < end <= limit else None


def _live_spans(buf: bytes) -> list[tuple[int, int]]:
    """Ranges of ``buf`` left once its all-zero blocks are dropped, adjacent ones merged.

    A signature has no zero byte, so it never overlaps a dropped block: each occurrence lies
    wholly inside one of these ranges.
    """
    spans: list[tuple[int, int]] = []
    for i in range(0, len(buf), _ZERO_BLOCK):
        block = buf[i : i + _ZERO_BLOCK]
        if block == (_ZEROS if len(block) == _ZERO_BLOCK else bytes(len(block))):
            continue
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + len(block))
        else:
            spans.append((i, i + len(block)))
    return spans


def _find(buf: bytes, sig: bytes, start: int, stop: int, live: list[tuple[int, int]]) -> int:
    for a, b in live:
        if a >= stop:
            break
        if b > start:
            found = buf.find(sig, max(a, start), min(b, stop))
            if found >= 0:
                return found
    return -1


def carve(
    read_at: ReadAt, size: int, *, max_file_bytes: int = 64 << 20, window: int = 4 << 20
) -> Iterator[Carved]:
    """Yields validated files in ascending offset order.

    Windows overlap by one signature length less one byte, and a signature is taken only when it
    starts inside its window proper, so one straddling a boundary is found exactly once. After a
    valid file the scan resumes at its end, so what a file embeds (an EXIF thumbnail) is not
    reported again as a file of its own; after a rejected candidate it resumes one byte on. A short
    read is taken as the end of the region.
    """
    if size < 0 or max_file_bytes < 1 or window < 1:
        raise ValueError("size must be >= 0, max_file_bytes and window >= 1")
    pos = 0
    while pos < size:
        want = min(window + _OVERLAP, size - pos)
        buf = read_at(pos, want)
        if len(buf) < want:
            size = pos + len(buf)
        if not buf:
            return
        span = min(window, len(buf)) if pos + len(buf) < size else len(buf)
        live = _live_spans(buf)
        bounds = [span + len(sig) - 1 for sig, _ in _SIGNATURES]
        hits = [
            _find(buf, sig, 0, b, live) for (sig, _), b in zip(_SIGNATURES, bounds, strict=True)
        ]
        resume = pos + span
        while True:
            pending = [h for h in hits if h >= 0]
            if not pending:
                break
            at = min(pending)
            kind = _SIGNATURES[hits.index(at)][1]
            start = pos + at
            limit = min(size, start + max_file_bytes)
            end = _validate(read_at, kind, start, limit, pos, buf)
            if end is not None:
                yield Carved(start, end - start, kind)
            cursor = (end if end is not None else start + 1) - pos
            if cursor >= span:
                resume = pos + cursor
                break
            hits = [
                h if h < 0 or h >= cursor else _find(buf, sig, cursor, b, live)
                for h, (sig, _), b in zip(hits, _SIGNATURES, bounds, strict=True)
            ]
        pos = resume
