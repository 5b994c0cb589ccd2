"""Forensic disk images as evidence: every file of every readable volume, deleted ones, carvings.

Items are addressed as ``laptop.E01!/p2/Users/x/a.jpg`` (volume, then path in the file
system) and carry their inode so a worker process reopens them directly. After each file system
is walked, its unallocated space is carved; unclaimed space between partitions and volumes that
hold no readable file system are carved too, except encrypted ones (carving ciphertext finds
nothing and would only cost time).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

from veriscan.domain import JSON, Item, ItemKind, Locator, Problem, ProblemCode
from veriscan.names import unescape
from veriscan.sources.base import EvidenceSource, SourceError
from veriscan.sources.carve import carve
from veriscan.sources.disk.media import (
    NEEDS_DISK,
    Media,
    MediaError,
    looks_like_image,
    open_media,
)
from veriscan.sources.disk.streams import AttributeStream, RangeStream
from veriscan.sources.disk.volumes import (
    SOURCE,
    TSK_ERRORS,
    TskImage,
    Volume,
    discover,
    free_ranges,
)
from veriscan.sources.disk.walk import FS_FILE, MEDIA_RANGE, FsWalker, RunCollector

UNALLOCATED: Final = "$unallocated"
UNPARSED: Final = "$unparsed"
_CARVED_NAME: Final = re.compile(r"(?:^|/)\$(?:unallocated|unparsed)/offset-(\d+)\.\w+$")


class OpenImage:
    """Media, TSK image and file systems of one image, opened once per process and reused."""

    def __init__(self, path: Path) -> None:
        try:
            import pytsk3  # noqa: F401
        except ImportError as exc:
            raise SourceError(NEEDS_DISK) from exc
        self.media: Media = open_media(path)
        self.img = TskImage.wrap(self.media)
        self._fs: dict[int, Any] = {}

    def fs_at(self, offset: int) -> Any:
        fs = self._fs.get(offset)
        if fs is None:
            import pytsk3

            fs = self._fs[offset] = pytsk3.FS_Info(self.img, offset=offset)
        return fs

    def close(self) -> None:
        self._fs.clear()
        self.media.close()


_cache: dict[str, OpenImage] = {}


def _cached(path: Path) -> OpenImage:
    key = str(path)
    opened = _cache.get(key)
    if opened is None:
        opened = _cache[key] = OpenImage(path)
    return opened


def _stored_times_as_utc() -> None:
    """FAT keeps local wall-clock time without a zone and TSK converts it with the process's
    TZ; fixing TZ to UTC records the stored time unshifted, whatever zone the examiner's machine
    is in (the README says how to read such times)."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


