"""The archive contract and what every format shares, for :mod:`veriscan.sources.archives`.

Members are read in place and in archive order, so one pass over a tar on a pipe or a spooled zip
is enough to hash everything in it. Hostile archives are expected: every member's name is
sanitised before anyone builds a locator from it, and every decompressed byte is charged to an
:class:`ExpansionBudget` shared by the whole nest of archives, so bombs end in
:class:`LimitExceeded` instead of exhausting the machine.

This module holds the contract (:class:`ArchiveFormat`, :class:`Entry`, :class:`Member`) and the
machinery every format shares (metering, error translation, single-pass member streams); one
module per format family beside it holds the readers (:mod:`.zip`, :mod:`.sevenzip`, :mod:`.tar`),
:mod:`.expand` walks an archive through the registered formats, :mod:`veriscan.sources.zip_members`
decodes zip members and :mod:`veriscan.sources.member_names` holds the naming policy.
"""

from __future__ import annotations

import io
import lzma
import stat
import struct
import tarfile
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, ClassVar, Final

from veriscan.domain import Problem, ProblemCode
from veriscan.settings import Settings
from veriscan.sources.archive_wording import LIBRARY_UNSUPPORTED, archive_failure, log_failure

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "ArchiveError",
    "ArchiveFormat",
    "DamagedArchiveError",
    "Entry",
    "ExpansionBudget",
    "LimitExceeded",
    "Member",
]

CHUNK: Final = 1 << 16
MAX_READ: Final = 1 << 20


BROKEN_INPUT: Final = (
    OSError,
    EOFError,
    ValueError,
    LookupError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
    tarfile.TarError,
    zipfile.BadZipFile,
    *LIBRARY_UNSUPPORTED,
)


class ArchiveError(Exception):
    """The archive, or the member being read, cannot be read; the message is meant for people.

    ``code`` groups problems in reports; the message never quotes a library's exception text.
    """

    def __init__(self, message: str, code: ProblemCode = ProblemCode.ARCHIVE_ERROR) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[type[ArchiveError], tuple[str, str]]:
        return (type(self), (str(self), self.code))


class DamagedArchiveError(ArchiveError):
    """Raised after the members that could be read: what is wrong with the archive as a whole.

    The archive was expanded as far as it could be, so each problem is stored as worded, without
    a "cannot expand" prefix.
    """

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message, problems[0].code)
        self.problems = problems

    def __reduce__(self) -> tuple[type[DamagedArchiveError], tuple[list[Problem]]]:  # type: ignore[override]
        return (type(self), (self.problems,))


class LimitExceeded(ArchiveError):  # noqa: N818 - the name is the pipeline's API
    """An expansion limit tripped; ``code`` says which one so reports can group them."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message, code)

    def __reduce__(self) -> tuple[type[LimitExceeded], tuple[str, str]]:
        return (type(self), (self.code, str(self)))


@dataclass
class ExpansionBudget:
    """Shared across one top-level archive and everything nested inside it.

    Nested levels charge the same budget, so a bomb cannot hide by spreading itself over layers;
    bytes are counted at every level they are decompressed, because that is the work being bounded.
    """

    max_entries: int
    max_expanded_bytes: int
    max_ratio: int
    ratio_min_bytes: int
    entries: int = 0
    expanded_bytes: int = 0

    @classmethod
    def from_settings(cls, s: Settings) -> ExpansionBudget:
        return cls(
            max_entries=s.archive_max_entries,
            max_expanded_bytes=s.archive_max_expanded_bytes,
            max_ratio=s.archive_max_ratio,
            ratio_min_bytes=s.archive_ratio_min_bytes,
        )


class Meter:
    """Charges one decompressed stream's bytes to the budget and watches that stream's ratio.

    ``packed`` reports the compressed bytes behind the stream so far (or in total); without it
    only the byte limit applies, as for stored tar data where no ratio exists.
    """

    def __init__(self, budget: ExpansionBudget, packed: Callable[[], int] | None = None) -> None:
        self._budget = budget
        self._packed = packed
        self.expanded = 0

    def charge(self, n: int) -> None:
        budget = self._budget
        self.expanded += n
        budget.expanded_bytes += n
        if budget.expanded_bytes > budget.max_expanded_bytes:
            raise LimitExceeded(
                ProblemCode.BOMB_EXPANDED_BYTES,
                f"archive expanded past the limit of {budget.max_expanded_bytes} bytes",
            )
        if self._packed is not None and self.expanded > budget.ratio_min_bytes:
            packed = max(self._packed(), 1)
            if self.expanded > budget.max_ratio * packed:
                raise LimitExceeded(
                    ProblemCode.BOMB_RATIO,
                    f"{self.expanded} bytes expanded from {packed} compressed bytes, "
                    f"over the {budget.max_ratio}:1 limit",
                )


def translated(what: str, exc: BaseException) -> ArchiveError:
    """A library's failure as fixed wording with a code; its own text goes to the run log."""
    log_failure(what, exc)
    code, wording = archive_failure(exc)
    return ArchiveError(f"{what}: {wording}", code)


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Library parse failures on hostile input become one error type the pipeline records."""
    try:
        yield
    except BROKEN_INPUT as exc:
        raise translated(what, exc) from exc


class Forward:
    """A forward-only reader that charges a meter and speaks only :class:`ArchiveError`.

    ``unread`` lets a reader sniff the first bytes of a non-seekable stream and hand them back.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        what: str,
        meter: Meter | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._read = read
        self._what = what
        self._meter = meter
        self._close = close
        self._pending = b""

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        if self._pending:
            out, self._pending = self._pending[:size], self._pending[size:]
            return out
        with reading(self._what):
            data = self._read(min(size, MAX_READ))
        if self._meter is not None:
            self._meter.charge(len(data))
        return data

    def read_up_to(self, size: int) -> bytes:
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            part = self.read(wanted)
            if not part:
                break
            parts.append(part)
            wanted -= len(part)
        return b"".join(parts)

    def close(self) -> None:
        if self._close is not None:
            self._close()


