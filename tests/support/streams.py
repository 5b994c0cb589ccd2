"""Streams that behave like evidence read from a device or a pipe."""

from __future__ import annotations

import io
from typing import BinaryIO


class NonSeekable(io.RawIOBase):
    """Forward reads only, in pieces of at most 4 KiB."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def pipe(data: bytes) -> BinaryIO:
    """Read forward only, in small pieces, as evidence streamed from a device would be."""
    return io.BufferedReader(NonSeekable(data), 4096)
