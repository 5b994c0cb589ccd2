"""Read-only streams over bytes inside an image: one file system attribute, or a carved range.

Content is streamed straight from the image: nothing is extracted to disk. A stream that ends
before its declared size raises instead of returning short data, so a truncated image becomes a
recorded read problem, never a silently wrong hash.
"""

from __future__ import annotations

import io
from typing import Any

from veriscan.sources.disk.media import Media, MediaError


class _SizedStream(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self._size = size
        self._pos = 0

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
        data = self._read_at(self._pos, want)
        if not data:
            raise OSError(
                f"image ended at byte {self._pos} of {self._size} of this file (truncated image?)"
            )
        n = len(data)
        view[:n] = data
        self._pos += n
        return n

    def _read_at(self, offset: int, length: int) -> bytes:
        raise NotImplementedError


class AttributeStream(_SizedStream):
    """One data attribute of one file (its default data, or an NTFS alternate stream)."""

    def __init__(self, tsk_file: Any, size: int, attr_type: Any, attr_id: int) -> None:
        super().__init__(size)
        self._file = tsk_file
        self._type = attr_type
        self._id = attr_id

    def _read_at(self, offset: int, length: int) -> bytes:
        try:
            data = self._file.read_random(offset, length, self._type, self._id)
        except (MediaError, RuntimeError) as exc:
            raise OSError(str(exc)) from exc
        return bytes(data)


class RangeStream(_SizedStream):
    """A run of bytes of the media itself (a carved file)."""

    def __init__(self, media: Media, offset: int, size: int) -> None:
        super().__init__(size)
        self._media = media
        self._offset = offset

    def _read_at(self, offset: int, length: int) -> bytes:
        try:
            return self._media.read(self._offset + offset, length)
        except MediaError as exc:
            raise OSError(str(exc)) from exc