class DiskSource(EvidenceSource):
    id = "disk"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return looks_like_image(path)

    def items(self) -> Iterator[Item]:
        yield from self._items(carving=self.settings.carve)

    def census(self) -> Iterator[Item]:
        """Files only: counting for the progress bar must not carve the image a second time."""
        yield from self._items(carving=False)

    def describe(self) -> dict[str, JSON]:
        """Format, segments, stored hashes, acquisition headers and volumes, kept with the case."""
        opened = OpenImage(self.path)
        try:
            volumes, gaps = discover(opened.media, opened.img)
            return {
                **opened.media.info.as_dict(),
                "volumes": [v.as_dict() for v in volumes],
                "unpartitioned": [{"offset": g.offset, "length": g.length} for g in gaps],
            }
        finally:
            opened.close()

    def acquisition(self) -> tuple[str | None, str]:
        with open_media(self.path) as media:
            stored = media.info.stored_hashes
        for algorithm in ("sha256", "sha1", "md5"):
            if algorithm in stored:
                return stored[algorithm], (
                    f"{algorithm} of the media as stored in the image at acquisition; "
                    "not verified by this run (verify with --verify or veriscan verify-image)"
                )
        return None, "raw image with no stored hash: not hashed (use --verify to hash the media)"

    def _items(self, *, carving: bool) -> Iterator[Item]:
        if not self.accepts(self.path):
            raise SourceError(f"{self.path} is not a disk image")
        _stored_times_as_utc()
        opened = OpenImage(self.path)
        try:
            volumes, gaps = discover(opened.media, opened.img)
            for vol in volumes:
                yield from self._volume(opened, vol, carving)
            if carving:
                for gap in gaps:
                    yield from self._carve(opened.media, gap.offset, gap.length, UNALLOCATED)
        finally:
            opened.close()

    def _volume(self, opened: OpenImage, vol: Volume, carving: bool) -> Iterator[Item]:
        name = self.path.name
        if vol.problem is not None:
            where = (name, vol.name) if vol.name else (name,)
            yield Item(
                Locator(where),
                vol.length,
                None,
                ItemKind.SPECIAL,
                encrypted=vol.encrypted,
                problems=(vol.problem,),
            )
        if vol.fs is not None:
            runs = RunCollector() if carving else None
            yield from FsWalker(name, vol, runs).items()
            if runs is not None:
                yield from self._carve_free(opened.media, vol, runs)
        elif carving and not vol.encrypted:
            end = min(vol.offset + vol.length, opened.media.size)
            yield from self._carve(
                opened.media, vol.offset, end - vol.offset, f"{vol.prefix}{UNPARSED}"
            )

    def _carve_free(self, media: Media, vol: Volume, runs: RunCollector) -> Iterator[Item]:
        info = vol.fs.info
        block = int(info.block_size)
        limit = min(vol.offset + vol.length, media.size)
        for start, count in free_ranges(int(info.first_block), int(info.last_block), runs.pairs()):
            offset = vol.offset + start * block
            length = min(count * block, limit - offset)
            if length > 0:
                yield from self._carve(media, offset, length, f"{vol.prefix}{UNALLOCATED}")

    def _carve(self, media: Media, offset: int, length: int, folder: str) -> Iterator[Item]:
        name = self.path.name
        length = min(length, media.size - offset)
        if length <= 0:
            return

        def read_at(at: int, n: int) -> bytes:
            return media.read(offset + at, min(n, length - at))

        try:
            for found in carve(read_at, length, max_file_bytes=self.settings.carve_max_file_bytes):
                absolute = offset + found.offset
                yield Item(
                    Locator((name, f"{folder}/offset-{absolute}.{found.extension}")),
                    found.length,
                    None,
                    carved=True,
                    address=(MEDIA_RANGE, absolute, found.length),
                )
        except MediaError as exc:
            yield Item(
                Locator((name, f"{folder}/unreadable-at-{offset}")),
                None,
                None,
                ItemKind.SPECIAL,
                problems=(
                    Problem(
                        SOURCE,
                        f"carving stopped in region at offset {offset}: {exc}",
                        ProblemCode.CARVE_ERROR,
                    ),
                ),
            )

    def open_item(self, item: Item) -> BinaryIO:
        if not item.address:
            return self.open(item.locator)
        opened = _cached(self.path)
        if item.address[0] == MEDIA_RANGE:
            _, offset, length = item.address
            return cast(BinaryIO, RangeStream(opened.media, offset, length))
        if item.address[0] == FS_FILE:
            _, vol_offset, inode, attr_type, attr_id = item.address
            try:
                tsk_file = opened.fs_at(vol_offset).open_meta(inode=inode)
            except TSK_ERRORS as exc:
                raise OSError(f"cannot open inode {inode}: {exc}") from exc
            size = item.size or 0
            return cast(BinaryIO, AttributeStream(tsk_file, size, attr_type, attr_id))
        raise SourceError(f"{item.locator}: unknown disk address {item.address!r}")

    def open(self, locator: Locator) -> BinaryIO:
        """By path, for callers that hold only a locator (deleted files need :meth:`open_item`)."""
        if len(locator.segments) != 2 or locator.segments[0] != self.path.name:
            raise SourceError(f"{locator} is not an item of disk image {self.path.name}")
        opened = _cached(self.path)
        rel = locator.segments[1]
        carved = _CARVED_NAME.search(rel)
        if carved:
            return self._open_carved(opened.media, int(carved[1]), locator)
        volumes, _ = discover(opened.media, opened.img)
        for vol in sorted(volumes, key=lambda v: -len(v.prefix)):
            if vol.fs is not None and rel.startswith(vol.prefix):
                try:
                    tsk_file = vol.fs.open("/" + unescape(rel.removeprefix(vol.prefix)))
                except (*TSK_ERRORS, UnicodeEncodeError) as exc:
                    raise SourceError(f"{locator}: not found by path ({exc})") from exc
                size = int(tsk_file.info.meta.size) if tsk_file.info.meta else 0
                return cast(BinaryIO, AttributeStream(tsk_file, size, 1, -1))
        raise SourceError(f"{locator}: no readable volume holds it")

    def _open_carved(self, media: Media, offset: int, locator: Locator) -> BinaryIO:
        def read_at(at: int, n: int) -> bytes:
            return media.read(offset + at, n)

        window = self.settings.carve_max_file_bytes
        size = min(media.size - offset, window)
        for found in carve(read_at, size, max_file_bytes=window, window=1 << 16):
            if found.offset == 0:
                return cast(BinaryIO, RangeStream(media, offset, found.length))
            break
        raise SourceError(f"{locator}: no carvable file at offset {offset}")
