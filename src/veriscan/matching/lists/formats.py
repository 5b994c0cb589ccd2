"""List formats as a registered family (entry-point group ``veriscan.list_formats``).

Each format says whether a file looks like it (``sniff``, from the first bytes: a multi-gigabyte
list is sniffed instantly) and reads it as a stream of :data:`ListEvent` (``read``): one record
per entry or a bad line with its number, never a silent skip. ``lists import --format auto`` asks
every registered format's ``sniff``; exactly one should say yes (a ``fallback`` format, plain
hashes, only when no other does).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from veriscan.matching.lists.records import BadLine, HashRecord, ListEvent, ListFormatError
from veriscan.matching.lists.schemes import DEFAULT_CATEGORY_ZERO, Scheme
from veriscan.matching.lists.sniff import head_kind


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need besides the file: the category scheme and two import options."""

    scheme: Scheme
    category_zero: str = DEFAULT_CATEGORY_ZERO
    plain_kind: str | None = None


class ListFormat(ABC):
    id: ClassVar[str]
    version: ClassVar[str] = "1"
    known_good: ClassVar[bool] = False
    """Lists of this format are known-good (NSRL) unless the import says otherwise."""
    fallback: ClassVar[bool] = False
    """Recognises almost any text (plain hashes): chosen only when no other format's sniff does."""

    @abstractmethod
    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether ``path`` (``head``: its first bytes, empty for a folder) is in this format."""

    @abstractmethod
    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        """The file's entries and bad lines, in order; ListFormatError when none can be read."""

    def scheme(self, path: Path) -> str | None:
        """The category scheme the file names for itself, None when it names none."""
        return None


class _HeadFormat(ListFormat):
    """A file format recognised from its first bytes."""

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and head_kind(head) == self.id


class VicsFormat(_HeadFormat):
    id = "vics"

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        from veriscan.matching.lists.vics import read_vics

        return read_vics(path, options.scheme, options.category_zero)

    def scheme(self, path: Path) -> str | None:
        """A VICS 2.0 file names its scheme in its context URL."""
        from veriscan.matching.lists.vics import read_header

        named = read_header(path).scheme
        return named if named in ("US", "UK") else None


class CsvFormat(_HeadFormat):
    id = "csv"

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        from veriscan.matching.lists.text import read_csv_list

        return read_csv_list(path, category=options.scheme.key)


class PlainFormat(_HeadFormat):
    id = "plain"
    fallback = True

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        from veriscan.matching.lists.text import read_plain_list

        return read_plain_list(path, kind=options.plain_kind)


class PdqFormat(_HeadFormat):
    id = "pdq"

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        from veriscan.matching.lists.text import read_pdq_list

        return read_pdq_list(path)


class NsrlFormat(_HeadFormat):
    id = "nsrl"
    known_good = True

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        from veriscan.matching.lists.nsrl import read_nsrl_rds

        return read_nsrl_rds(path)


class VpdqFormat(ListFormat):
    """Upstream per-frame files (``frame,quality,hash,timestamp``), one per video: a folder of
    them (what ``auto`` recognises), or one file named explicitly."""

    id = "vpdq"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_dir()

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        return read_video_hashes(path)


def read_video_hashes(path: Path) -> Iterator[ListEvent]:
    from veriscan.matching.vpdq import read_sample_hashes

    files = sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise ListFormatError(f"{path} holds no vPDQ hash files (*.txt)")
    for number, file in enumerate(files, start=1):
        try:
            frames = read_sample_hashes(file)
        except (OSError, ValueError) as exc:
            yield BadLine(number, f"{file.name}: {exc}")
            continue
        if not frames:
            yield BadLine(number, f"{file.name}: no frame hashes")
            continue
        rel = file.relative_to(path).as_posix() if path.is_dir() else file.name
        yield HashRecord(
            line=number,
            labels=(file.stem,),
            extra={"file": rel, "frames": [[f.quality, f.hash, f.timestamp] for f in frames]},
        )
