"""Walking one file system through The Sleuth Kit: allocated and deleted files, streams, times.

Each file becomes an :class:`Item` whose ``address`` (volume offset, inode, attribute) lets a
worker reopen it without a path lookup, which deleted files and duplicated names would defeat.
While walking, the data runs of every allocated entry are collected: what no run covers is the
file system's unallocated space, which the carver searches afterwards.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Final

from veriscan.domain import Item, ItemKind, Locator, Problem, ProblemCode
from veriscan.names import escape_name, escape_path
from veriscan.sources.disk.volumes import SOURCE, TSK_ERRORS, Volume

FS_FILE: Final = 0
MEDIA_RANGE: Final = 1
_TIMES: Final = (
    ("modified", "mtime"),
    ("accessed", "atime"),
    ("changed", "ctime"),
    ("born", "crtime"),
)
_NTFS_RESERVED_INODES: Final = 27  # $MFT … $Extend and the reserved entries up to 26
_NTFS_ROOT: Final = 5
_ORPHANS: Final = "$OrphanFiles/"
_FAT_LABEL: Final = "(Volume Label Entry)"
_EXFAT_SYSTEM: Final = frozenset(
    {"$ALLOC_BITMAP", "$UPCASE_TABLE", "$VOLUME_GUID_ENTRY", "$TEXFAT"}
)
_MAX_DEPTH: Final = 256


class RunCollector:
    """Allocated (start block, count) pairs, kept in a flat int64 array to stay small."""

    def __init__(self) -> None:
        self.values = array("q")

    def add_file(self, entry: Any) -> None:
        try:
            for attr in entry:
                for run in attr:
                    if int(run.flags) & 0x3 == 0 and int(run.len) > 0:
                        self.values.append(int(run.addr))
                        self.values.append(int(run.len))
        except TSK_ERRORS:
            return

    def pairs(self) -> Iterator[tuple[int, int]]:
        v = self.values
        for i in range(0, len(v), 2):
            yield v[i], v[i + 1]


def decode_name(raw: bytes) -> str:
    """Names become locator segments losslessly: never empty; '/', bad bytes, controls escaped."""
    return escape_name(raw.decode("utf-8", "surrogateescape")) or "_"


def _times(meta: Any) -> tuple[tuple[str, float], ...]:
    out: list[tuple[str, float]] = []
    for label, attr in _TIMES:
        seconds = int(getattr(meta, attr, 0) or 0)
        if seconds > 0:
            nano = int(getattr(meta, f"{attr}_nano", 0) or 0)
            out.append((label, seconds + nano / 1e9))
    return tuple(out)


class FsWalker:
    """Yields the items of one volume's file system, depth first, names sorted per folder."""

    def __init__(self, image_name: str, vol: Volume, runs: RunCollector | None) -> None:
        import pytsk3

        self._tsk = pytsk3
        self._image = image_name
        self._vol = vol
        self._fs = vol.fs
        self._runs = runs
        self._ntfs = vol.fs_type == "ntfs"
        self._fat = (vol.fs_type or "").startswith(("fat", "exfat"))
        self._visited: set[int] = set()
        self._unalloc = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
        self._meta_unalloc = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
        self._data_type = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
        self._default_type = int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT)

    def _locator(self, rel: str) -> Locator:
        return Locator((self._image, self._vol.prefix + rel))

    def items(self) -> Iterator[Item]:
        info = self._fs.info
        if self._runs is not None:
            for inum in {int(info.root_inum), int(info.journ_inum or 0)} - {0}:
                try:
                    self._runs.add_file(self._fs.open_meta(inode=inum))
                except TSK_ERRORS:
                    continue
        yield from self._walk(int(info.root_inum), "", 0)

    def _walk(self, inode: int, rel: str, depth: int) -> Iterator[Item]:
        if inode in self._visited:
            return
        self._visited.add(inode)
        if depth > _MAX_DEPTH:
            yield self._problem_item(
                rel, "folder nesting too deep: not walked further", ProblemCode.TOO_DEEP
            )
            return
        try:
            directory = self._fs.open_dir(inode=inode)
            entries = [e for e in directory if e.info.name.name not in (b".", b"..")]
        except TSK_ERRORS:
            yield self._problem_item(
                rel or ".",
                "cannot list folder: its directory data cannot be read",
                ProblemCode.UNREADABLE,
            )
            return
        entries.sort(key=lambda e: (e.info.name.name, int(e.info.name.flags)))
        names: set[str] = set()
        subdirs: list[tuple[int, str]] = []
        for entry in entries:
            yield from self._entry(entry, rel, names, subdirs)
        for child, child_rel in subdirs:
            yield from self._walk(child, child_rel, depth + 1)

    def _entry(
        self, entry: Any, rel: str, names: set[str], subdirs: list[tuple[int, str]]
    ) -> Iterator[Item]:
        tsk = self._tsk
        name_info, meta = entry.info.name, entry.info.meta
        name = decode_name(name_info.name)
        name_deleted = bool(int(name_info.flags) & self._unalloc)
        if meta is None:
            # a deleted name is evidence that a file existed; TSK's orphan names are not names
            if name_deleted and not rel.startswith(_ORPHANS):
                yield self._special(
                    rel, name, names, "deleted name without metadata: content not recoverable"
                )
            return
        meta_deleted = bool(int(meta.flags) & self._meta_unalloc)
        deleted = name_deleted or meta_deleted
        inode = int(meta.addr)
        mtype = meta.type
        if self._runs is not None and not deleted:
            self._runs.add_file(entry)
        if self._is_system(inode, rel, name):
            return
        if name_deleted and not meta_deleted:
            yield self._special(
                rel,
                name,
                names,
                f"deleted name whose inode {inode} now belongs to another file: not read",
                code=ProblemCode.DELETED_REALLOCATED,
            )
            return
        if mtype in (tsk.TSK_FS_META_TYPE_DIR, tsk.TSK_FS_META_TYPE_VIRT_DIR):
            subdirs.append((inode, f"{rel}{self._unique(name, names, deleted, inode)}/"))
            return
        if mtype == tsk.TSK_FS_META_TYPE_VIRT:
            return
        times = _times(meta)
        base = Item(
            self._locator(rel + self._unique(name, names, deleted, inode)),
            None,
            dict(times).get("modified"),
            deleted=deleted,
            fs_times=times,
        )
        if mtype == tsk.TSK_FS_META_TYPE_LNK:
            target = self._link_target(entry, int(meta.size))
            yield replace(base, kind=ItemKind.SYMLINK, link_target=target)
        elif mtype != tsk.TSK_FS_META_TYPE_REG:
            problem = Problem(SOURCE, "not a regular file (device, socket or fifo): not read")
            yield replace(base, kind=ItemKind.SPECIAL, problems=(problem,))
        else:
            yield from self._file_items(entry, replace(base, size=int(meta.size)), inode)

    def _is_system(self, inode: int, rel: str, name: str) -> bool:
        """File-system bookkeeping (NTFS $MFT…, exFAT's bitmap): allocated, never evidence."""
        if self._ntfs:
            return inode < _NTFS_RESERVED_INODES and inode != _NTFS_ROOT
        if rel or not self._fat:
            return False
        return name in _EXFAT_SYSTEM or name.endswith(_FAT_LABEL)

    def _file_items(self, entry: Any, base: Item, inode: int) -> Iterator[Item]:
        if base.deleted and (base.size or 0) > 0 and not self._has_content(entry):
            problem = Problem(
                SOURCE,
                "deleted file whose data blocks are no longer recorded: content not "
                "recoverable from the file system (see carved items)",
                ProblemCode.DELETED_UNRECOVERABLE,
            )
            yield replace(base, kind=ItemKind.SPECIAL, problems=(problem,))
            return
        yield replace(base, address=(FS_FILE, self._vol.offset, inode, self._default_type, -1))
        if self._ntfs:
            yield from self._streams(entry, base, inode)

    def _has_content(self, entry: Any) -> bool:
        """Whether a deleted file still records where its data is (ext4 zeroes this on delete)."""
        try:
            for attr in entry:
                if int(attr.info.flags) & 0x4:  # TSK_FS_ATTR_RES: data inside the metadata
                    return True
                if any(int(r.len) > 0 and int(r.addr) > 0 for r in attr):
                    return True
        except TSK_ERRORS:
            return False
        return False

    def _streams(self, entry: Any, base: Item, inode: int) -> Iterator[Item]:
        """NTFS alternate data streams, as ``file:stream`` (the Windows notation)."""
        try:
            attrs = [a for a in entry if int(a.info.type) == self._data_type and a.info.name]
        except TSK_ERRORS:
            return
        image, path = base.locator.segments
        for attr in attrs:
            stream = decode_name(attr.info.name)
            if stream == "$Data":
                continue
            yield replace(
                base,
                locator=Locator((image, f"{path}:{stream}")),
                size=int(attr.info.size),
                address=(FS_FILE, self._vol.offset, inode, self._data_type, int(attr.info.id)),
            )

    def _link_target(self, entry: Any, size: int) -> str:
        try:
            raw = entry.read_random(0, min(size, 4096)) if size else b""
        except TSK_ERRORS:
            return "<unreadable>"
        return escape_path(bytes(raw).decode("utf-8", "surrogateescape"))

    def _unique(self, name: str, names: set[str], deleted: bool, inode: int) -> str:
        """Names stay unique in a folder: a deleted file may share its name with a live one."""
        candidate = name
        if candidate in names:
            candidate = f"{name} (deleted, inode {inode})" if deleted else f"{name} (inode {inode})"
            n = 2
            while candidate in names:
                candidate = f"{name} (inode {inode}, {n})"
                n += 1
        names.add(candidate)
        return candidate

    def _special(
        self,
        rel: str,
        name: str,
        names: set[str],
        message: str,
        *,
        code: ProblemCode = ProblemCode.DELETED_NO_META,
    ) -> Item:
        unique = self._unique(name, names, True, 0)
        return Item(
            self._locator(rel + unique),
            None,
            None,
            ItemKind.SPECIAL,
            problems=(Problem(SOURCE, message, code),),
            deleted=True,
        )

    def _problem_item(self, rel: str, message: str, code: ProblemCode) -> Item:
        return Item(
            self._locator(rel.rstrip("/") or "."),
            None,
            None,
            ItemKind.SPECIAL,
            problems=(Problem(SOURCE, message, code),),
        )
