"""From media to volumes: partition tables (MBR with extended, GPT…), file systems, what is left.

The Sleuth Kit finds the partitions; each allocated one is named ``p1``, ``p2``… in table order
(the dfVFS convention examiners know). A partition that holds no file system TSK can read is
checked for encryption signatures so it is reported as what it is, with its offset, instead of
as an error. Space no partition claims is kept so the carver can search it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from veriscan.domain import Problem, ProblemCode
from veriscan.sources.disk.media import Media, MediaError
from veriscan.sources.disk.tables import Entry, read_table

SOURCE: Final = "disk"
# pytsk3 reports a failed read in the image layer as RuntimeError, its own failures as OSError
TSK_ERRORS: Final = (OSError, RuntimeError)
_SIGNATURES: Final = (
    (0, b"LUKS\xba\xbe", "LUKS encrypted volume"),
    (3, b"-FVE-FS-", "BitLocker encrypted volume"),
    (88, b"CS", "Core Storage volume (FileVault 2 encryption)"),
)
_APFS: Final = (32, b"NXSB")


@dataclass
class Volume:
    """One place a file system may live; ``name`` is the locator prefix (empty for a bare FS)."""

    name: str
    offset: int
    length: int
    description: str
    fs: Any = None
    fs_type: str | None = None
    problem: Problem | None = None
    encrypted: bool = False

    @property
    def prefix(self) -> str:
        return f"{self.name}/" if self.name else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name or "(whole image)",
            "offset": self.offset,
            "length": self.length,
            "description": self.description,
            "file_system": self.fs_type,
            "encrypted": self.encrypted,
            "problem": self.problem.message if self.problem else None,
        }


@dataclass(frozen=True)
class Gap:
    """Bytes of the media outside every partition (between, after, or instead of them)."""

    offset: int
    length: int


class TskImage:
    """Builds pytsk3's image object over :class:`Media`, so TSK reads EWF and split raw alike."""

    @staticmethod
    def wrap(media: Media) -> Any:
        import pytsk3

        class _Img(pytsk3.Img_Info):  # type: ignore[misc]
            def __init__(self) -> None:
                self._media = media
                super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

            def close(self) -> None:
                """The media is closed by its owner."""

            def read(self, offset: int, size: int) -> bytes:
                try:
                    return media.read(offset, size)
                except MediaError as exc:
                    raise OSError(str(exc)) from exc

            def get_size(self) -> int:
                return media.size

        return _Img()


def fs_type_name(fs: Any) -> str:
    import pytsk3

    code = int(fs.info.ftype)
    for name in dir(pytsk3):
        if name.startswith("TSK_FS_TYPE_") and not name.endswith(("_DETECT", "_ENUM")):
            value = getattr(pytsk3, name)
            if isinstance(value, int) and value == code:
                return name.removeprefix("TSK_FS_TYPE_").lower()
    return f"type {code:#x}"


def discover(media: Media, img: Any) -> tuple[list[Volume], list[Gap]]:
    """All volumes (each with an open FS or a problem saying why not) and the unclaimed gaps."""
    import pytsk3

    try:
        vs = pytsk3.Volume_Info(img)
        parts = [_Part.from_tsk(p, int(vs.info.block_size)) for p in vs]
    except TSK_ERRORS:
        parts = []
    whole: Volume | None = None
    if not parts:
        whole = Volume("", 0, media.size, "no partition table: whole image")
        _open_fs(media, img, whole)
        if whole.fs is not None or whole.encrypted:
            return [whole], []
    if _only_protective(parts) or not parts:
        # TSK rejects a table whose partitions run past the end of the image, which is exactly
        # the truncated image an examiner must be told about: read the table ourselves.
        table = _safe_table(media)
        if table:
            parts = [_Part(e.start, e.length, e.description, True) for e in table]
    if not parts and whole is not None:
        whole.problem = Problem(
            SOURCE,
            "no partition table and no file system recognised: image searched by carving only",
            ProblemCode.NO_VOLUMES,
        )
        return [whole], []
    volumes: list[Volume] = []
    gaps: list[Gap] = []
    for part in parts:
        if part.allocated:
            vol = Volume(f"p{len(volumes) + 1}", part.start, part.length, part.description)
            _open_fs(media, img, vol)
            volumes.append(vol)
        elif part.allocated is False:
            length = max(0, min(part.length, media.size - part.start))
            if length:
                gaps.append(Gap(part.start, length))
    return volumes, gaps


