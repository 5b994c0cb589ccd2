"""Small forensic disk images built during a test run from Debian command-line tools.

No root, no mounts, no loop devices: dosfstools, mtools, e2fsprogs, fdisk (sfdisk) and gdisk
(sgdisk) write into plain files; contents are placed at offsets from Python. Every file put in
an image is benign (shapes and gradients drawn with Pillow, plain text). Each builder takes a
destination folder and returns a frozen dataclass describing exactly what it built.

Findings (TSK 4.x via pytsk3, e2fsprogs 1.47, mtools 4, checked by tests/unit/test_diskimages.py):

* FAT keeps local wall-clock time in 2-second steps. Builders run mtools with ``TZ=UTC`` and
  use an even-second mtime, so TSK gives back ``SAMPLE_MTIME`` exactly, but only when the
  reading process runs with ``TZ=UTC`` as well (TSK turns FAT times into epoch values with
  ``mktime``): wrap such reads in ``utc_timezone()``.
* ``mdel`` of a file with an 8.3-only name (``IMG_0003.JPG``) leaves 0xE5 in place of the first
  character; TSK lists it as ``_MG_0003.JPG``. A deleted long name keeps its full spelling (TSK
  still joins the deleted LFN entries). Both are flagged ``TSK_FS_NAME_FLAG_UNALLOC``, their
  meta ``UNALLOC|USED``, and TSK reads back the right content (clusters are contiguous).
* ``debugfs -w -R "rm ..."`` frees the blocks and sets dtime but leaves i_size and the extent
  tree in the inode: TSK reads the whole deleted file back. The Linux kernel instead truncates
  the inode (size 0, no extents); ``kernel_style_delete=True`` imitates that, and TSK then
  reports size 0 and ``read_random`` raises ``OSError`` ("Invalid file offset").
* ``sgdisk -q`` exits 0 without writing anything; the builders call it without ``-q``.
* Debian keeps these tools in /usr/sbin, which is not on an ordinary user's PATH;
  ``tool()`` also looks there.
"""

from __future__ import annotations

import calendar
import hashlib
import importlib
import io
import os
import random
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

MiB = 1 << 20
SECTOR = 512
# 2021-03-04 05:06:08 UTC: an even second, so FAT's 2-second resolution keeps it exact.
SAMPLE_MTIME = calendar.timegm((2021, 3, 4, 5, 6, 8))
TOOL_PACKAGES = {
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "mdel": "mtools",
    "mmd": "mtools",
    "mkfs.ext4": "e2fsprogs",
    "debugfs": "e2fsprogs",
    "sfdisk": "fdisk",
    "sgdisk": "gdisk",
    "ewfacquire": "ewf-tools",
    "ewfverify": "ewf-tools",
    "mkntfs": "ntfs-3g",
    "ntfscp": "ntfs-3g",
    "genisoimage": "genisoimage",
    "mkfs.exfat": "exfatprogs",
}
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def _missing(reason: str) -> None:
    if os.environ.get("VERISCAN_REQUIRE_DISK_TOOLS") == "1":
        pytest.fail(f"{reason} (VERISCAN_REQUIRE_DISK_TOOLS=1 forbids skipping)")
    pytest.skip(reason, allow_module_level=True)


def tool(name: str) -> str | None:
    """Full path of a command-line tool, also looking in the sbin folders."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))


def require_tools(*names: str) -> None:
    """Skip the test when a tool is missing, or fail if ``VERISCAN_REQUIRE_DISK_TOOLS=1``."""
    missing = [n for n in names if tool(n) is None]
    if missing:
        pkgs = sorted({TOOL_PACKAGES.get(n, "?") for n in missing})
        _missing(
            f"disk-image tools missing: {', '.join(missing)} (apt-get install {' '.join(pkgs)})"
        )


def require_modules(*names: str) -> list[Any]:
    """Import Python bindings (pytsk3, pyewf) under the same skip-or-fail rule; usable at
    module level: ``pytsk3, pyewf = require_modules("pytsk3", "pyewf")``."""
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            _missing(f"Python module {name} missing (pip install {name})")
    return modules


def run(*args: str | Path, stdin: str | None = None) -> str:
    """Run a tool (resolved through ``tool()``) with ``TZ=UTC``; raise with its output when it
    fails, else return its stdout."""
    exe = tool(str(args[0])) or str(args[0])
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C", "DEBUGFS_PAGER": "__none__"}
    proc = subprocess.run(
        [exe, *map(str, args[1:])], input=stdin, capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return proc.stdout


def blank_file(path: Path, size: int) -> Path:
    """A sparse file of ``size`` zero bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)
    return path


