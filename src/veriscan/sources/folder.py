"""Folders and single files on a mounted file system.

Evidence is opened read-only, with O_NOATIME where the OS allows it so that even access times of
the evidence stay as they were. Symlinks are recorded with their target and never followed, so a
link cannot lead the scan out of the evidence. Names are escaped into locators by
:mod:`veriscan.names` (any bytes, ``!`` and newlines included) and unescaped to open them again.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from veriscan.domain import Item, ItemKind, Locator, Problem, ProblemCode
from veriscan.names import escape_name, escape_path, unescape
from veriscan.sources.base import EvidenceSource, SourceError

_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: Path) -> BinaryIO:
    """Open for reading only; falls back to a plain read-only open where O_NOATIME is refused."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:
        fd = os.open(path, flags)
    return os.fdopen(fd, "rb")


def _item(path: Path, raw_rel: str) -> Item:
    rel = escape_path(raw_rel)
    try:
        st = path.lstat()
    except OSError as exc:
        problem = Problem("source", f"cannot stat: {exc.strerror or exc}", ProblemCode.UNREADABLE)
        return Item(Locator((rel,)), None, None, ItemKind.SPECIAL, problems=(problem,))
    if stat.S_ISLNK(st.st_mode):
        try:
            target = escape_path(os.readlink(path))
        except OSError as exc:
            target = f"<unreadable: {exc.strerror}>"
        return Item(Locator((rel,)), None, st.st_mtime, ItemKind.SYMLINK, link_target=target)
    if stat.S_ISREG(st.st_mode):
        return Item(Locator((rel,)), st.st_size, st.st_mtime)
    problem = Problem(
        "source", "not a regular file (device, socket or fifo): not read", ProblemCode.SPECIAL
    )
    return Item(Locator((rel,)), None, st.st_mtime, ItemKind.SPECIAL, problems=(problem,))


class FolderSource(EvidenceSource):
    id = "folder"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_dir() and not path.is_symlink()

    def items(self) -> Iterator[Item]:
        if not self.accepts(self.path):
            raise SourceError(f"{self.path} is not a folder")
        yield from self._walk(self.path, "")

    def _walk(self, folder: Path, prefix: str) -> Iterator[Item]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            rel = escape_path(prefix.rstrip("/")) or "."
            problem = Problem(
                "source", f"cannot list folder: {exc.strerror or exc}", ProblemCode.UNREADABLE
            )
            yield Item(Locator((rel,)), None, None, ItemKind.SPECIAL, problems=(problem,))
            return
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), rel + "/")
            else:
                yield _item(Path(entry.path), rel)

    def open(self, locator: Locator) -> BinaryIO:
        if locator.depth:
            raise SourceError(f"{locator} is inside an archive; the pipeline expands archives")
        path = (self.path / unescape(locator.segments[0])).resolve()
        root = self.path.resolve()
        if root not in path.parents:
            raise SourceError(f"{locator} resolves outside the evidence folder")
        return open_readonly(path)


class FileSource(EvidenceSource):
    """One file as evidence: a reported image, or an archive handed over as one item."""

    id = "file"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_file() and not path.is_symlink()

    def items(self) -> Iterator[Item]:
        if not self.accepts(self.path):
            raise SourceError(f"{self.path} is not a regular file")
        yield _item(self.path, self.path.name)

    def open(self, locator: Locator) -> BinaryIO:
        if locator.segments != (escape_name(self.path.name),):
            raise SourceError(f"{locator} is not this file source's item")
        return open_readonly(self.path)
