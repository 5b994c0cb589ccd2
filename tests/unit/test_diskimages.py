"""The disk-image builders of tests/diskimages*.py, checked with pytsk3 and pyewf directly."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from diskimages import (
    SAMPLE_MTIME,
    FsImage,
    build_ext4,
    build_fat32,
    carving_samples,
    disk_fs_images,  # noqa: F401 (session fixture)
    require_modules,
    require_tools,
    run,
    sample_files,
    utc_timezone,
)
from diskimages_disks import (
    DiskImage,
    E01Image,
    build_encrypted_disk,
    corrupt_e01,
    drop_last_segment,
    gpt_disk,  # noqa: F401 (session fixture)
    gpt_e01,  # noqa: F401 (session fixture)
    mbr_disk,  # noqa: F401 (session fixture)
    split_raw,
    truncate_raw,
)

pytsk3, pyewf = require_modules("pytsk3", "pyewf")


@dataclass
class Entry:
    name_flags: int
    meta_flags: int
    size: int
    mtime: int
    is_dir: bool
    data: bytes | None  # regular files: what TSK reads back (None when the read fails)
    runs: list[tuple[int, int]]  # byte ranges [start, end) relative to the file system
    addr: int  # inode / directory-entry address


def tsk_tree(fs: Any) -> dict[str, Entry]:
    """Every entry TSK lists, by path, skipping TSK's virtual $ entries."""
    out: dict[str, Entry] = {}
    bs = fs.info.block_size

    def walk(directory: Any, prefix: str) -> None:
        for f in directory:
            name = f.info.name.name.decode("utf-8", "replace")
            meta = f.info.meta
            if name in (".", "..") or name.startswith("$") or meta is None:
                continue
            is_dir = meta.type == pytsk3.TSK_FS_META_TYPE_DIR
            data, runs = None, []
            if meta.type == pytsk3.TSK_FS_META_TYPE_REG:
                try:
                    data = f.read_random(0, meta.size) if meta.size else b""
                except OSError:
                    data = None
                for attr in f:
                    runs += [(r.addr * bs, (r.addr + r.len) * bs) for r in attr if r.len]
            path = f"{prefix}/{name}"
            out[path] = Entry(
                f.info.name.flags, meta.flags, meta.size, meta.mtime, is_dir, data, runs, meta.addr
            )
            if is_dir and f.info.name.flags & pytsk3.TSK_FS_NAME_FLAG_ALLOC:
                walk(f.as_directory(), path)

    walk(fs.open_dir("/"), "")
    return out


def open_fs(path: Path, offset: int = 0) -> Any:
    return pytsk3.FS_Info(pytsk3.Img_Info(str(path)), offset=offset)


def check_fs(fs_image: FsImage, fs: Any, ftype: int) -> dict[str, Entry]:
    """The file system holds exactly what the dataclass says (offsets FS-relative)."""
    assert fs.info.ftype == ftype
    with utc_timezone():  # FAT times are local wall-clock time (see diskimages)
        tree = tsk_tree(fs)
    for d in fs_image.directories:
        assert tree[d].is_dir and tree[d].mtime == SAMPLE_MTIME
        assert tree[d].name_flags & pytsk3.TSK_FS_NAME_FLAG_ALLOC
    for placed in fs_image.files:
        entry = tree[placed.path]
        assert entry.name_flags & pytsk3.TSK_FS_NAME_FLAG_ALLOC
        assert entry.data == placed.sample.data
        assert entry.mtime == placed.sample.mtime == SAMPLE_MTIME
        with fs_image.path.open("rb") as raw:  # the runs are right: they hold the bytes
            raw.seek(entry.runs[0][0])
            assert raw.read(64) == placed.sample.data[:64]
    for gone in fs_image.deleted:
        entry = tree[gone.tsk_path]
        assert entry.name_flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC
        assert entry.meta_flags & pytsk3.TSK_FS_META_FLAG_UNALLOC
        assert (entry.data == gone.sample.data) is gone.recoverable
    allocated = [
        r for e in tree.values() if e.name_flags & pytsk3.TSK_FS_NAME_FLAG_ALLOC for r in e.runs
    ]
    contents = {hashlib.sha256(e.data).hexdigest() for e in tree.values() if e.data}
    for fx in fs_image.carved:
        assert not any(a < fx.offset + fx.length and fx.offset < b for a, b in allocated)
        assert fx.sha256 not in contents
    return tree