@dataclass(eq=False)
class Entry:
    """One member as its container describes it, before veriscan's naming policy is applied.

    ``special`` says why a member is recorded but never read (a link or device); ``source`` opens
    the member's reader and is only valid while the entry is the archive's current one; None means
    the content cannot be read, and ``problems`` then says why (and notes anything else odd).
    """

    name: str
    size: int | None
    mtime: float | None
    encrypted: bool = False
    special: str | None = None
    source: Callable[[], Forward] | None = None
    expired: bool = False
    opened: bool = False
    problems: list[Problem] = field(default_factory=list)

    def expire(self) -> None:
        self.expired = True

    def open(self) -> BinaryIO:
        if self.encrypted:
            raise ArchiveError(f"{self.name!r} is encrypted; content not analysed")
        if self.special is not None:
            raise ArchiveError(f"{self.name!r} is a {self.special}; recorded, not read")
        if self.expired:
            raise ArchiveError(f"{self.name!r} can no longer be read: the archive moved on")
        if self.opened:
            raise ArchiveError(f"{self.name!r} was already opened; members are read in one pass")
        if self.source is None:
            why = self.problems[-1].message if self.problems else "has no readable content"
            raise ArchiveError(f"{self.name!r}: {why}")
        self.opened = True
        return io.BufferedReader(_EntryStream(self, self.source()), CHUNK)


class _EntryStream(io.RawIOBase):
    """Refuses reads once the iterator has moved past the entry, rather than return other bytes."""

    def __init__(self, entry: Entry, reader: Forward) -> None:
        super().__init__()
        self._entry = entry
        self._reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        if self._entry.expired:
            raise ArchiveError(f"{self._entry.name!r} can no longer be read: the archive moved on")
        view = memoryview(buffer).cast("B")
        data = self._reader.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._reader.close()
        super().close()


@dataclass
class Member:
    """One member, named safely enough to become a :class:`~veriscan.domain.Locator` segment.

    ``path`` is '/'-separated with no leading '/', no '.' or '..' segments and never empty, and
    escaped like every locator name (:mod:`veriscan.names`); repeated names get a ``#2``, ``#3``
    suffix so every member keeps its own locator. Anything that had to be changed, or cannot be
    read (``readable`` is then False), is stated in ``problems``.
    """

    path: str
    size: int | None
    mtime: float | None
    encrypted: bool = False
    problems: list[Problem] = field(default_factory=list)
    _entry: Entry | None = field(default=None, repr=False, compare=False)

    @property
    def readable(self) -> bool:
        """False when the content cannot be read at all; ``problems`` then says why."""
        entry = self._entry
        return entry is not None and entry.source is not None and not self.encrypted

    def open(self) -> BinaryIO:
        """A read-only stream of the member, metered against the budget.

        It may be opened once and only while this member is the iterator's current one: tar and
        7z members are read forward in a single pass, and zip follows the same rule so pipeline
        code behaves alike on every format. Encrypted and special members raise
        :class:`ArchiveError`, as does any read of a corrupt or truncated member.
        """
        if self._entry is None:
            raise ArchiveError(f"{self.path!r} has no readable content")
        return self._entry.open()


def special_kind(mode: int) -> str | None:
    kinds = (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
    )
    return next((kind for test, kind in kinds if mode and test(mode)), None)


class ArchiveFormat(ABC):
    """One container format (entry-point group ``veriscan.archive_formats``).

    ``mime`` is the type the filetype analyzer gives such a file (the pipeline expands by it);
    ``sniff`` recognises the format from its first bytes; ``read`` turns a stream into entries in
    archive order, charging every decompressed byte to ``budget`` and appending problems about
    the archive as a whole to ``damage`` (raised after the members that could be read).
    """

    id: ClassVar[str]
    mime: ClassVar[str]

    @abstractmethod
    def sniff(self, head: bytes) -> bool:
        """Whether ``head`` (an archive's first 512 bytes or more) starts this format."""

    @abstractmethod
    def read(
        self, stream: BinaryIO, budget: ExpansionBudget, damage: list[Problem]
    ) -> Iterator[Entry]: ...
