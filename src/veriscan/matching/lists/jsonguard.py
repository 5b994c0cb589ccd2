"""A byte-level guard in front of the VICS JSON parser: every record is bounded before yajl.

A hostile VICS file can be small and still take the machine down: 100,000 nested arrays make a
prefix-tracking parser build a prefix string per level (gigabytes), deep nesting overflows a
recursive builder, a single 400 MB string is re-lexed by yajl chunk after chunk (minutes), and
one integer above 2^63 stops yajl, and with it the whole file. So the raw bytes are lexed here
first, in numpy over 64 KiB chunks (strings, escapes and depth, with no Python code per byte),
and each value at the records' level is held back until it ends. A value within the bounds goes
on to yajl unchanged (yajl builds it in C). One that is too large, too deep or has too many
values is never parsed, and one that yajl would stop on (a number outside 64 bits, a control
byte, broken UTF-8) is parsed alone by :func:`json.loads`; either is replaced in the stream by a
one-key marker object whose result waits in :attr:`SkeletonGuard.units`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson
import numpy as np

from veriscan.matching.lists.jsonrecord import ParsedRecord, RefusedRecord, parse_record
from veriscan.matching.lists.records import ListFormatError

CHUNK_BYTES = 64 << 10
"""Small enough that the lexer's numpy temporaries stay a fraction of a megabyte."""
MAX_RECORD_BYTES = 8 << 20
"""A media record larger than this is refused unread (a real one is a few kilobytes)."""
MAX_RECORD_DEPTH = 32
"""Nesting inside one record (a real one nests four levels: MediaFiles, an entry, its Exifs)."""
MAX_RECORD_VALUES = 200_000
"""Brackets, commas and colons in one record: bounds the objects built from 8 MiB."""
MAX_SKELETON_TOKEN = 1 << 20
"""Bytes between two structural characters outside the records (the context URL, a key)."""

_OPEN, _CLOSE, _COMMA, _COLON = 1, 2, 3, 4
_KIND = np.zeros(256, dtype=np.int8)
for _ch, _kind in ((b"{", _OPEN), (b"[", _OPEN), (b"}", _CLOSE), (b"]", _CLOSE)):
    _KIND[_ch[0]] = _kind
_KIND[ord(",")], _KIND[ord(":")] = _COMMA, _COLON
_WHITESPACE = b" \t\r\n"
MARKER = "\x00veriscan-record"
MARKER_JSON = b"\\u0000veriscan-record"


@dataclass(frozen=True)
class Limits:
    record_bytes: int = MAX_RECORD_BYTES
    record_depth: int = MAX_RECORD_DEPTH
    record_values: int = MAX_RECORD_VALUES
    skeleton_token: int = MAX_SKELETON_TOKEN


@dataclass
class _Region:
    start: int
    unit: bool
    buf: bytearray | None = field(default_factory=bytearray)
    depth: int = 0
    values: int = 0
    bad: str | None = None
    suspect: bool = False


