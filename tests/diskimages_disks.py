"""Partitioned disks, evidence containers and damaged inputs, built from the images of
``diskimages`` with sfdisk, sgdisk and ewf-tools (no root, no mounts, no loop devices).

Session fixtures: import ``disk_fs_images`` from ``diskimages`` together with ``gpt_disk``,
``mbr_disk`` or ``gpt_e01`` from here (pytest looks fixtures up in the test module).

Findings (pytsk3 20260715 with TSK 4.15.0, libewf-python 20260924, ewf-tools 20140813):

* ``sgdisk -q`` exits 0 without writing anything, so the builders call it without ``-q``;
  sgdisk always sleeps one second before its fsync (the slowest step here); sfdisk sleeps
  250 ms and calls sync() unless given --no-reread --no-tell-kernel, as here.
* pyewf: ``pyewf.glob(first_segment)`` lists the segment files
  (it raises ``MemoryError`` rather than ``OSError`` when none exists);
  ``h = pyewf.handle(); h.open(files)``; ``h.get_media_size()`` (also ``h.media_size``),
  ``h.get_bytes_per_sector()``, ``h.get_chunk_size()``, ``h.read(n)``, ``h.seek(off)``,
  ``h.read_buffer_at_offset(n, off)``. Stored hashes: ``h.get_hash_value("MD5")`` /
  ``("SHA1")`` give lower-case hex ``str`` (``None`` when not stored);
  ``h.get_hash_values()`` gives ``{"MD5": ..., "SHA1": ...}``. Header values:
  ``h.get_header_value("case_number")`` and ``h.get_header_values()`` with the keys
  case_number, description, examiner_name, evidence_number, notes, acquiry_date,
  system_date, acquiry_operating_system, acquiry_software_version. pyewf computes no hash
  itself: compare a hash of ``read()`` with the stored one.
* Corrupted chunk (bytes flipped in the stored data of an uncompressed chunk): pyewf opens
  the set, raises nothing and returns the whole 32 KiB chunk as zeros (libewf's
  zero-on-error); it exposes no checksum-error counter. The stored MD5 is unchanged, so
  the MD5 of what is read differs from it. ``ewfverify`` exits 1, lists "Sector validation
  errors ... at sector(s): A - B" and "ewfverify: FAILURE".
* Missing last segment: ``pyewf.glob`` returns only the segments present, ``open``
  succeeds, the media size is the full size, header values are there, the stored hashes
  are ``None`` (they live in the last segment), and ``read`` raises ``OSError`` ("unable to
  retrieve chunk data") at the first chunk of the missing segment. ``ewfverify`` exits 1
  with the sectors of the missing segment as validation errors and "MD5 ... N/A".
* Truncated raw disk: when a partition starts past the end of the file, TSK's
  ``Volume_Info`` rejects the table: an MBR one raises ``OSError``; for a GPT disk TSK
  falls back to the protective MBR (one "GPT Safety Partition (0xee)"). A cut inside the
  last partition still lists every partition.
* TSK recognises the encrypted-volume signatures: ``FS_Info`` raises ``OSError`` with
  "Encryption detected (BitLocker)" or "Encryption detected (LUKS)".
"""

from __future__ import annotations

import random
import re
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from diskimages import (
    SECTOR,
    CarvedFixture,
    FsImage,
    MiB,
    PlacedFile,
    blank_file,
    build_ext4,
    build_fat32,
    carving_samples,
    copy_sparse,
    digests,
    require_tools,
    run,
    tool,
    write_at,
)

# --- partitioned disks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    number: int  # as sfdisk / sgdisk / Linux number it: 1, 2, 5
    start: int  # bytes from the start of the disk
    size: int
    role: str  # "primary", "extended", "logical" (MBR) or "gpt"
    fs_type: str | None  # "fat32", "ext4", "bitlocker", "luks1", "luks2"; None: extended
    fs: FsImage | None = None
    signature: bytes = b""  # for encrypted volumes: the bytes at ``signature_offset``
    signature_offset: int = 0  # absolute


