"""Zip local headers followed as the bytes stream past, to find pickles anywhere in a checkpoint.

A PyTorch checkpoint is a zip whose ``data.pkl`` is usually its first member, but nothing makes
it so: a file whose ``data.pkl`` comes after twenty tensor members has its pickle far beyond
the bytes captured for sniffing, and torch.load still runs it. The walker reads each local
header, skips the member's data by its stored size (no copy), and keeps the data of members
named ``*.pkl`` (bounded), so every pickle in the archive can be walked without buffering the
archive. It stops at the central directory, at a member whose size is only given after its data
(a data descriptor: the walk cannot know where the next header is), or at MAX_MEMBERS.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

LOCAL = b"PK\x03\x04"
MAX_MEMBERS = 100_000
MAX_CAPTURE = 64 * 1024 * 1024
"""All captured pickle members together; a longer one is walked as far as this reaches."""


@dataclass
class Captured:
    name: str
    method: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def pickle_bytes(self) -> bytes | None:
        """The member's pickle, inflated if needed; None when it cannot be read."""
        if self.method == 0:
            return bytes(self.data)
        if self.method != 8:
            return None
        try:
            return zlib.decompressobj(-15).decompress(bytes(self.data), MAX_CAPTURE)
        except zlib.error:
            return None


class ZipWalker:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.pickles: list[Captured] = []
        self.stopped: str | None = None
        self._buf = bytearray()
        self._skip = 0
        self._capture: Captured | None = None
        self._captured = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk)
        while len(view) and self.stopped is None:
            if self._skip:
                take = min(self._skip, len(view))
                if self._capture is not None:
                    room = MAX_CAPTURE - self._captured
                    self._capture.data += view[: min(take, room)]
                    self._captured += min(take, room)
                    self._capture.truncated |= take > room
                self._skip -= take
                view = view[take:]
                if not self._skip:
                    self._capture = None
                continue
            need = 30 - len(self._buf)
            if need > 0:
                self._buf += view[:need]
                view = view[need:]
                continue
            if self._buf[:4] != LOCAL:
                self.stopped = "central directory" if self._buf[:4] == b"PK\x01\x02" else "end"
                return
            nlen, xlen = struct.unpack_from("<HH", self._buf, 26)
            need = 30 + nlen + xlen - len(self._buf)
            if need > 0:
                self._buf += view[:need]
                view = view[need:]
                if len(self._buf) < 30 + nlen + xlen:
                    continue
            self._header(bytes(self._buf))
            self._buf.clear()

    def _header(self, header: bytes) -> None:
        flags, method = struct.unpack_from("<HH", header, 6)
        size, _, nlen, xlen = struct.unpack_from("<IIHH", header, 18)
        name = header[30 : 30 + nlen].decode("utf-8", "replace")
        if size == 0xFFFFFFFF:
            found = zip64_compressed_size(header[30 + nlen : 30 + nlen + xlen])
            size = -1 if found is None else found
        self.names.append(name)
        self._capture = None
        if (flags & 0x08 and size == 0) or size < 0:
            self.stopped = "a member whose size follows its data"
            return
        if len(self.names) >= MAX_MEMBERS:
            self.stopped = f"more than {MAX_MEMBERS} members"
            return
        self._skip = size
        if name.endswith(".pkl"):
            self._capture = Captured(name, method)
            self.pickles.append(self._capture)
            self._capture.truncated = size > MAX_CAPTURE - self._captured

    def has_torch_pickle(self) -> bool:
        return any(p.name.rsplit("/", 1)[-1] == "data.pkl" for p in self.pickles)


def zip64_compressed_size(extra: bytes) -> int | None:
    """The compressed size a zip64 extra field holds, where a local header says 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 0x0001 and length >= 16:
            return int(struct.unpack_from("<Q", extra, pos + 12)[0])
        pos += 4 + length
    return None
