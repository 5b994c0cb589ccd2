"""Read-only streams over bytes inside an image: one file system attribute, or a carved range.

Content is streamed straight from the image: nothing is extracted to disk. A stream that ends
before its declared size raises instead of returning short data, so a truncated image becomes a
recorded read problem, never a silently wrong hash.
"""

from __future__ import annotations

import io
from typing import Any

from veriscan.sources.carve import ReadAt
from veriscan.sources.disk.media import Media, MediaError


class SizedStream(io.RawIOBase):
    """A seekable read-only stream of ``size`` bytes served by ``read_at(offset, length)``."""

    def __init__(self, size: int, read_at: ReadAt) -> None:
        self._size = size
        self._pos = 0
        self._read_at = read_at

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        try:
            data = self._read_at(self._pos, want)
        except (MediaError, RuntimeError) as exc:  # pytsk3 wraps image-layer failures
            raise OSError(str(exc)) from exc
        if not data:
            raise OSError(
                f"image ended at byte {self._pos} of {self._size} of this file (truncated image?)"
            )
        n = len(data)
        view[:n] = data
        self._pos += n
        return n


class AttributeStream(SizedStream):
    """One data attribute of one file (its default data, or an NTFS alternate stream)."""

    def __init__(self, tsk_file: Any, size: int, attr_type: int, attr_id: int) -> None:
        def read_at(offset: int, length: int) -> bytes:
            return bytes(tsk_file.read_random(offset, length, attr_type, attr_id))

        super().__init__(size, read_at)


class RangeStream(SizedStream):
    """A run of bytes of the media itself (a carved file)."""

    def __init__(self, media: Media, offset: int, size: int) -> None:
        super().__init__(size, lambda at, length: media.read(offset + at, length))
