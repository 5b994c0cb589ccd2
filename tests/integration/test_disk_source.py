"""The disk source on images built during the run: partitions, files, deleted files, carving."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from diskimages import (
    SAMPLE_MTIME,
    blank_file,
    disk_fs_images,  # noqa: F401 - session fixture
    require_modules,
    require_tools,
    run,
    sample_files,
)
from diskimages_disks import (
    DiskImage,
    Partition,
    build_encrypted_disk,
    gpt_disk,  # noqa: F401 - session fixture
    mbr_disk,  # noqa: F401 - session fixture
    sfdisk,
    split_raw,
    truncate_raw,
)
from veriscan.domain import Item, ItemKind
from veriscan.settings import Settings
from veriscan.sources.base import SourceError
from veriscan.sources.disk.source import DiskSource

require_modules("pytsk3", "pyewf")


def _items(path: Path, **settings: object) -> dict[str, Item]:
    source = DiskSource(path, Settings().replace(**settings))
    return {item.locator.segments[1] if item.locator.depth else "": item for item in source.items()}


def _sha(source: DiskSource, item: Item) -> str:
    with source.open_item(item) as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def _expect_disk(disk: DiskImage, items: dict[str, Item], source: DiskSource) -> None:
    """Every allocated, deleted and carved file the builder placed is found with its bytes."""
    for number, part in enumerate((p for p in disk.partitions if p.fs), start=1):
        assert part.fs is not None
        for placed in part.fs.files:
            item = items[f"p{number}{placed.path}"]
            assert not item.deleted and not item.carved
            assert item.size == placed.sample.size
            assert _sha(source, item) == placed.sample.sha256
            times = dict(item.fs_times)
            assert times["modified"] == pytest.approx(SAMPLE_MTIME, abs=1)
            assert item.mtime == times["modified"]
        for gone in part.fs.deleted:
            item = items[f"p{number}{gone.tsk_path}"]
            assert item.deleted
            assert _sha(source, item) == gone.sample.sha256
    for fixture in disk.carved:
        matches = [i for k, i in items.items() if i.carved and f"/offset-{fixture.offset}." in k]
        assert len(matches) == 1, fixture
        item = matches[0]
        assert item.size == fixture.length
        assert _sha(source, item) == fixture.sha256
        folder = "$unallocated/" if fixture.region == "gap" else "/$unallocated/"
        assert folder in item.locator.segments[1]


def test_gpt_image_lists_allocated_deleted_and_carved_files(gpt_disk: DiskImage) -> None:  # noqa: F811
    source = DiskSource(gpt_disk.path, Settings())
    items = _items(gpt_disk.path)
    _expect_disk(gpt_disk, items, source)
    assert not any("Volume Label" in k for k in items)
    assert all(i.locator.segments[0] == gpt_disk.path.name for i in items.values())
    gap = [k for k in items if k.startswith("$unallocated/")]
    assert len(gap) == len([c for c in gpt_disk.carved if c.region == "gap"])


def test_mbr_with_an_extended_partition_names_the_logical_one_p2(mbr_disk: DiskImage) -> None:  # noqa: F811
    source = DiskSource(mbr_disk.path, Settings())
    described = source.describe()
    volumes = described["volumes"]
    assert [v["name"] for v in volumes] == ["p1", "p2"]
    logical = next(p for p in mbr_disk.partitions if p.role == "logical")
    assert volumes[1]["offset"] == logical.start
    assert [v["file_system"] for v in volumes] == ["fat32", "ext4"]
    _expect_disk(mbr_disk, _items(mbr_disk.path), source)


def test_no_carving_when_switched_off(gpt_disk: DiskImage) -> None:  # noqa: F811
    items = _items(gpt_disk.path, carve=False)
    assert not any(i.carved for i in items.values())
    assert any(i.deleted for i in items.values())


def test_census_lists_files_without_carving(gpt_disk: DiskImage) -> None:  # noqa: F811
    source = DiskSource(gpt_disk.path, Settings())
    assert not any(i.carved for i in source.census())


def test_split_raw_reads_as_the_whole_image(
    gpt_disk: DiskImage,  # noqa: F811
    tmp_path: Path,
) -> None:
    pieces = split_raw(gpt_disk, tmp_path)
    assert len(pieces.paths) > 1
    source = DiskSource(pieces.paths[0], Settings())
    whole = DiskSource(gpt_disk.path, Settings())
    split_items = _items(pieces.paths[0])
    whole_items = _items(gpt_disk.path)
    assert split_items.keys() == whole_items.keys()
    for key, item in split_items.items():
        if item.kind is ItemKind.FILE:
            assert _sha(source, item) == _sha(whole, whole_items[key])


def test_open_by_locator_finds_paths_and_carvings(gpt_disk: DiskImage) -> None:  # noqa: F811
    source = DiskSource(gpt_disk.path, Settings())
    part = gpt_disk.partitions[0]
    assert part.fs is not None
    placed = part.fs.files[0]
    item = _items(gpt_disk.path)[f"p1{placed.path}"]
    with source.open(item.locator) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == placed.sample.sha256
    fixture = next(c for c in gpt_disk.carved if c.region == "gap")
    carved = next(i for i in source.items() if str(fixture.offset) in str(i.locator))
    with source.open(carved.locator) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == fixture.sha256
    with pytest.raises(SourceError):
        source.open(item.locator.child("x"))


def test_truncated_image_reads_what_is_whole_and_reports_the_rest(
    gpt_disk: DiskImage,  # noqa: F811
    tmp_path: Path,
) -> None:
    cut = truncate_raw(gpt_disk, tmp_path)
    items = _items(cut.path)
    first = gpt_disk.partitions[0]
    assert first.fs is not None
    readable = items[f"p1{first.fs.files[0].path}"]
    assert _sha(DiskSource(cut.path, Settings()), readable) == first.fs.files[0].sample.sha256
    second = items["p2"]
    assert second.kind is ItemKind.SPECIAL
    assert [p.code for p in second.problems] == ["truncated-image"]
    assert str(gpt_disk.partitions[1].start) in second.problems[0].message


def test_truncated_mbr_image_is_read_through_its_own_table(
    mbr_disk: DiskImage,  # noqa: F811
    tmp_path: Path,
) -> None:
    cut = truncate_raw(mbr_disk, tmp_path)
    items = _items(cut.path)
    first = mbr_disk.partitions[0]
    assert first.fs is not None
    assert f"p1{first.fs.files[0].path}" in items
    assert any(p.code == "truncated-image" for i in items.values() for p in i.problems)


def test_encrypted_volumes_are_reported_with_their_offsets(tmp_path: Path) -> None:
    disk = build_encrypted_disk(tmp_path)
    items = _items(disk.path)
    for number, part in enumerate(disk.partitions, start=1):
        item = items[f"p{number}"]
        assert item.kind is ItemKind.SPECIAL and item.encrypted
        assert [p.code for p in item.problems] == ["encrypted"]
        assert f"offset {part.start}" in item.problems[0].message
        assert not any(k.startswith(f"p{number}/") for k in items)


def test_image_without_any_file_system_is_carved_whole(tmp_path: Path) -> None:
    jpeg = next(s for s in sample_files().values() if s.kind == "jpeg")
    image = blank_file(tmp_path / "blob.img", 1 << 20)
    with image.open("r+b") as fh:
        fh.seek(300_000)
        fh.write(jpeg.data)
    items = _items(image)
    assert [p.code for p in items[""].problems] == ["no-volumes"]
    carved = items["$unparsed/offset-300000.jpg"]
    assert carved.carved and carved.size == jpeg.size


def test_partition_without_a_file_system_is_reported_and_carved(tmp_path: Path) -> None:
    jpeg = next(s for s in sample_files().values() if s.kind == "jpeg")
    image = blank_file(tmp_path / "odd.img", 4 << 20)
    sfdisk(image, [(Partition(1, 1 << 20, 2 << 20, "primary", None), "83")])
    with image.open("r+b") as fh:
        fh.seek((1 << 20) + 8192)
        fh.write(jpeg.data)
    items = _items(image)
    assert [p.code for p in items["p1"].problems] == ["unsupported-fs"]
    assert "offset 1048576" in items["p1"].problems[0].message
    carved = items[f"p1/$unparsed/offset-{(1 << 20) + 8192}.jpg"]
    assert _sha(DiskSource(image, Settings()), carved) == jpeg.sha256


def test_ntfs_files_and_alternate_data_streams(tmp_path: Path) -> None:
    require_tools("mkntfs", "ntfscp")
    image = blank_file(tmp_path / "ntfs.img", 16 << 20)
    run("mkntfs", "-q", "-F", "-f", "-L", "veriscan", image)
    photo = next(s for s in sample_files().values() if s.kind == "jpeg")
    (tmp_path / photo.name).write_bytes(photo.data)
    zone = b"[ZoneTransfer]\r\nZoneId=3\r\n"
    (tmp_path / "zone").write_bytes(zone)
    run("ntfscp", "-f", image, tmp_path / photo.name, photo.name)
    run("ntfscp", "-f", "-N", "Zone.Identifier", image, tmp_path / "zone", photo.name)
    source = DiskSource(image, Settings())
    items = _items(image)
    assert not any(k.startswith("$") for k in items if not items[k].carved)
    assert _sha(source, items[photo.name]) == photo.sha256
    stream = items[f"{photo.name}:Zone.Identifier"]
    assert _sha(source, stream) == hashlib.sha256(zone).hexdigest()


def test_iso9660_image(tmp_path: Path) -> None:
    require_tools("genisoimage")
    tree = tmp_path / "tree" / "photos"
    tree.mkdir(parents=True)
    photo = next(s for s in sample_files().values() if s.kind == "png")
    (tree / "shape.png").write_bytes(photo.data)
    iso = tmp_path / "disc.iso"
    run("genisoimage", "-quiet", "-R", "-J", "-o", iso, tmp_path / "tree")
    source = DiskSource(iso, Settings())
    items = _items(iso)
    assert source.describe()["volumes"][0]["file_system"] == "iso9660"
    assert _sha(source, items["photos/shape.png"]) == photo.sha256


def test_exfat_is_recognised_and_its_bookkeeping_skipped(tmp_path: Path) -> None:
    require_tools("mkfs.exfat")
    image = blank_file(tmp_path / "stick.img", 8 << 20)
    run("mkfs.exfat", "-L", "STICK", image)
    source = DiskSource(image, Settings())
    assert source.describe()["volumes"][0]["file_system"] == "exfat"
    assert [k for k, i in _items(image).items() if not i.carved] == []
