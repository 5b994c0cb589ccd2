"""Streaming expansion of archives found on evidence, without writing anything to disk.

Members are read in place and in archive order, so one pass over a tar on a pipe or a spooled zip
is enough to hash everything in it. Hostile archives are expected: every member's name is
sanitised before anyone builds a locator from it, and every decompressed byte is charged to an
:class:`ExpansionBudget` shared by the whole nest of archives, so bombs end in
:class:`LimitExceeded` instead of exhausting the machine. Which reader opens an archive is asked
of the registered archive formats (entry-point group ``veriscan.archive_formats``) by MIME type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import BinaryIO, Final

from veriscan.domain import Problem, ProblemCode
from veriscan.plugins import PluginError, Registry, load_registry
from veriscan.sources.archives.base import (
    ArchiveError,
    ArchiveFormat,
    DamagedArchiveError,
    Entry,
    ExpansionBudget,
    LimitExceeded,
    Member,
)
from veriscan.sources.member_names import ANALYZER, MemberNames

ARCHIVE_MIMES: Final = frozenset(
    {
        "application/zip",
        "application/x-7z-compressed",
        "application/x-tar",
        "application/gzip",
        "application/x-bzip2",
        "application/x-xz",
    }
)
"""The built-in formats' MIME types (a plugin's are added through the registry)."""


def archive_formats(registry: Registry | None = None) -> list[ArchiveFormat]:
    """One instance of every registered archive format; a plugin that is not one is refused."""
    out: list[ArchiveFormat] = []
    for cls in (registry or load_registry()).classes("archive_formats"):
        if not (isinstance(cls, type) and issubclass(cls, ArchiveFormat)):
            raise PluginError(f"archive format {cls!r} does not subclass ArchiveFormat")
        out.append(cls())
    if not out:
        raise PluginError(
            "no archive_formats installed: the package's entry points are missing"
            " (reinstall veriscan, e.g. pip install -e .)"
        )
    return out


@cache
def _installed() -> dict[str, ArchiveFormat]:
    """The installed formats by MIME type, read once per process (workers included)."""
    return {f.mime: f for f in archive_formats()}


def is_archive(mime: str) -> bool:
    return mime in _installed()


def sniff_archive(head: bytes, formats: Sequence[ArchiveFormat] | None = None) -> str | None:
    """The id of the format whose ``sniff`` recognises ``head``, None when none does."""
    chosen = list(_installed().values()) if formats is None else formats
    return next((f.id for f in chosen if f.sniff(head)), None)


def iter_members(
    stream: BinaryIO,
    mime: str,
    budget: ExpansionBudget,
    formats: Sequence[ArchiveFormat] | None = None,
) -> Iterator[Member]:
    """Yield the members of the archive in ``stream``; directories are not yielded.

    zip and 7z need a seekable stream (the caller spools them); tar, compressed tar and
    single-file gzip/bzip2/xz streams are read strictly forward. A compressed stream that does not
    hold a tar yields one member named ``content``. Errors about the archive as a whole are raised
    from the iterator, after the members that could be read; a ``mime`` outside
    the registered formats is a caller bug and raises :class:`ValueError`.
    """
    by_mime = _installed() if formats is None else {f.mime: f for f in formats}
    if mime not in by_mime:
        raise ValueError(f"not an archive type: {mime!r}")
    damage: list[Problem] = []
    entries = by_mime[mime].read(stream, budget, damage)
    try:
        yield from _named(entries, budget)
    except LimitExceeded:
        raise
    except ArchiveError as exc:
        if not damage:
            raise
        damage.append(Problem(ANALYZER, f"cannot expand further: {exc}", exc.code))
    if damage:
        raise DamagedArchiveError(damage)


def _named(entries: Iterator[Entry], budget: ExpansionBudget) -> Iterator[Member]:
    names = MemberNames()
    for entry in entries:
        try:
            budget.entries += 1
            if budget.entries > budget.max_entries:
                raise LimitExceeded(
                    ProblemCode.BOMB_ENTRIES,
                    f"archive holds more than {budget.max_entries} members",
                )
            path, problems = names.assign(entry.name)
            if entry.encrypted:
                problems.append(
                    Problem(
                        ANALYZER, "encrypted member, content not analysed", ProblemCode.ENCRYPTED
                    )
                )
            if entry.special is not None:
                problems.append(
                    Problem(
                        ANALYZER, f"{entry.special}: recorded, not read", ProblemCode.SPECIAL_FILE
                    )
                )
            problems.extend(entry.problems)
            if entry.source is None and not (entry.encrypted or entry.special or entry.problems):
                problems.append(
                    Problem(ANALYZER, "member has no readable content", ProblemCode.ARCHIVE_ERROR)
                )
            yield Member(path, entry.size, entry.mtime, entry.encrypted, problems, entry)
        finally:
            entry.expire()
