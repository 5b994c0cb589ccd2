"""Tar and compressed-tar reading for :mod:`veriscan.sources.archives.tar`.

``tarfile``'s stream mode takes a damaged header after the first for the end of the archive, and
the gzip/bzip2/xz readers drop whatever follows the last compressed stream, so members used to
vanish without a trace. Here every header position tarfile tries is watched, damaged headers are
skipped until the next header whose checksum holds (as ``tar --ignore-zeros`` does), and the
compressed layers are decoded stream by stream so that bytes after the last one are seen. Whatever
was skipped or left over becomes a problem on the archive, with its byte offset.
"""

from __future__ import annotations

import tarfile
from bisect import bisect_left
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, Final, Self, cast

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.archives.base import (
    CHUNK,
    ArchiveError,
    Entry,
    ExpansionBudget,
    Forward,
    Meter,
    reading,
)
from veriscan.sources.compressed import Counted, Unpacked
from veriscan.sources.member_names import ANALYZER

_BLOCK: Final = 512
# tarfile's header errors, undocumented but stable since Python 3.2 (typeshed omits them).
_ZERO_BLOCK: Final[type[Exception]] = tarfile.EOFHeaderError  # type: ignore[attr-defined]
_BAD_BLOCK: Final[type[Exception]] = tarfile.InvalidHeaderError  # type: ignore[attr-defined]
_CUT_BLOCK: Final[type[Exception]] = tarfile.TruncatedHeaderError  # type: ignore[attr-defined]
_NO_BLOCK: Final[type[Exception]] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]


def read_tar(
    stream: BinaryIO, budget: ExpansionBudget, codec: str | None, damage: list[Problem]
) -> Iterator[Entry]:
    """Read a tar, optionally compressed with ``codec``, from a stream that may not seek.

    The whole decompressed stream is metered, headers and skipped members included, since all of
    it must be expanded to reach later members. A compressed stream whose first block is not a tar
    header is one compressed file: it becomes a single entry named ``content``, because a bare
    stream carries no name (gzip's optional FNAME field is not consulted).
    """
    raw = Counted(stream)
    if codec is None:
        yield from _tar_entries(Forward(raw.read, "unreadable tar archive", Meter(budget)), damage)
        return
    what = f"unreadable {codec} stream"
    unpacked = Unpacked(codec, raw, damage)
    data = Forward(unpacked.read1, what, Meter(budget, lambda: raw.count))
    head = data.read_up_to(_BLOCK)
    data.unread(head)
    if _looks_like_tar(head):
        yield from _tar_entries(data, damage)
    else:
        yield Entry("content", None, unpacked.mtime, source=lambda: data)


class _Rewindable:
    """A forward stream that keeps its last bytes, so a reader that went too far can step back.

    tarfile reads ahead of the header it is parsing; to look for the next header inside the bytes
    it already took, the listing steps back to the damaged header and scans from there.
    """

    KEEP: Final = 4 * CHUNK

    def __init__(self, data: Forward) -> None:
        self._data = data
        self._tail: deque[bytes] = deque()
        self._kept = 0
        self._pending = b""
        self.position = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._pending:
            size = len(self._pending) if size < 0 else size
            out, self._pending = self._pending[:size], self._pending[size:]
        else:
            out = self._data.read(size)
        if out:
            self.position += len(out)
            self._tail.append(out)
            self._kept += len(out)
            while self._kept - len(self._tail[0]) >= self.KEEP:
                self._kept -= len(self._tail.popleft())
        return out

    def since(self, at: int) -> bytes | None:
        """The bytes from absolute position ``at`` up to where reading stands, if still kept."""
        back = self.position - at
        if not 0 <= back <= self._kept:
            return None
        return b"".join(self._tail)[self._kept - back :]

    def rewind_to(self, at: int) -> bool:
        kept = self.since(at)
        if kept is None:
            return False
        self._pending = kept + self._pending
        joined = b"".join(self._tail)[: self._kept - len(kept)]
        self._tail = deque([joined] if joined else [])
        self._kept = len(joined)
        self.position = at
        return True