def test_require_tools_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import diskimages

    monkeypatch.setattr(diskimages, "tool", lambda name: None)
    monkeypatch.delenv("VERISCAN_REQUIRE_DISK_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"mkfs\.vfat.*dosfstools"):
        require_tools("mkfs.vfat")
    monkeypatch.setenv("VERISCAN_REQUIRE_DISK_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"sgdisk.*gdisk"):
        require_tools("sgdisk")
    with pytest.raises(pytest.fail.Exception, match="no_such_module"):
        require_modules("no_such_module")


def test_samples_are_distinct_decodable_images() -> None:
    tree = sample_files()
    carve = [s for i, r in enumerate(("gap", "fat32", "ext4")) for s in carving_samples(r, i)]
    samples = [*tree.values(), *carve]
    assert len({s.sha256 for s in samples}) == len(samples)
    for s in samples:
        assert s.sha256 == hashlib.sha256(s.data).hexdigest() and s.size == len(s.data)
        if s.kind != "text":
            with Image.open(io.BytesIO(s.data)) as img:
                assert img.format == {"jpeg": "JPEG", "png": "PNG"}[s.kind]
    assert {s.kind for s in samples} == {"jpeg", "png", "text"}


def test_fat32_image(disk_fs_images: tuple[FsImage, FsImage]) -> None:  # noqa: F811
    fat = disk_fs_images[0]
    tree = check_fs(fat, open_fs(fat.path), pytsk3.TSK_FS_TYPE_FAT32)
    # 8.3-only names lose their first character to 0xE5; long names survive in the LFN
    names = {g.original_path: g.tsk_path for g in fat.deleted}
    assert names == {
        "/DCIM/100/IMG_0003.JPG": "/DCIM/100/_MG_0003.JPG",
        "/Pictures/old_long_name_sketch.png": "/Pictures/old_long_name_sketch.png",
    }
    assert "/DCIM/100/IMG_0003.JPG" not in tree
    raw = fat.path.read_bytes()
    for fx in fat.carved:
        assert raw[fx.offset : fx.offset + fx.length] == fx.sample.data
        assert fx.offset % fat.block_size == 0 and fx.region == "fat32-free"


def test_ext4_image(disk_fs_images: tuple[FsImage, FsImage]) -> None:  # noqa: F811
    ext4 = disk_fs_images[1]
    check_fs(ext4, open_fs(ext4.path), pytsk3.TSK_FS_TYPE_EXT4)
    assert all(g.recoverable and g.tsk_path == g.original_path for g in ext4.deleted)
    raw = ext4.path.read_bytes()
    for fx in ext4.carved:
        assert raw[fx.offset : fx.offset + fx.length] == fx.sample.data
        first, count = fx.offset // 4096, -(-fx.length // 4096)
        bitmap = run("debugfs", "-R", f"testb {first} {count}", ext4.path)
        assert bitmap.count("not in use") == count, bitmap


def test_ext4_kernel_style_delete_leaves_nothing_to_read(tmp_path: Path) -> None:
    ext4 = build_ext4(tmp_path, kernel_style_delete=True)
    tree = check_fs(ext4, open_fs(ext4.path), pytsk3.TSK_FS_TYPE_EXT4)
    for gone in ext4.deleted:
        assert not gone.recoverable
        assert tree[gone.tsk_path].size == 0
        assert tree[gone.tsk_path].data == b""  # size 0: nothing is read
        f = open_fs(ext4.path).open_meta(inode=tree[gone.tsk_path].addr)
        with pytest.raises(OSError, match="Invalid file offset"):
            f.read_random(0, 100)


def partitions(disk: DiskImage) -> Iterator[Any]:
    yield from pytsk3.Volume_Info(pytsk3.Img_Info(str(disk.path)))


def check_disk(disk: DiskImage, vstype: int) -> None:
    img = pytsk3.Img_Info(str(disk.path))
    vs = pytsk3.Volume_Info(img)
    assert vs.info.vstype == vstype and vs.info.block_size == disk.sector_size
    alloc = {p.start * disk.sector_size: p for p in vs if p.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC}
    wanted = {"fat32": pytsk3.TSK_FS_TYPE_FAT32, "ext4": pytsk3.TSK_FS_TYPE_EXT4}
    for part in disk.partitions:
        if part.fs is None:
            continue
        assert alloc[part.start].len * disk.sector_size == part.size
        check_fs(part.fs, pytsk3.FS_Info(img, offset=part.start), wanted[part.fs_type])
    unalloc = [
        (p.start * disk.sector_size, (p.start + p.len) * disk.sector_size)
        for p in vs
        if p.flags & pytsk3.TSK_VS_PART_FLAG_UNALLOC
    ]
    assert {fx.region for fx in disk.carved} == {"gap", "fat32-free", "ext4-free"}
    for fx in disk.carved:
        assert disk.read(fx.offset, fx.length) == fx.sample.data
        in_gap = any(a <= fx.offset and fx.offset + fx.length <= b for a, b in unalloc)
        assert in_gap is (fx.region == "gap")
        host = disk.partition(fx.region.removesuffix("-free")) if not in_gap else None
        assert host is None or host.start <= fx.offset < host.start + host.size


def test_mbr_disk_with_extended_and_logical_partition(mbr_disk: DiskImage) -> None:  # noqa: F811
    check_disk(mbr_disk, pytsk3.TSK_VS_TYPE_DOS)
    layout = {(p.number, p.role, p.fs_type, p.start) for p in mbr_disk.partitions}
    assert layout == {
        (1, "primary", "fat32", 1 << 20),
        (2, "extended", None, 43 << 20),
        (5, "logical", "ext4", 44 << 20),
    }
    listed = {(p.start * 512, p.desc) for p in partitions(mbr_disk)}
    assert {(43 << 20, b"DOS Extended (0x05)"), (43 << 20, b"Extended Table (#1)")} <= listed
    assert (44 << 20, b"Linux (0x83)") in listed


def test_gpt_disk(gpt_disk: DiskImage) -> None:  # noqa: F811
    check_disk(gpt_disk, pytsk3.TSK_VS_TYPE_GPT)
    descs = {p.start * 512: p.desc for p in partitions(gpt_disk)}
    assert descs[1 << 20] == b"FAT32" and descs[44 << 20] == b"EXT4"
    assert hashlib.md5(gpt_disk.path.read_bytes()).hexdigest() == gpt_disk.md5


def test_split_raw(gpt_disk: DiskImage, tmp_path: Path) -> None:  # noqa: F811
    split = split_raw(gpt_disk, tmp_path)
    assert [p.name for p in split.paths] == ["gpt.001", "gpt.002", "gpt.003", "gpt.004"]
    assert all(p.stat().st_size == 16 << 20 for p in split.paths[:-1])
    joined = b"".join(p.read_bytes() for p in split.paths)
    assert hashlib.md5(joined).hexdigest() == split.md5 == gpt_disk.md5
    assert hashlib.sha1(joined).hexdigest() == split.sha1


def read_all(handle: Any, step: int = 1 << 20) -> bytes:
    handle.seek(0)
    return b"".join(iter(lambda: handle.read(step), b""))


def open_e01(e01: E01Image) -> Any:
    handle = pyewf.handle()
    handle.open(pyewf.glob(str(e01.first)))
    return handle


def test_e01_set(gpt_e01: E01Image, gpt_disk: DiskImage) -> None:  # noqa: F811
    assert [p.name for p in gpt_e01.paths] == ["gpt.E01", "gpt.E02", "gpt.E03"]
    assert gpt_e01.ewfverify_rc == 0 and "ewfverify: SUCCESS" in gpt_e01.ewfverify_output
    assert pyewf.glob(str(gpt_e01.first)) == [str(p) for p in gpt_e01.paths]
    h = open_e01(gpt_e01)
    assert h.get_media_size() == gpt_e01.media_size == gpt_disk.size
    assert h.get_chunk_size() == gpt_e01.chunk_size and h.get_bytes_per_sector() == 512
    assert h.get_hash_value("MD5") == gpt_e01.md5 == gpt_disk.md5
    assert h.get_hash_values() == {"MD5": gpt_e01.md5, "SHA1": gpt_e01.sha1}
    assert gpt_e01.headers.items() <= h.get_header_values().items()
    assert hashlib.md5(read_all(h)).hexdigest() == gpt_e01.md5
    h.close()


def test_corrupted_e01_reads_zeros(
    gpt_e01: E01Image,  # noqa: F811
    gpt_disk: DiskImage,  # noqa: F811
    tmp_path: Path,
) -> None:
    bad = corrupt_e01(gpt_e01, gpt_disk, tmp_path)
    start, end = bad.chunk_range
    assert bad.image.ewfverify_rc == 1 and "ewfverify: FAILURE" in bad.image.ewfverify_output
    assert bad.image.bad_ranges == (bad.chunk_range,)
    assert bad.file.path == "/DCIM/100/IMG_0001.JPG"
    assert bad.segment_offset < bad.image.first.stat().st_size
    h = open_e01(bad.image)
    assert h.get_hash_value("MD5") == gpt_disk.md5  # the stored hash is untouched
    data = read_all(h)  # no exception: the damaged chunk comes back as zeros
    assert data[start:end] == bytes(end - start)
    assert data[:start] + data[end:] == gpt_disk.read(0, start) + gpt_disk.read(end, 1 << 30)
    assert hashlib.md5(data).hexdigest() != gpt_disk.md5


def test_e01_missing_last_segment(gpt_e01: E01Image, tmp_path: Path) -> None:  # noqa: F811
    short = drop_last_segment(gpt_e01, tmp_path)
    assert [p.name for p in short.paths] == ["gpt.E01", "gpt.E02"]
    assert short.ewfverify_rc == 1
    ((lost_from, lost_to),) = short.bad_ranges
    assert lost_to == short.media_size and lost_from % short.chunk_size == 0
    assert pyewf.glob(str(short.first)) == [str(p) for p in short.paths]
    with pytest.raises((MemoryError, OSError)):  # pyewf 20260924 raises MemoryError here
        pyewf.glob(str(tmp_path / "absent.E01"))
    h = open_e01(short)
    assert h.get_media_size() == gpt_e01.media_size
    assert h.get_hash_value("MD5") is None and h.get_hash_values() == {}
    assert h.get_header_value("case_number") == gpt_e01.headers["case_number"]
    assert len(h.read_buffer_at_offset(short.chunk_size, lost_from - short.chunk_size)) > 0
    with pytest.raises(OSError, match="unable to read"):
        h.read_buffer_at_offset(short.chunk_size, lost_from)


def test_truncated_raw(gpt_disk: DiskImage, mbr_disk: DiskImage, tmp_path: Path) -> None:  # noqa: F811
    half = truncate_raw(gpt_disk, tmp_path / "gpt")
    assert half.size == gpt_disk.size // 2 == half.path.stat().st_size
    assert (half.complete, half.cut, half.absent) == ((), (1,), (2,))
    # TSK rejects the GPT (a partition starts past the end) and falls back to the
    # protective MBR; the FAT32 file system still opens and its early files read back
    vs = pytsk3.Volume_Info(pytsk3.Img_Info(str(half.path)))
    assert vs.info.vstype == pytsk3.TSK_VS_TYPE_DOS
    fat = gpt_disk.partition("fat32")
    assert fat.fs is not None
    fs = open_fs(half.path, fat.start)
    f = fs.open(fat.fs.files[0].path)
    assert f.read_random(0, f.info.meta.size) == fat.fs.files[0].sample.data
    with pytest.raises(OSError):
        open_fs(half.path, gpt_disk.partition("ext4").start)
    # an MBR whose logical partition starts past the end: TSK opens no volume system at all
    mbr_half = truncate_raw(mbr_disk, tmp_path / "mbr")
    assert mbr_half.absent == (2, 5)
    with pytest.raises(OSError):
        pytsk3.Volume_Info(pytsk3.Img_Info(str(mbr_half.path)))
    # cut inside the last partition instead: both partitions are still listed
    ext4 = gpt_disk.partition("ext4")
    inside = truncate_raw(gpt_disk, tmp_path / "inside", size=ext4.start + ext4.size // 2)
    assert (inside.complete, inside.cut, inside.absent) == ((1,), (2,), ())
    vs = pytsk3.Volume_Info(pytsk3.Img_Info(str(inside.path)))
    assert vs.info.vstype == pytsk3.TSK_VS_TYPE_GPT


def test_encrypted_volume_signatures(tmp_path: Path) -> None:
    disk = build_encrypted_disk(tmp_path)
    img = pytsk3.Img_Info(str(disk.path))
    starts = {
        p.start * 512 for p in pytsk3.Volume_Info(img) if p.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC
    }
    assert starts == {p.start for p in disk.partitions}
    expected = {"bitlocker": b"-FVE-FS-", "luks2": b"LUKS\xba\xbe\x00\x02"}
    expected["luks1"] = b"LUKS\xba\xbe\x00\x01"
    for part in disk.partitions:
        assert part.signature == expected[part.fs_type]
        assert disk.read(part.signature_offset, 8) == part.signature
        label = "BitLocker" if part.fs_type == "bitlocker" else "LUKS"
        with pytest.raises(OSError, match=f"Encryption detected \\({label}\\)"):
            pytsk3.FS_Info(img, offset=part.start)


def test_fat_times_are_written_in_utc_and_read_in_the_reader_zone(tmp_path: Path) -> None:
    old = os.environ.get("TZ")
    try:
        os.environ["TZ"] = "America/New_York"  # the builder must not depend on the caller's zone
        time.tzset()
        fat = build_fat32(tmp_path)
        local = open_fs(fat.path).open("/Documents/notes.txt").info.meta.mtime
        with utc_timezone():
            utc = open_fs(fat.path).open("/Documents/notes.txt").info.meta.mtime
    finally:
        os.environ.pop("TZ") if old is None else os.environ.__setitem__("TZ", old)
        time.tzset()
    assert utc == SAMPLE_MTIME
    assert local == SAMPLE_MTIME + 5 * 3600  # TSK reads FAT wall-clock time as local (EST)
