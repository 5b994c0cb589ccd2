"""Raw digests and their entry ids for one hash kind, spooled to flat files during an import."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class Spool:
    """Raw digests and their entry ids for one hash kind, appended to two flat files."""

    def __init__(self, directory: Path, kind: str) -> None:
        self.path = directory / f"{kind}.spool"
        self.ids_path = directory / f"{kind}.ids"
        self._data: BinaryIO = self.path.open("wb")
        self._ids: BinaryIO = self.ids_path.open("wb")
        self._buf = bytearray()
        self._id_buf: list[int] = []

    def add(self, digest: bytes, entry: int) -> None:
        self._buf += digest
        self._id_buf.append(entry)
        if len(self._id_buf) >= 65536:
            self.flush()

    def add_block(self, digests: np.ndarray[Any, np.dtype[np.uint8]], first_entry: int) -> None:
        self.flush()
        self._data.write(np.ascontiguousarray(digests).tobytes())
        ids = np.arange(first_entry, first_entry + len(digests), dtype=np.uint32)
        self._ids.write(ids.tobytes())

    def flush(self) -> None:
        self._data.write(self._buf)
        self._ids.write(np.asarray(self._id_buf, dtype=np.uint32).tobytes())
        self._buf.clear()
        self._id_buf.clear()

    def finish(
        self, width: int
    ) -> tuple[np.ndarray[Any, np.dtype[np.uint8]], np.ndarray[Any, np.dtype[np.uint32]]]:
        self.flush()
        self._data.close()
        self._ids.close()
        digests = np.fromfile(self.path, dtype=np.uint8).reshape(-1, width)
        ids = np.fromfile(self.ids_path, dtype=np.uint32)
        self.path.unlink()
        self.ids_path.unlink()
        return digests, ids