class SkeletonGuard:
    """Feeds on raw chunks; returns the skeleton bytes for yajl and the spans it cut out.

    ``level`` is the depth of the containers whose values are held back: 2 for a #Media file
    (``value`` is an array at depth 2), 4 for #Cases (``value[].Media``). With ``cut_all`` every
    such value is replaced by a marker (reading the header needs none of them).
    """

    def __init__(self, level: int, limits: Limits, cut_all: bool = False) -> None:
        self.level = level
        self.limits = limits
        self.cut_all = cut_all
        self.last_separator = -1
        self.quote_since = False
        self.pos = 0
        self.depth = 0
        self.in_string = False
        self.backslashes = 0
        self.arrays: list[bool] = []
        self.region = _Region(0, unit=False)
        self.units: dict[int, ParsedRecord | RefusedRecord] = {}
        self.next_id = 0

    def feed(self, chunk: bytes) -> bytes:
        """The bytes for yajl from this chunk; results of cut-out values land in ``units``."""
        out = bytearray()
        n = len(chunk)
        if n == 0:
            return b""
        a = np.frombuffer(chunk, dtype=np.uint8)
        kind = _KIND[a]
        bs = np.flatnonzero(a == 0x5C)
        quotes = self._real_quotes(a, bs)
        start_inside = self.in_string
        self.in_string = start_inside ^ bool(len(quotes) % 2)

        def outside(pos: Any) -> Any:
            return (np.searchsorted(quotes, pos, side="right") % 2 == 1) == start_inside

        candidates = np.flatnonzero(kind)
        sp = candidates[outside(candidates)]
        sk = kind[sp]
        delta = (sk == _OPEN).astype(np.int32) - (sk == _CLOSE)
        after = self.depth + np.cumsum(delta, dtype=np.int64)
        before = after - delta
        level = self.level
        shallow = ((sk == _OPEN) & (after <= level)) | ((sk == _CLOSE) & (before <= level))
        shallow |= (sk >= _COMMA) & (after <= level)
        sh = np.flatnonzero(shallow)
        boundaries = sp[sh]
        seg_depth, seg_count = _segment_stats(sh, ~shallow, after)
        stray = bs[outside(bs)]
        stray_seg = set(np.searchsorted(boundaries, stray).tolist()) if len(stray) else set()
        odd = self._odd_bytes(a, quotes, sp, outside)
        odd_seg = set(np.searchsorted(boundaries, odd).tolist()) if len(odd) else set()
        cursor = 0
        for k in range(len(sh) + 1):
            if k in seg_depth:
                self._grow(seg_depth[k], seg_count[k])
            if k in stray_seg:
                self._refuse("has a backslash outside a string")
            if k in odd_seg:
                self.region.suspect = True
            if k == len(sh):
                break
            i = int(boundaries[k])
            self._take(chunk, cursor, i, out)
            self._close_region(self.pos + i, out)
            self._event(chunk[i], int(after[sh[k]]), self.pos + i)
            out.append(chunk[i])
            cursor = i + 1
        self._take(chunk, cursor, n, out)
        self.depth = int(after[-1]) if len(after) else self.depth
        self.pos += n
        self._check_open_region()
        return bytes(out)

    def _odd_bytes(self, a: Any, quotes: Any, sp: Any, outside: Any) -> Any:
        """Where yajl would stop on a value that json.loads can still judge alone: a control
        byte, an exponent (1e999 overflows), NaN or Infinity, or 20+ bytes between separators
        with no string (an integer beyond 64 bits); a false alarm only costs a slower parse."""
        n = len(a)
        control = np.flatnonzero((a < 0x20) & (a != 0x0A) & (a != 0x0D) & (a != 0x09))
        exps = np.flatnonzero((a | 0x20) == 0x65)
        constants = np.flatnonzero((a == 0x4E) | (a == 0x49))
        constants = constants[outside(constants)]
        if len(exps):
            follow = a[np.minimum(exps + 1, n - 1)]
            numeric = ((follow - 0x30) < 10) | (follow == 0x2B) | (follow == 0x2D)
            exps = exps[numeric | (exps == n - 1)]
            exps = exps[outside(exps)]
        ends = self.pos + sp
        starts = np.r_[self.last_separator, ends[:-1]]
        quoted = np.diff(np.r_[0, np.searchsorted(quotes, sp)]) > 0
        if len(quoted):
            quoted[0] |= self.quote_since
            self.last_separator = int(ends[-1])
            self.quote_since = bool(len(quotes)) and int(quotes[-1]) > int(sp[-1])
        else:
            self.quote_since |= bool(len(quotes))
        wide = sp[(ends - starts > 20) & ~quoted]
        return np.sort(np.r_[control, exps, wide, constants])

    def finish(self) -> bytes:
        """What is left at the end of the file: an unfinished value goes to yajl as it came,
        so the file is reported as breaking off rather than silently shortened."""
        region = self.region
        if region.unit and region.buf is not None and region.bad is None:
            return bytes(region.buf)
        return b""

    def _real_quotes(self, a: np.ndarray[Any, np.dtype[np.uint8]], bs: Any) -> Any:
        """Positions of the quotes that open or close a string: not preceded by an odd run of
        backslashes (a run may begin in the previous chunk)."""
        n = len(a)
        quotes = np.flatnonzero(a == 0x22)
        carry, self.backslashes = self.backslashes, 0
        if not len(bs):
            return quotes if carry % 2 == 0 else quotes[quotes != 0]
        fresh = np.r_[True, np.diff(bs) != 1]
        run_start = bs[np.maximum.accumulate(np.where(fresh, np.arange(len(bs)), 0))]
        last = np.searchsorted(bs, quotes) - 1
        near = np.maximum(last, 0)
        adjacent = (last >= 0) & (bs[near] == quotes - 1)
        run = np.where(adjacent, quotes - run_start[near], 0)
        run += np.where(adjacent & (run_start[near] == 0) | (quotes == 0), carry, 0)
        if bs[-1] == n - 1:
            self.backslashes = n - int(run_start[-1]) + (carry if run_start[-1] == 0 else 0)
        return quotes[run % 2 == 0]

    def _take(self, chunk: bytes, begin: int, end: int, out: bytearray) -> None:
        if begin >= end:
            return
        region = self.region
        if not region.unit:
            out += chunk[begin:end]
        elif region.buf is not None and region.bad is None:
            region.buf += chunk[begin:end]
            if len(region.buf) > self.limits.record_bytes:
                self._refuse(f"is larger than {self.limits.record_bytes} bytes")

    def _grow(self, depth: int, count: int) -> None:
        region = self.region
        region.depth = max(region.depth, depth - self.level)
        region.values += count
        if region.depth > self.limits.record_depth:
            self._refuse(f"nests deeper than {self.limits.record_depth} levels")
        elif region.values > self.limits.record_values:
            self._refuse(f"has more than {self.limits.record_values} brackets and separators")

    def _refuse(self, reason: str) -> None:
        region = self.region
        if region.unit and region.bad is None:
            region.bad, region.buf = reason, None
        elif not region.unit:
            raise ListFormatError(f"byte {region.start}: the JSON outside the records {reason}")

    def _check_open_region(self) -> None:
        region = self.region
        size = self.pos - region.start
        if region.unit and size > self.limits.record_bytes:
            self._refuse(f"is larger than {self.limits.record_bytes} bytes")
        if not region.unit and size > self.limits.skeleton_token:
            raise ListFormatError(
                f"byte {region.start}: more than {self.limits.skeleton_token} bytes without a"
                " JSON separator outside the media records"
            )

    def _close_region(self, end: int, out: bytearray) -> None:
        region = self.region
        if not region.unit:
            return
        if region.bad is not None:
            out += self._marker(RefusedRecord(f"at byte {region.start} {region.bad}"))
            return
        raw = bytes(region.buf or b"")
        if not raw.strip(_WHITESPACE):
            out += raw
        elif self.cut_all:
            out += self._marker(RefusedRecord("not read"))
        elif region.suspect or not _utf8(raw):
            out += self._marker(parse_record(region.start, raw))
        else:
            out += raw

    def _marker(self, value: ParsedRecord | RefusedRecord) -> bytes:
        ident = self.next_id
        self.next_id += 1
        self.units[ident] = value
        return b'{"%s":%d}' % (MARKER_JSON, ident)

    def _event(self, char: int, after: int, at: int) -> None:
        """Start the region after a shallow structural character: a value to cut out when it
        follows ``[`` or ``,`` in an array, or ``:`` in an object, at the records' level."""
        kind = int(_KIND[char])
        if kind == _OPEN:
            self.arrays.append(char == 0x5B)
        elif kind == _CLOSE and self.arrays:
            self.arrays.pop()
        unit = False
        if after == self.level and len(self.arrays) == self.level:
            unit = kind == _COLON or (kind in (_OPEN, _COMMA) and self.arrays[-1])
        self.region = _Region(at + 1, unit=unit)


