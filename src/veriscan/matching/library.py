"""The hash-list library: one folder per list, outside any case, shared by every case.

A list folder holds ``list.json`` (name, source, handling note, scheme, counts, the SHA-256 of the
imported file), the sorted exact-hash arrays, the PDQ index and the entries table. Imports build a
hidden folder and rename it into place, so a crash never leaves a half-written list; importing the
same file with the same options again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veriscan import __version__
from veriscan.matching.importer import write_list
from veriscan.matching.lists.formats import ListFormat, ReadOptions
from veriscan.matching.lists.records import ListFormatError
from veriscan.matching.lists.schemes import DEFAULT_CATEGORY_ZERO, load_scheme
from veriscan.matching.lists.sniff import head_kind, read_head
from veriscan.matching.registry import BUILTIN_FORMATS, list_formats, signal_types
from veriscan.matching.signals.base import SignalType

FORMATS = ("auto", *BUILTIN_FORMATS)
"""The built-in list formats (``--format`` also takes any installed ``veriscan.list_formats``)."""
META = "list.json"


class LibraryError(Exception):
    """A list cannot be imported, found or removed; the message says why."""


def default_library() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "veriscan" / "lists"


@dataclass(frozen=True)
class ImportOptions:
    name: str
    fmt: str = "auto"
    source: str = ""
    handling: str = ""
    scheme: str = ""
    category_zero: str = DEFAULT_CATEGORY_ZERO
    known_good: bool | None = None
    pdq_threshold: int = 31
    min_quality: int = 50
    plain_kind: str | None = None

    def identity(self) -> dict[str, Any]:
        """The options that change what an import produces (re-import with these = no change)."""
        keys = ("fmt", "scheme", "category_zero", "known_good", "pdq_threshold", "min_quality")
        return {k: getattr(self, k) for k in (*keys, "plain_kind")}


@dataclass
class ListMeta:
    name: str
    format: str
    source: str
    handling: str
    scheme: str
    category_zero: str
    known_good: bool
    pdq_threshold: int
    min_quality: int
    imported_at: str
    file: str
    file_sha256: str
    file_size: int
    options: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)
    veriscan_version: str = __version__

    @classmethod
    def load(cls, folder: Path) -> ListMeta:
        try:
            data = json.loads((folder / META).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise LibraryError(f"{folder} is not a readable list folder: {exc}") from exc


@dataclass
class ImportReport:
    meta: ListMeta
    changed: bool
    first_bad: list[tuple[int, str]] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                digest.update(child.relative_to(path).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(child.read_bytes()).digest())
        return digest.hexdigest()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _valid_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name or len(name) > 100:
        raise LibraryError(f"invalid list name {name!r}: use letters, digits, '-', '_' or '.'")
    if not all(c.isalnum() or c in "-_." for c in name):
        raise LibraryError(f"invalid list name {name!r}: use letters, digits, '-', '_' or '.'")
    return name


def detect_format(path: Path, formats: Sequence[ListFormat] | None = None) -> str:
    """The one registered list format whose ``sniff`` recognises ``path``."""
    chosen = list_formats() if formats is None else formats
    head = read_head(path) if path.is_file() else b""
    if path.is_file() and head_kind(head) is None:
        raise ListFormatError(f"{path}: empty file, nothing to import")
    said_yes = [f for f in chosen if f.sniff(path, head)]
    found = [f.id for f in said_yes if not f.fallback] or [f.id for f in said_yes]
    if len(found) != 1:
        said = f"looks like {', '.join(found)}" if found else "is in no known list format"
        raise ListFormatError(f"{path} {said}: pass --format")
    return found[0]


class Library:
    """The list folders under ``root``; imports read through the registered list formats and
    index through the registered signal types (both from the installed plugins by default)."""

    def __init__(
        self,
        root: Path,
        signals: Sequence[SignalType[Any]] | None = None,
        formats: Sequence[ListFormat] | None = None,
    ) -> None:
        self.root = root
        self._signals = signals
        self._formats = formats

    @property
    def signals(self) -> Sequence[SignalType[Any]]:
        if self._signals is None:
            self._signals = signal_types()
        return self._signals

    @property
    def formats(self) -> dict[str, ListFormat]:
        if self._formats is None:
            self._formats = list_formats()
        return {f.id: f for f in self._formats}

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / META).is_file())

    def folder(self, name: str) -> Path:
        folder = self.root / _valid_name(name)
        if not (folder / META).is_file():
            known = ", ".join(self.names()) or "none"
            raise LibraryError(f"no list named {name!r} in {self.root} (lists: {known})")
        return folder

    def meta(self, name: str) -> ListMeta:
        return ListMeta.load(self.folder(name))

    def remove(self, name: str) -> None:
        shutil.rmtree(self.folder(name))

    def import_list(
        self, path: Path, options: ImportOptions, replace: bool = False
    ) -> ImportReport:
        try:
            return self._import(path, options, replace)
        except (ListFormatError, OSError) as exc:
            text = str(exc)
            raise LibraryError(text if str(path) in text else f"{path}: {text}") from exc

    def _import(self, path: Path, options: ImportOptions, replace: bool) -> ImportReport:
        name = _valid_name(options.name)
        if not path.exists():
            raise LibraryError(f"{path} does not exist")
        formats = self.formats
        auto = options.fmt == "auto"
        fmt = detect_format(path, list(formats.values())) if auto else options.fmt
        if fmt not in formats:
            known = ", ".join(("auto", *formats))
            raise LibraryError(f"unknown list format {fmt!r} (one of {known})")
        reader = formats[fmt]
        try:
            scheme = load_scheme(options.scheme or reader.scheme(path) or "US")
        except ValueError as exc:
            raise LibraryError(str(exc)) from exc
        sha = file_sha256(path)
        target = self.root / name
        if (target / META).is_file():
            old = ListMeta.load(target)
            if old.file_sha256 == sha and old.options == options.identity():
                return ImportReport(old, changed=False)
            if not replace:
                raise LibraryError(
                    f"list {name!r} exists with other content or options; "
                    "pass --replace to replace it, or choose another name"
                )
        self.root.mkdir(parents=True, exist_ok=True)
        work = self.root / f".{name}.importing-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            read = ReadOptions(scheme, options.category_zero, options.plain_kind)
            events = reader.read(path, read)
            counts = write_list(work, events, options.min_quality, self.signals)
            known_good = reader.known_good if options.known_good is None else options.known_good
            meta = ListMeta(
                name=name,
                format=fmt,
                source=options.source or path.name,
                handling=options.handling,
                scheme=scheme.name,
                category_zero=options.category_zero,
                known_good=known_good,
                pdq_threshold=options.pdq_threshold,
                min_quality=options.min_quality,
                imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
                file=str(path.resolve()),
                file_sha256=sha,
                file_size=path.stat().st_size if path.is_file() else 0,
                options=options.identity(),
                counts=counts.as_dict(),
            )
            if Path(options.scheme).suffix == ".toml" and Path(options.scheme).is_file():
                shutil.copy(options.scheme, work / "scheme.toml")
            (work / META).write_text(json.dumps(asdict(meta), indent=2), encoding="utf-8")
            if counts.records == 0:
                raise LibraryError(f"{path}: no usable entries ({counts.bad_lines} bad lines)")
            old_dir = self.root / f".{name}.old-{os.getpid()}"
            if target.exists():
                target.rename(old_dir)
            work.rename(target)
            shutil.rmtree(old_dir, ignore_errors=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return ImportReport(meta, changed=True, first_bad=counts.first_bad)