class _Resync(Exception):  # noqa: N818 - a signal to the listing, never seen outside this module
    """A damaged header where the listing expected one: stop tarfile and look for the next."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


@dataclass
class _Run:
    """Consecutive bytes where a header was expected and none was found."""

    kind: str
    start: int
    end: int


class _Watch:
    """Records what tarfile found at every header position it tried, in absolute offsets."""

    def __init__(self, stream: _Rewindable) -> None:
        self.stream = stream
        self.base = 0
        self.runs: list[_Run] = []
        self.headers: list[int] = []

    def note(self, kind: str, at: int, end: int) -> None:
        last = self.runs[-1] if self.runs else None
        if last is not None and last.kind == kind and last.end == at:
            last.end = end
        else:
            self.runs.append(_Run(kind, at, end))

    def info_class(self) -> type[tarfile.TarInfo]:
        watch = self

        class Watched(tarfile.TarInfo):
            @classmethod
            def fromtarfile(cls, tar: tarfile.TarFile) -> Self:
                relative = tar.fileobj.tell()
                at = watch.base + relative
                if relative != tar.offset:  # a header that belongs to the previous one
                    return super().fromtarfile(tar)
                try:
                    info = super().fromtarfile(tar)
                except _ZERO_BLOCK:
                    watch.note("zero", at, at + _BLOCK)
                    raise
                except _BAD_BLOCK:
                    raise _Resync(at) from None
                except _CUT_BLOCK:
                    rest = watch.stream.since(at)
                    if rest is None or any(rest):
                        watch.note("cut", at, watch.stream.position)
                    raise
                except _NO_BLOCK:
                    watch.note("end", at, at)
                    raise
                watch.headers.append(at)
                return info

        return Watched


def _tar_entries(data: Forward, damage: list[Problem]) -> Iterator[Entry]:
    stream = _Rewindable(data)
    watch = _Watch(stream)
    while True:
        watch.base = stream.position
        stop = yield from _listing(stream, watch)
        if stop is None:
            break
        found = _next_header(stream, stop) if stream.rewind_to(stop) else None
        watch.note("bad", stop, found if found is not None else stream.position)
        if found is None:
            break
    if not watch.headers:
        raise ArchiveError("unreadable tar archive: no valid tar header found")
    damage.extend(_listing_problems(watch))


def _listing(stream: _Rewindable, watch: _Watch) -> Generator[Entry, None, int | None]:
    """Members up to the end, or to a damaged header whose offset is then returned."""
    with reading("unreadable tar archive"):
        try:
            tar = tarfile.open(  # noqa: SIM115 - closed by the with below, once it opened
                fileobj=cast(IO[bytes], stream),
                mode="r|",
                encoding="utf-8",
                errors="surrogateescape",
                ignore_zeros=True,
                tarinfo=watch.info_class(),
            )
        except _Resync as stop:
            return stop.at
        with tar:
            while True:
                try:
                    info = tar.next()
                except _Resync as stop:
                    return stop.at
                # tarfile remembers every header it has seen; a streamed archive must not.
                tar.members.clear()  # type: ignore[attr-defined]
                if info is None:
                    return None
                if not info.isdir():
                    yield _tar_entry(tar, info)
    return None


def _next_header(stream: _Rewindable, stop: int) -> int | None:
    """Where the next header with the ustar magic and a valid checksum starts, at any alignment.

    Inserted or deleted bytes shift every later header off the 512-byte grid, so only a byte-wise
    search finds them; old v7 headers carry no magic and are not searched for. The stream is left
    at the header found, or at the end.
    """
    window = stream.read(CHUNK)
    start = stop
    look = 1
    while True:
        idx = window.find(b"ustar", look + 257)
        if idx >= 0 and idx - 257 + _BLOCK <= len(window):
            at = idx - 257
            try:
                tarfile.TarInfo.frombuf(window[at : at + _BLOCK], "utf-8", "surrogateescape")
            except (tarfile.HeaderError, ValueError):
                look = at + 1
                continue
            stream.rewind_to(start + at)
            return start + at
        more = stream.read(CHUNK)
        if not more:
            return None
        keep = max(0, min(len(window) - _BLOCK, idx - 257 if idx >= 0 else len(window)))
        window, start, look = window[keep:] + more, start + keep, max(0, look - keep)


def _listing_problems(watch: _Watch) -> list[Problem]:
    """What the skipped header positions mean for the listing, in archive order."""
    problems: list[Problem] = []
    marker: int | None = None
    headers = watch.headers  # in archive order: each listing resumes after the last
    for run in watch.runs:
        after = bisect_left(headers, run.end)
        later = headers[after] if after < len(headers) else None
        if run.kind == "zero":
            marker = run.start if marker is None else marker
        elif run.kind == "cut":
            problems.append(
                _problem(
                    f"the archive ends inside a header at byte {run.start} (truncated): "
                    "members after it are missing",
                    ProblemCode.ARCHIVE_TRUNCATED,
                )
            )
        elif run.kind == "bad" and marker is not None and later is None:
            problems.append(
                _problem(
                    f"data at byte {run.start}, after the end-of-archive marker at byte {marker}, "
                    f"holds no tar header ({run.end - run.start} bytes to the end): not examined",
                    ProblemCode.ARCHIVE_TRAILING_DATA,
                )
            )
        elif run.kind == "bad" and later is not None:
            problems.append(
                _problem(
                    f"damaged header at byte {run.start}: {run.end - run.start} bytes skipped to "
                    f"the next valid header at byte {later}; a member whose header was "
                    "damaged there is not listed",
                    ProblemCode.ARCHIVE_DAMAGED_HEADER,
                )
            )
        elif run.kind == "bad":
            problems.append(
                _problem(
                    f"listing stopped at a damaged header at byte {run.start}; members after it "
                    "may be missing",
                    ProblemCode.ARCHIVE_TRUNCATED_LISTING,
                )
            )
        elif run.kind == "end" and marker is None and watch.headers:
            problems.append(
                _problem(
                    f"the archive ends at byte {run.start} without its end-of-archive marker: "
                    "it may have been cut short, and members after it would be missing",
                    ProblemCode.ARCHIVE_NO_END_MARKER,
                )
            )
    if marker is not None and any(h > marker for h in watch.headers):
        first = min(h for h in watch.headers if h > marker)
        problems.append(
            _problem(
                f"members follow the end-of-archive marker at byte {marker} (first at byte "
                f"{first}): listed, though tar would not show them",
                ProblemCode.ARCHIVE_DATA_AFTER_END,
            )
        )
    return problems


def _problem(message: str, code: ProblemCode) -> Problem:
    return Problem(ANALYZER, message, code)


def _looks_like_tar(head: bytes) -> bool:
    if len(head) < _BLOCK or not any(head):
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "replace")
    except tarfile.HeaderError:
        return False
    return True


def _tar_entry(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Entry:
    what = f"tar member {info.name!r}"

    def source() -> Forward:
        with reading(what):
            handle = tar.extractfile(info)
        if handle is None:
            raise ArchiveError(f"{what} has no content")
        return Forward(handle.read, what, close=handle.close)

    special: str | None = None
    if info.issym():
        special = f"symbolic link to {info.linkname!r}"
    elif info.islnk():
        special = f"hard link to {info.linkname!r}"
    elif not info.isreg() and info.type in tarfile.SUPPORTED_TYPES:
        special = _TAR_KINDS.get(info.type, "special file")
    return Entry(info.name, info.size, float(info.mtime), special=special, source=source)


_TAR_KINDS: Final = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "named pipe",
}