def _segment_stats(
    shallow_idx: np.ndarray[Any, Any], deep: np.ndarray[Any, Any], after: np.ndarray[Any, Any]
) -> tuple[dict[int, int], dict[int, int]]:
    """Deepest level and number of structural characters between consecutive shallow events."""
    deep_idx = np.flatnonzero(deep)
    if not len(deep_idx):
        return {}, {}
    seg = np.searchsorted(shallow_idx, deep_idx)
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    maxima = np.maximum.reduceat(after[deep_idx], starts)
    counts = np.diff(np.r_[starts, len(deep_idx)])
    keys = seg[starts].tolist()
    return dict(zip(keys, maxima.tolist(), strict=True)), dict(
        zip(keys, counts.tolist(), strict=True)
    )


class GuardedReader:
    """A file-like object for ijson: what :class:`SkeletonGuard` lets through, chunk by chunk.

    ijson's C backend pulls from ``read`` in its own reading loop, which is several times
    faster than pushing chunks into its coroutine interface.
    """

    def __init__(self, fh: BinaryIO, guard: SkeletonGuard) -> None:
        self.fh = fh
        self.guard = guard
        self.done = False
        self.pending = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` bytes (the C backend copies into a buffer of that size)."""
        while not self.pending and not self.done:
            chunk = self.fh.read(CHUNK_BYTES)
            if not chunk:
                self.done = True
            self.pending = memoryview(self.guard.feed(chunk) if chunk else self.guard.finish())
        size = len(self.pending) if size < 0 else size
        data, self.pending = self.pending[:size], self.pending[size:]
        return bytes(data)


def guarded_items(
    fh: BinaryIO, prefix: str, level: int, limits: Limits
) -> Iterator[ParsedRecord | RefusedRecord]:
    """Each value under ``prefix`` as yajl or json.loads built it, or why it was refused."""
    guard = SkeletonGuard(level, limits)
    for item in ijson.items(GuardedReader(fh, guard), prefix, use_float=True):
        yield _resolve(item, guard.units)


def close_parser(coro: Any, tail: bytes) -> None:
    """Send the last bytes and end yajl's push parser (an empty send would mean end too)."""
    if tail:
        coro.send(tail)
    coro.close()


def _resolve(
    item: object, units: dict[int, ParsedRecord | RefusedRecord]
) -> ParsedRecord | RefusedRecord:
    """The record itself, or the result a marker stands for (markers met outside the records'
    path, as in a #Cases file's other arrays, are dropped as the reader passes them)."""
    if isinstance(item, dict) and len(item) == 1 and MARKER in item:
        ident = item[MARKER]
        if type(ident) is int and ident in units:
            while next(iter(units)) < ident:
                del units[next(iter(units))]
            return units.pop(ident)
    return ParsedRecord(item)


def _utf8(raw: bytes) -> bool:
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