@contextmanager
def utc_timezone() -> Iterator[None]:
    """Run the body with ``TZ=UTC`` so TSK's FAT timestamps come out as written."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


# --- benign sample files ------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFile:
    """A file with known bytes: a drawn JPEG/PNG or a text file."""

    name: str
    kind: str  # "jpeg", "png" or "text"
    data: bytes = field(repr=False)
    mtime: int = SAMPLE_MTIME

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


def draw(seed: int, size: tuple[int, int]) -> Image.Image:
    """A vertical colour gradient with ellipses and rectangles; different for every seed."""
    rnd = random.Random(seed)
    w, h = size
    top, bottom = ([rnd.randrange(256) for _ in range(3)] for _ in range(2))
    img = Image.new("RGB", size)
    d = ImageDraw.Draw(img)
    for y in range(h):
        d.line(
            [(0, y), (w, y)],
            fill=tuple(t + (b - t) * y // h for t, b in zip(top, bottom, strict=True)),
        )
    for _ in range(6):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        box = [x0, y0, x0 + rnd.randrange(8, w // 2), y0 + rnd.randrange(8, h // 2)]
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (d.ellipse if rnd.random() < 0.5 else d.rectangle)(box, fill=colour)
    return img


def _encode(name: str, seed: int, size: tuple[int, int]) -> SampleFile:
    buf = io.BytesIO()
    if name.lower().endswith(".png"):
        draw(seed, size).save(buf, "PNG")
        return SampleFile(name, "png", buf.getvalue())
    draw(seed, size).save(buf, "JPEG", quality=85)
    return SampleFile(name, "jpeg", buf.getvalue())


def sample_files() -> dict[str, SampleFile]:
    """The file tree placed in both file systems, by path relative to the root."""
    notes = b"Field notes\nShopping: bread, apples, tea.\nMeeting moved to Thursday.\n"
    return {
        "DCIM/100/IMG_0001.JPG": _encode("IMG_0001.JPG", 1, (320, 240)),
        "DCIM/100/IMG_0002.PNG": _encode("IMG_0002.PNG", 2, (160, 120)),
        "DCIM/100/IMG_0003.JPG": _encode("IMG_0003.JPG", 3, (480, 360)),
        "Documents/notes.txt": SampleFile("notes.txt", "text", notes),
        "Pictures/garden_shapes_drawing.png": _encode("garden_shapes_drawing.png", 4, (96, 96)),
        "Pictures/old_long_name_sketch.png": _encode("old_long_name_sketch.png", 5, (128, 80)),
    }


DELETED = ("DCIM/100/IMG_0003.JPG", "Pictures/old_long_name_sketch.png")


def carving_samples(region: str, seed: int) -> tuple[SampleFile, SampleFile]:
    """A JPEG and a PNG meant only for raw areas, never for a directory tree."""
    return (
        _encode(f"carve_{region}.jpg", 100 + seed, (200, 150)),
        _encode(f"carve_{region}.png", 200 + seed, (72, 64)),
    )


def write_tree(root: Path, files: Mapping[str, SampleFile]) -> Path:
    """Write ``files`` under ``root``; files and folders get ``mtime`` (folders SAMPLE_MTIME)."""
    for rel, sample in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sample.data)
        os.utime(path, (sample.mtime, sample.mtime))
    for folder in sorted({p for rel in files for p in (root / rel).parents if root in p.parents}):
        os.utime(folder, (SAMPLE_MTIME, SAMPLE_MTIME))
    return root


# --- file-system images --------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedFile:
    path: str  # as TSK lists it, from the root: "/DCIM/100/IMG_0001.JPG"
    sample: SampleFile


@dataclass(frozen=True)
class DeletedFile:
    original_path: str  # "/DCIM/100/IMG_0003.JPG"
    tsk_path: str  # the name TSK shows: "/DCIM/100/_MG_0003.JPG" on FAT
    sample: SampleFile
    recoverable: bool  # TSK reads back the original bytes


@dataclass(frozen=True)
class CarvedFixture:
    """Bytes written into raw space (a gap or free blocks), outside every directory tree."""

    sample: SampleFile
    offset: int  # byte offset in the containing image (FS image or disk, see the owner)
    region: str  # "gap", "fat32-free" or "ext4-free"

    @property
    def length(self) -> int:
        return self.sample.size

    @property
    def sha256(self) -> str:
        return self.sample.sha256


@dataclass(frozen=True)
class FsImage:
    path: Path
    fs_type: str  # "fat32" or "ext4"
    size: int
    block_size: int  # cluster size for FAT
    label: str
    directories: tuple[str, ...]
    files: tuple[PlacedFile, ...]  # allocated regular files
    deleted: tuple[DeletedFile, ...]
    carved: tuple[CarvedFixture, ...]  # offsets relative to the start of the file system


def _tree_parts(files: Mapping[str, SampleFile]) -> tuple[tuple[str, ...], tuple[PlacedFile, ...]]:
    dirs = sorted({"/" + str(p) for rel in files for p in Path(rel).parents if str(p) != "."})
    kept = tuple(PlacedFile("/" + rel, s) for rel, s in files.items() if rel not in DELETED)
    return tuple(dirs), kept


def copy_sparse(
    src: Path, dst: Path, *, at: int = 0, start: int = 0, length: int | None = None
) -> Path:
    """Copy ``length`` bytes (default: to the end) of ``src`` from ``start`` into ``dst`` at
    byte ``at``, like ``dd conv=notrunc``; all-zero MiB runs are skipped so files stay sparse.
    ``dst`` is created when missing and grown to hold the copy."""
    end = src.stat().st_size if length is None else min(start + length, src.stat().st_size)
    if not dst.exists():
        blank_file(dst, 0)
    with src.open("rb") as fi, dst.open("r+b") as fo:
        fi.seek(start)
        for pos in range(start, end, MiB):
            chunk = fi.read(min(MiB, end - pos))
            if chunk.count(0) != len(chunk):
                fo.seek(at + pos - start)
                fo.write(chunk)
        fo.seek(0, os.SEEK_END)
        if fo.tell() < at + end - start:
            fo.truncate(at + end - start)
    return dst


def write_at(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def digests(path: Path) -> tuple[str, str]:
    """MD5 and SHA-1 of a file, lower-case hex."""
    md5, sha1 = hashlib.md5(), hashlib.sha1()
    with path.open("rb") as f:
        while chunk := f.read(4 * MiB):
            md5.update(chunk)
            sha1.update(chunk)
    return md5.hexdigest(), sha1.hexdigest()


def _fat_deleted_name(rel: str) -> str:
    folder, _, name = ("/" + rel).rpartition("/")
    stem, _, ext = name.partition(".")
    short = len(stem) <= 8 and len(ext) <= 3 and name.upper() == name
    return f"{folder}/{'_' + name[1:] if short else name}"


def build_fat32(dest: Path, *, size: int = 40 * MiB, label: str = "VSFAT32") -> FsImage:
    """FAT32 (mkfs.vfat -F 32) with the sample tree, two files deleted with mdel, and a
    JPEG + PNG written into free clusters near the end of the data area."""
    require_tools("mkfs.vfat", "mcopy", "mdel")
    dest.mkdir(parents=True, exist_ok=True)
    files = sample_files()
    src = write_tree(dest / "fat32-src", files)
    img = blank_file(dest / "fat32.img", size)
    run("mkfs.vfat", "-F", "32", "-n", label, img)
    run("mcopy", "-s", "-m", "-i", img, *sorted(src.iterdir()), "::/")
    for rel in DELETED:
        run("mdel", "-i", img, f"::/{rel}")
    boot = img.read_bytes()[:SECTOR]
    bps, spc, reserved, nfats = struct.unpack_from("<HBHB", boot, 11)
    total, fat_sectors = struct.unpack_from("<II", boot, 32)
    cluster = bps * spc
    data_start = (reserved + nfats * fat_sectors) * bps
    last = (total * bps - data_start) // cluster + 1  # clusters are numbered from 2
    with img.open("rb") as f:
        f.seek(reserved * bps)
        fat = f.read(fat_sectors * bps)
    carved, end = [], last - 16
    for sample in carving_samples("fat32", 0):
        first = end - -(-sample.size // cluster)
        entries = struct.unpack_from(f"<{end - first}I", fat, 4 * first)
        if any(e & 0x0FFFFFFF for e in entries):
            raise RuntimeError(f"FAT clusters {first}..{end} are not free")
        offset = data_start + (first - 2) * cluster
        write_at(img, offset, sample.data)
        carved.append(CarvedFixture(sample, offset, "fat32-free"))
        end = first - 8
    dirs, kept = _tree_parts(files)
    deleted = tuple(
        DeletedFile("/" + rel, _fat_deleted_name(rel), files[rel], True) for rel in DELETED
    )
    return FsImage(img, "fat32", size, cluster, label, dirs, kept, deleted, tuple(carved))


def build_ext4(
    dest: Path, *, size: int = 16 * MiB, label: str = "vsext4", kernel_style_delete: bool = False
) -> FsImage:
    """ext4 (mkfs.ext4 -d, 4 KiB blocks) with the sample tree, two files removed with
    ``debugfs rm``, and a JPEG + PNG written into free blocks found with ``debugfs ffb``.

    ``kernel_style_delete`` also empties the deleted inodes (size 0, no extents), as the
    Linux kernel does; TSK can then no longer read their content."""
    require_tools("mkfs.ext4", "debugfs")
    dest.mkdir(parents=True, exist_ok=True)
    files = sample_files()
    src = write_tree(dest / "ext4-src", files)
    img, block = dest / "ext4.img", 4096
    run("mkfs.ext4", "-F", "-q", "-b", str(block), "-L", label, "-d", src, img, f"{size // 1024}k")
    for rel in DELETED:
        inode = run("debugfs", "-R", f"stat /{rel}", img).split()[1]  # "Inode: 14 Type: ..."
        run("debugfs", "-w", "-R", f"rm /{rel}", img)
        if kernel_style_delete:
            for cmd in (
                "size 0",
                "blocks 0",
                "block[0] 0xF30A",
                *(f"block[{i}] 0" for i in (3, 4, 5)),
            ):
                run("debugfs", "-w", "-R", f"sif <{inode}> {cmd}", img)
    carved, goal = [], size // block - 64
    for sample in carving_samples("ext4", 1):
        count = -(-sample.size // block)
        found = run("debugfs", "-R", f"ffb {count} {goal}", img).split(":")[-1].split()
        blocks = [int(b) for b in found]
        if blocks != list(range(blocks[0], blocks[0] + count)):
            raise RuntimeError(f"ext4 free blocks near {goal} are not contiguous: {blocks}")
        write_at(img, blocks[0] * block, sample.data)
        carved.append(CarvedFixture(sample, blocks[0] * block, "ext4-free"))
        goal = blocks[-1] + 4
    dirs, kept = _tree_parts(files)
    recoverable = not kernel_style_delete
    deleted = tuple(DeletedFile("/" + r, "/" + r, files[r], recoverable) for r in DELETED)
    return FsImage(img, "ext4", size, block, label, dirs, kept, deleted, tuple(carved))


# --- session fixtures (import them into a test module) ------------------------------------


@pytest.fixture(scope="session")
def disk_fs_images(tmp_path_factory: pytest.TempPathFactory) -> tuple[FsImage, FsImage]:
    """(FAT32, ext4) file-system images, built once per session."""
    dest = tmp_path_factory.mktemp("fs-images")
    return build_fat32(dest), build_ext4(dest)
