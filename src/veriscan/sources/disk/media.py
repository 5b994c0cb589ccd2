"""The bytes of a seized device, whatever container they arrived in: raw, split raw or EWF (E01).

Every format is read through one small interface (``size`` and ``read(offset, length)``) so The
Sleuth Kit, the carver and the verifier see the same media. Nothing here can write: raw segments
are opened ``O_RDONLY`` (and ``O_NOATIME`` where allowed) and libewf is opened in mode ``"r"``.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from veriscan.sources.base import SourceError

EWF_SIGNATURES: Final = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00")
RAW_SUFFIXES: Final = frozenset({".dd", ".raw", ".img", ".iso", ".bin", ".001"})
_NOATIME: Final = getattr(os, "O_NOATIME", 0)
NEEDS_DISK: Final = "disk images need the [disk] extra: pip install 'veriscan[disk]'"
_SPLIT: Final = re.compile(r"^(?P<stem>.+)\.(?P<num>\d{3})$")


class MediaError(SourceError):
    """The image cannot be opened or read (missing segment, unreadable chunk, truncated file)."""


@dataclass
class MediaInfo:
    """What an examiner needs to cite the image: format, segments and what the acquirer stored."""

    format: str
    size: int
    segments: list[str]
    stored_hashes: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "media_size": self.size,
            "segments": self.segments,
            "stored_hashes": self.stored_hashes,
            "headers": self.headers,
        }


class Media(ABC):
    info: MediaInfo

    @property
    def size(self) -> int:
        return self.info.size

    @abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset``; fewer only at the end of the media."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Media:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_ro(path: Path) -> int:
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags | _NOATIME)
    except PermissionError:
        return os.open(path, flags)


class RawMedia(Media):
    """One raw file, or a split raw set read as one: ``disk.001``, ``disk.002``, …"""

    def __init__(self, segments: list[Path]) -> None:
        self._fds: list[int] = []
        self._starts: list[int] = []
        total = 0
        try:
            for seg in segments:
                fd = _open_ro(seg)
                self._fds.append(fd)
                self._starts.append(total)
                total += os.fstat(fd).st_size
        except OSError as exc:
            self.close()
            raise MediaError(f"cannot open image segment: {exc.strerror or exc}") from exc
        kind = "raw" if len(segments) == 1 else "split-raw"
        self.info = MediaInfo(kind, total, [s.name for s in segments])

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise MediaError(f"invalid read at {offset} of {length} bytes")
        out = bytearray()
        index = bisect_right(self._starts, offset) - 1
        while length > 0 and 0 <= index < len(self._fds) and offset < self.size:
            local = offset - self._starts[index]
            end = self._starts[index + 1] if index + 1 < len(self._starts) else self.size
            want = min(length, end - offset)
            try:
                data = os.pread(self._fds[index], want, local)
            except OSError as exc:
                raise MediaError(f"read failed at offset {offset}: {exc.strerror or exc}") from exc
            if not data:
                break
            out += data
            offset += len(data)
            length -= len(data)
            if len(data) == want:
                index += 1
        return bytes(out)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


class EwfMedia(Media):
    """An EWF set (E01/E02…, Ex01) through libewf, which checks chunk checksums as it reads."""

    def __init__(self, path: Path) -> None:
        try:
            import pyewf
        except ImportError as exc:
            raise MediaError(NEEDS_DISK) from exc
        try:
            names = pyewf.glob(str(path))
            handle = pyewf.handle()
            handle.open(names, "r")
        except (OSError, MemoryError, RuntimeError, ValueError) as exc:
            raise MediaError(f"cannot open EWF image {path.name}: {_first_line(exc)}") from exc
        self._handle: Any = handle
        self.info = MediaInfo(
            "ewf",
            int(handle.get_media_size()),
            [Path(n).name for n in names],
            stored_hashes=_lower_keys(handle.get_hash_values()),
            headers={k: str(v) for k, v in (handle.get_header_values() or {}).items()},
        )

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        try:
            data: bytes = self._handle.read_buffer_at_offset(length, offset)
        except (OSError, MemoryError, RuntimeError) as exc:
            raise MediaError(f"EWF read failed at offset {offset}: {_first_line(exc)}") from exc
        return data

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _lower_keys(values: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (values or {}).items():
        name = str(key).lower().replace("-", "")
        if value and name in ("md5", "sha1", "sha256"):
            out[name] = str(value).lower()
    return out


def is_ewf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head in EWF_SIGNATURES


def split_segments(path: Path) -> list[Path]:
    """``x.001`` and every consecutive ``x.002``, ``x.003``… beside it; any other file alone."""
    m = _SPLIT.match(path.name)
    if not m or int(m["num"]) != 1:
        return [path]
    segments = [path]
    width = len(m["num"])
    n = 2
    while True:
        nxt = path.with_name(f"{m['stem']}.{n:0{width}d}")
        if not nxt.is_file():
            return segments
        segments.append(nxt)
        n += 1


def looks_like_image(path: Path) -> bool:
    """Picked by content for EWF, by name for raw (raw images have no signature of their own)."""
    if not path.is_file() or path.is_symlink():
        return False
    return is_ewf(path) or path.suffix.lower() in RAW_SUFFIXES


def open_media(path: Path) -> Media:
    if not path.is_file():
        raise MediaError(f"{path} is not a file")
    if is_ewf(path):
        return EwfMedia(path)
    return RawMedia(split_segments(path))