@dataclass(frozen=True)
class _Part:
    start: int
    length: int
    description: str
    allocated: bool | None  # None: a table or metadata slot, neither a volume nor free space

    @classmethod
    def from_tsk(cls, part: Any, block: int) -> _Part:
        import pytsk3

        flags = int(part.flags)
        desc = part.desc
        text = desc.decode("utf-8", "replace") if isinstance(desc, bytes) else str(desc)
        allocated: bool | None = None
        if flags & int(pytsk3.TSK_VS_PART_FLAG_ALLOC):
            allocated = True
        elif flags & int(pytsk3.TSK_VS_PART_FLAG_UNALLOC):
            allocated = False
        return cls(int(part.start) * block, int(part.len) * block, text, allocated)


def _only_protective(parts: list[_Part]) -> bool:
    used = [p for p in parts if p.allocated]
    return len(used) == 1 and "GPT Safety" in used[0].description


def _safe_table(media: Media) -> list[Entry]:
    try:
        return read_table(media)
    except MediaError:
        return []


def _open_fs(media: Media, img: Any, vol: Volume) -> None:
    import pytsk3

    end = vol.offset + vol.length
    if end > media.size:
        vol.problem = Problem(
            SOURCE,
            f"{vol.name or 'volume'} ({vol.description}) at offset {vol.offset} runs "
            f"{end - media.size} bytes past the end of the image (truncated image?)",
            ProblemCode.TRUNCATED_IMAGE,
        )
    head = _read(media, vol.offset, 4096)
    for at, magic, what in _SIGNATURES:
        if head[at : at + len(magic)] == magic:
            vol.encrypted = True
            vol.problem = Problem(
                SOURCE,
                f"{what} at offset {vol.offset}: encrypted volume, not analysed",
                ProblemCode.ENCRYPTED,
            )
            return
    try:
        vol.fs = pytsk3.FS_Info(img, offset=vol.offset)
        vol.fs_type = fs_type_name(vol.fs)
        return
    except TSK_ERRORS:
        pass
    at, magic = _APFS
    if head[at : at + len(magic)] == magic:
        vol.problem = Problem(
            SOURCE,
            f"APFS container at offset {vol.offset}: not analysed (APFS, possibly encrypted, is "
            "not supported by this version); searched by carving only",
            ProblemCode.UNSUPPORTED_FS,
        )
        return
    sample = _read(media, vol.offset, 1 << 20)
    if len(sample) >= 4096 and _entropy(sample) > 7.99:
        vol.problem = Problem(
            SOURCE,
            f"{vol.name or 'volume'} at offset {vol.offset} holds no recognised file system and "
            "looks random: possibly an encrypted volume without a header (e.g. VeraCrypt), "
            "not analysed",
            ProblemCode.ENCRYPTED,
        )
        vol.encrypted = True
        return
    if vol.problem is None:
        vol.problem = Problem(
            SOURCE,
            f"{vol.name or 'volume'} ({vol.description}) at offset {vol.offset}: no supported "
            "file system found; searched by carving only",
            ProblemCode.UNSUPPORTED_FS,
        )


def _read(media: Media, offset: int, length: int) -> bytes:
    """Volume probing reads what exists; a read error means there is nothing to recognise."""
    if offset >= media.size:
        return b""
    try:
        return media.read(offset, length)
    except MediaError:
        return b""


def _entropy(data: bytes) -> float:
    counts = Counter(data)
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def free_ranges(
    first: int, last: int, runs: Iterator[tuple[int, int]], *, min_blocks: int = 1
) -> list[tuple[int, int]]:
    """Blocks in ``[first, last]`` that no run covers, as merged ``(start, count)`` ranges."""
    import numpy as np

    pairs = np.fromiter((v for run in runs for v in run), dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    out: list[tuple[int, int]] = []
    cursor = first
    if len(pairs):
        order = np.argsort(pairs[:, 0], kind="stable")
        pairs = pairs[order]
        for start, count in pairs.tolist():
            if count <= 0:
                continue
            if start > cursor:
                out.append((cursor, min(start, last + 1) - cursor))
            cursor = max(cursor, start + count)
            if cursor > last:
                break
    if cursor <= last:
        out.append((cursor, last + 1 - cursor))
    return [(s, n) for s, n in out if n >= min_blocks]
