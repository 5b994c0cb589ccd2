"""tar, and gzip/bzip2/xz streams (a compressed tar, or one compressed file named ``content``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from veriscan.domain import Problem
from veriscan.sources.archives.base import ArchiveFormat, Entry, ExpansionBudget
from veriscan.sources.compressed import MAGIC
from veriscan.sources.tar_members import read_tar


class _TarFamily(ArchiveFormat):
    codec: ClassVar[str | None]
    magic: ClassVar[bytes]

    def sniff(self, head: bytes) -> bool:
        return head.startswith(self.magic)

    def read(
        self, stream: BinaryIO, budget: ExpansionBudget, damage: list[Problem]
    ) -> Iterator[Entry]:
        return read_tar(stream, budget, self.codec, damage)


class TarFormat(_TarFamily):
    id = "tar"
    mime = "application/x-tar"
    codec = None
    magic = b"ustar"

    def sniff(self, head: bytes) -> bool:
        return head[257:262] == self.magic


class GzipFormat(_TarFamily):
    id = "gzip"
    mime = "application/gzip"
    codec = "gzip"
    magic = MAGIC["gzip"]


class Bzip2Format(_TarFamily):
    id = "bzip2"
    mime = "application/x-bzip2"
    codec = "bzip2"
    magic = MAGIC["bzip2"]


class XzFormat(_TarFamily):
    id = "xz"
    mime = "application/x-xz"
    codec = "xz"
    magic = MAGIC["xz"]