@dataclass(frozen=True)
class DiskImage:
    path: Path
    scheme: str  # "mbr" or "gpt"
    size: int
    partitions: tuple[Partition, ...]
    carved: tuple[CarvedFixture, ...]  # absolute offsets in this disk
    md5: str
    sha1: str
    sector_size: int = SECTOR

    def partition(self, fs_type: str) -> Partition:
        """The first partition holding ``fs_type`` ("fat32", "ext4", "luks2", ...)."""
        for p in self.partitions:
            if p.fs_type == fs_type:
                return p
        raise KeyError(fs_type)

    def read(self, offset: int, length: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(offset)
            return f.read(length)


FAT_START, GAP_START, EXT_START = 1 * MiB, 41 * MiB, 44 * MiB
GAP_OFFSETS = (GAP_START + 64 * 1024, GAP_START + 576 * 1024)


def sfdisk(img: Path, parts: Sequence[tuple[Partition, str]]) -> None:
    """Write an MBR with ``sfdisk`` from (partition, type code) pairs; a type-5 entry is an
    extended partition and entries after it inside it become logical ones."""
    require_tools("sfdisk")
    rows = "".join(
        f"start={p.start // SECTOR}, size={p.size // SECTOR}, type={t}\n" for p, t in parts
    )
    run(
        "sfdisk",
        "-q",
        "--no-reread",
        "--no-tell-kernel",
        img,
        stdin=f"label: dos\nunit: sectors\n\n{rows}",
    )


def _disk(dest: Path, scheme: str, fat: FsImage | None, ext4: FsImage | None) -> DiskImage:
    dest.mkdir(parents=True, exist_ok=True)
    fat = fat or build_fat32(dest / "parts")
    ext4 = ext4 or build_ext4(dest / "parts")
    if fat.size > GAP_START - FAT_START:
        raise ValueError("the FAT32 image must fit in 40 MiB")
    img = blank_file(dest / f"{scheme}.img", EXT_START + ext4.size + MiB)
    role = "primary" if scheme == "mbr" else "gpt"
    p_fat = Partition(1, FAT_START, fat.size, role, "fat32", fat)
    if scheme == "mbr":
        extended = Partition(2, EXT_START - MiB, ext4.size + MiB, "extended", None)
        p_ext = Partition(5, EXT_START, ext4.size, "logical", "ext4", ext4)
        sfdisk(img, ((p_fat, "c"), (extended, "5"), (p_ext, "83")))
        parts: tuple[Partition, ...] = (p_fat, extended, p_ext)
    else:
        require_tools("sgdisk")
        p_ext = Partition(2, EXT_START, ext4.size, "gpt", "ext4", ext4)
        args = []
        for p, code, name in ((p_fat, "0700", "FAT32"), (p_ext, "8300", "EXT4")):
            n, first, count = p.number, p.start // SECTOR, p.size // SECTOR
            args += ["-n", f"{n}:{first}:+{count}", "-t", f"{n}:{code}", "-c", f"{n}:{name}"]
        run("sgdisk", *args, img)  # never -q: sgdisk -q writes nothing
        parts = (p_fat, p_ext)
    carved = []
    for p in (p_fat, p_ext):
        assert p.fs is not None
        copy_sparse(p.fs.path, img, at=p.start)
        carved += [replace(c, offset=p.start + c.offset) for c in p.fs.carved]
    for offset, sample in zip(GAP_OFFSETS, carving_samples("gap", 2), strict=True):
        write_at(img, offset, sample.data)
        carved.append(CarvedFixture(sample, offset, "gap"))
    return DiskImage(img, scheme, img.stat().st_size, parts, tuple(carved), *digests(img))


def build_mbr_disk(
    dest: Path, *, fat: FsImage | None = None, ext4: FsImage | None = None
) -> DiskImage:
    """MBR disk: 1 = FAT32 primary at 1 MiB; a 2 MiB unpartitioned gap at 41 MiB holding a
    JPEG and a PNG; 2 = extended at 43 MiB holding logical 5 = ext4 at 44 MiB; 1 MiB tail."""
    return _disk(dest, "mbr", fat, ext4)


def build_gpt_disk(
    dest: Path, *, fat: FsImage | None = None, ext4: FsImage | None = None
) -> DiskImage:
    """GPT disk: 1 = FAT32 at 1 MiB, a gap at 41-44 MiB (JPEG + PNG), 2 = ext4 at 44 MiB."""
    return _disk(dest, "gpt", fat, ext4)


BITLOCKER_GUID = bytes.fromhex("3bd66749292ed84a8399f6a339e3d001")


def _encrypted_header(kind: str, rnd: random.Random) -> bytes:
    if kind == "bitlocker":
        head = bytearray(rnd.randbytes(SECTOR))
        head[0:11] = b"\xeb\x58\x90-FVE-FS-"
        head[11:14] = struct.pack("<HB", SECTOR, 8)
        head[0xA0:0xB0] = BITLOCKER_GUID
        head[510:512] = b"\x55\xaa"
        return bytes(head)
    version = 1 if kind == "luks1" else 2
    head = bytearray(rnd.randbytes(4096))
    head[0:8] = b"LUKS\xba\xbe" + struct.pack(">H", version)
    if version == 1:
        head[8:104] = (
            b"aes".ljust(32, b"\0") + b"xts-plain64".ljust(32, b"\0") + b"sha256".ljust(32, b"\0")
        )
    else:
        head[8:24] = struct.pack(">QQ", 16384, 1)
        head[72:104] = b"sha256".ljust(32, b"\0")
    head[168:208] = b"0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5".ljust(40, b"\0")
    return bytes(head)


def build_encrypted_disk(dest: Path) -> DiskImage:
    """MBR disk with three 2 MiB primary partitions of random bytes carrying only volume
    signatures: 1 = BitLocker ("-FVE-FS-" at offset 3), 2 = LUKS2, 3 = LUKS1."""
    dest.mkdir(parents=True, exist_ok=True)
    img = blank_file(dest / "encrypted.img", 8 * MiB)
    rnd = random.Random(7)
    parts = []
    for number, kind in ((1, "bitlocker"), (2, "luks2"), (3, "luks1")):
        start = (2 * number - 1) * MiB
        head = _encrypted_header(kind, rnd)
        write_at(img, start, head + rnd.randbytes(2 * MiB - len(head)))
        at = 3 if kind == "bitlocker" else 0
        sig = head[at : at + 8]
        parts.append(Partition(number, start, 2 * MiB, "primary", kind, None, sig, start + at))
    sfdisk(img, tuple(zip(parts, ("7", "83", "83"), strict=True)))
    return DiskImage(img, "mbr", img.stat().st_size, tuple(parts), (), *digests(img))


# --- evidence containers: split raw, E01, damaged copies ----------------------------------


@dataclass(frozen=True)
class SplitRaw:
    paths: tuple[Path, ...]  # name.001, name.002, ...
    segment_size: int
    size: int
    md5: str
    sha1: str


def split_raw(disk: DiskImage, dest: Path, *, segment_size: int = 16 * MiB) -> SplitRaw:
    """The disk cut into raw segments ``<stem>.001``, ``.002``, ... of ``segment_size``."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = tuple(
        copy_sparse(
            disk.path, dest / f"{disk.path.stem}.{i + 1:03d}", start=off, length=segment_size
        )
        for i, off in enumerate(range(0, disk.size, segment_size))
    )
    return SplitRaw(paths, segment_size, disk.size, disk.md5, disk.sha1)


@dataclass(frozen=True)
class E01Image:
    paths: tuple[Path, ...]  # E01, E02, ... present, in order
    media_size: int
    md5: str  # of the raw media, computed in Python (also the hashes stored in the set)
    sha1: str
    chunk_size: int
    segment_size: int
    compression: str
    headers: dict[str, str]  # keys as pyewf's get_header_values() names them
    ewfverify_rc: int
    ewfverify_output: str
    bad_ranges: tuple[tuple[int, int], ...] = ()  # media bytes ewfverify flags: [start, end)

    @property
    def first(self) -> Path:
        return self.paths[0]


def _verify(paths: Sequence[Path]) -> tuple[int, str, tuple[tuple[int, int], ...]]:
    proc = subprocess.run(
        [tool("ewfverify") or "ewfverify", "-q", str(paths[0])], capture_output=True, text=True
    )
    out = proc.stdout + proc.stderr
    spans = re.findall(r"at sector\(s\): (\d+) - (\d+)", out)
    return proc.returncode, out, tuple((int(a) * SECTOR, (int(b) + 1) * SECTOR) for a, b in spans)


def build_e01(
    disk: DiskImage,
    dest: Path,
    *,
    segment_size: int = 24 * MiB,
    compression: str = "none",
    case_number: str = "VS-TEST-0001",
    examiner: str = "Test Examiner",
    description: str = "Synthetic test disk (drawn shapes only)",
    evidence_number: str = "EV-01",
    notes: str = "Built by tests/diskimages_disks.py",
) -> E01Image:
    """An EnCase 6 E01 set of the disk (ewfacquire -u), 64-sector chunks, MD5 + SHA-1 stored,
    split into segments of ``segment_size`` (the default gives E01, E02, E03); ewfverify
    must accept it."""
    require_tools("ewfacquire", "ewfverify")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / disk.path.stem
    headers = {
        "case_number": case_number,
        "description": description,
        "examiner_name": examiner,
        "evidence_number": evidence_number,
        "notes": notes,
    }
    run("ewfacquire", "-u", "-q", "-t", target, "-f", "encase6", "-c", compression, "-b", "64",
        "-d", "sha1", "-S", str(segment_size), "-C", case_number, "-D", description,
        "-e", examiner, "-E", evidence_number, "-N", notes, disk.path)  # fmt: skip
    paths = tuple(sorted(dest.glob(f"{target.name}.E[0-9][0-9]")))
    rc, out, _ = _verify(paths)
    if rc != 0:
        raise RuntimeError(f"ewfverify rejects the new E01 set: {out}")
    return E01Image(paths, disk.size, disk.md5, disk.sha1, 64 * SECTOR, segment_size,
                    compression, headers, rc, out)  # fmt: skip


def _copy_set(e01: E01Image, dest: Path, keep: int | None = None) -> tuple[Path, ...]:
    dest.mkdir(parents=True, exist_ok=True)
    return tuple(copy_sparse(p, dest / p.name) for p in e01.paths[:keep])


@dataclass(frozen=True)
class CorruptE01:
    image: E01Image  # the damaged copy; md5/sha1 are still the original media's
    segment_offset: int  # where in the first segment file 64 bytes were inverted
    chunk_range: tuple[int, int]  # media bytes of the damaged chunk: [start, end)
    file: PlacedFile  # the FAT32 file whose first bytes lie in that chunk


def corrupt_e01(e01: E01Image, disk: DiskImage, dest: Path) -> CorruptE01:
    """A copy of the set with 64 bytes inverted in the stored data of the chunk holding
    the first FAT32 file (chunk data in the middle of the first segment file)."""
    if e01.compression != "none":
        raise ValueError("corrupt_e01 needs an uncompressed E01 set")
    paths = _copy_set(e01, dest)
    fat = disk.partition("fat32")
    assert fat.fs is not None
    target = fat.fs.files[0]
    raw = disk.read(fat.start, fat.size)
    at = raw.find(target.sample.data)
    start = fat.start + at - (fat.start + at) % e01.chunk_size
    chunk = disk.read(start, e01.chunk_size)
    segment = bytearray(paths[0].read_bytes())
    pos = segment.find(chunk) if at >= 0 else -1
    if pos < 0 or segment.find(chunk, pos + 1) >= 0:
        raise RuntimeError("could not locate a unique chunk to corrupt in the first segment")
    pos += e01.chunk_size // 2
    segment[pos : pos + 64] = bytes(b ^ 0xFF for b in segment[pos : pos + 64])
    paths[0].write_bytes(segment)
    rc, out, bad = _verify(paths)
    image = replace(e01, paths=paths, ewfverify_rc=rc, ewfverify_output=out, bad_ranges=bad)
    return CorruptE01(image, pos, (start, start + e01.chunk_size), target)


def drop_last_segment(e01: E01Image, dest: Path) -> E01Image:
    """A copy of the set without its last segment file (which also holds the hashes)."""
    if len(e01.paths) < 2:
        raise ValueError("the E01 set has a single segment")
    paths = _copy_set(e01, dest, keep=-1)
    rc, out, bad = _verify(paths)
    return replace(e01, paths=paths, ewfverify_rc=rc, ewfverify_output=out, bad_ranges=bad)


@dataclass(frozen=True)
class TruncatedRaw:
    path: Path
    size: int
    original: DiskImage
    complete: tuple[int, ...]  # numbers of partitions wholly inside the file
    cut: tuple[int, ...]  # partitions that run past the end
    absent: tuple[int, ...]  # partitions that start at or past the end


def truncate_raw(disk: DiskImage, dest: Path, *, size: int | None = None) -> TruncatedRaw:
    """A copy of the raw disk cut to ``size`` bytes (default: half, so the first partition
    runs past the end and the second starts beyond it)."""
    dest.mkdir(parents=True, exist_ok=True)
    size = disk.size // 2 if size is None else size
    path = dest / f"{disk.path.stem}-truncated.img"
    copy_sparse(disk.path, path, length=size)
    states: dict[str, list[int]] = {"complete": [], "cut": [], "absent": []}
    for p in disk.partitions:
        state = "complete" if p.start + p.size <= size else "cut" if p.start < size else "absent"
        states[state].append(p.number)
    return TruncatedRaw(path, size, disk, *(tuple(v) for v in states.values()))


# --- session fixtures (import them into a test module) ------------------------------------


@pytest.fixture(scope="session")
def gpt_disk(
    tmp_path_factory: pytest.TempPathFactory, disk_fs_images: tuple[FsImage, FsImage]
) -> DiskImage:
    fat, ext4 = disk_fs_images
    return build_gpt_disk(tmp_path_factory.mktemp("gpt"), fat=fat, ext4=ext4)


@pytest.fixture(scope="session")
def mbr_disk(
    tmp_path_factory: pytest.TempPathFactory, disk_fs_images: tuple[FsImage, FsImage]
) -> DiskImage:
    fat, ext4 = disk_fs_images
    return build_mbr_disk(tmp_path_factory.mktemp("mbr"), fat=fat, ext4=ext4)


@pytest.fixture(scope="session")
def gpt_e01(tmp_path_factory: pytest.TempPathFactory, gpt_disk: DiskImage) -> E01Image:
    return build_e01(gpt_disk, tmp_path_factory.mktemp("e01"))
