"""The demo set is evidence other tests and tutorials rely on, so each planted quirk is checked."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import ExifTags, Image, ImageOps

from veriscan.demo.evidence import (
    ARCHIVE,
    CAMERA_PHOTOS,
    DIAGRAMS,
    EXACT_DUPLICATES,
    EXTENSION_MISMATCH,
    GPS_PHOTOS,
    NEAR_DUPLICATES,
    NOTES,
    ROTATED_PHOTO,
    TRUNCATED,
    DemoSummary,
    make_demo_evidence,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDQ_MATCH = 31  # the usual PDQ match threshold in hash-sharing programmes


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    # A nested, not yet existing target also checks that missing parents are created.
    return make_demo_evidence(tmp_path_factory.mktemp("demo") / "phone" / "export")


def _fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    prints: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        prints[path.relative_to(root).as_posix()] = (digest, path.stat().st_mtime_ns)
    return prints


def _pdq(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    vector, _quality = pdqhash.compute(np.asarray(rgb))
    return np.asarray(vector)


def _distance(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(a != b))


def test_summary_describes_what_is_on_disk(demo: DemoSummary) -> None:
    files = [p for p in demo.root.rglob("*") if p.is_file()]
    assert demo.files == len(files) >= 25
    assert demo.bytes == sum(p.stat().st_size for p in files)
    assert 10e6 <= demo.bytes <= 20e6
    assert str(demo.files) in str(demo) and str(demo.root) in str(demo)


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_times(demo: DemoSummary, tmp_path: Path) -> None:
    again = make_demo_evidence(tmp_path / "again")
    assert again.files == demo.files and again.bytes == demo.bytes
    assert _fingerprint(again.root) == _fingerprint(demo.root)


@pytest.mark.slow
def test_another_seed_draws_other_pictures(demo: DemoSummary, tmp_path: Path) -> None:
    other = make_demo_evidence(tmp_path / "other", seed=8)
    for rel in CAMERA_PHOTOS + DIAGRAMS:
        assert (other.root / rel).read_bytes() != (demo.root / rel).read_bytes(), rel


def test_camera_photos_carry_readable_exif(demo: DemoSummary) -> None:
    assert len(CAMERA_PHOTOS) >= 12
    models = set()
    for rel in CAMERA_PHOTOS:
        path = demo.root / rel
        assert rel.startswith("DCIM/100DEMO/IMG_")
        with Image.open(path) as image:
            assert image.format == "JPEG"
            exif = image.getexif()
        assert exif[ExifTags.Base.Make]
        assert exif[ExifTags.Base.Software]
        models.add(exif[ExifTags.Base.Model])
        taken = exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal]
        # The file system time agrees with the camera clock, as on a freshly exported phone.
        when = datetime.strptime(taken, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
        assert path.stat().st_mtime == when.timestamp()
    assert len(models) >= 2
    assert "Veriscan DemoCam 1" in models


def test_rotated_photo_is_stored_sideways(demo: DemoSummary) -> None:
    for rel in CAMERA_PHOTOS:
        with Image.open(demo.root / rel) as image:
            orientation = image.getexif()[ExifTags.Base.Orientation]
            stored = image.size
            shown = ImageOps.exif_transpose(image).size
        if rel == ROTATED_PHOTO:
            assert orientation == 6
            assert stored[0] < stored[1] and shown == (stored[1], stored[0])
        else:
            assert orientation == 1 and shown == stored


def _degrees(dms: tuple[float, float, float], ref: str) -> float:
    value = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    return -value if ref in ("S", "W") else value


def test_gps_positions_cover_all_hemispheres(demo: DemoSummary) -> None:
    assert len(GPS_PHOTOS) >= 2
    refs = set()
    for rel in CAMERA_PHOTOS:
        with Image.open(demo.root / rel) as image:
            gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        if rel not in GPS_PHOTOS:
            assert not gps
            continue
        lat_ref, lon_ref = gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLongitudeRef]
        refs |= {lat_ref, lon_ref}
        assert 0 < abs(_degrees(gps[ExifTags.GPS.GPSLatitude], lat_ref)) <= 90
        assert 0 < abs(_degrees(gps[ExifTags.GPS.GPSLongitude], lon_ref)) <= 180
    assert refs == {"N", "S", "E", "W"}


def test_exact_duplicates_share_bytes_under_other_paths(demo: DemoSummary) -> None:
    assert len(EXACT_DUPLICATES) >= 2
    for original, copy in EXACT_DUPLICATES:
        assert Path(original).name != Path(copy).name or Path(original).parent != Path(copy).parent
        assert (demo.root / copy).read_bytes() == (demo.root / original).read_bytes()


def test_near_duplicates_differ_in_bytes_but_match_by_pdq(demo: DemoSummary) -> None:
    hashes = {rel: _pdq(demo.root / rel) for rel in CAMERA_PHOTOS}
    for original, variant in NEAR_DUPLICATES:
        assert (demo.root / variant).read_bytes() != (demo.root / original).read_bytes()
        assert _distance(_pdq(demo.root / variant), hashes[original]) <= PDQ_MATCH, variant
    with Image.open(demo.root / NEAR_DUPLICATES[0][0]) as full:
        original_size = full.size
    with Image.open(demo.root / NEAR_DUPLICATES[0][1]) as small:
        assert small.size == (original_size[0] * 3 // 4, original_size[1] * 3 // 4)
    with Image.open(demo.root / NEAR_DUPLICATES[1][1]) as cropped:
        assert cropped.size < original_size
    # Distinct scenes must stay apart, or a demo scan would report matches that are not there.
    for a, b in itertools.combinations(CAMERA_PHOTOS, 2):
        assert _distance(hashes[a], hashes[b]) > PDQ_MATCH, (a, b)


def test_diagrams_are_pngs(demo: DemoSummary) -> None:
    assert len(DIAGRAMS) == 5
    for rel in DIAGRAMS:
        assert (demo.root / rel).read_bytes().startswith(PNG_MAGIC)
        with Image.open(demo.root / rel) as image:
            image.load()


def test_extension_mismatch_is_a_png_named_jpg(demo: DemoSummary) -> None:
    path = demo.root / EXTENSION_MISMATCH
    assert path.suffix.lower() == ".jpg"
    assert path.read_bytes().startswith(PNG_MAGIC)
    with Image.open(path) as image:
        assert image.format == "PNG"


def test_archive_holds_photos_and_a_nested_zip(demo: DemoSummary) -> None:
    with zipfile.ZipFile(demo.root / ARCHIVE) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        photos = [n for n in names if n.lower().endswith(".jpg")]
        assert len(photos) >= 2
        loose = {Path(rel).name: (demo.root / rel).read_bytes() for rel in CAMERA_PHOTOS}
        for name in photos:
            assert archive.read(name) == loose[Path(name).name]
        assert "inner.zip" in names
        inner_bytes = archive.read("inner.zip")
    with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
        assert inner.testzip() is None
        pngs = [n for n in inner.namelist() if n.endswith(".png")]
        texts = [n for n in inner.namelist() if n.endswith(".txt")]
        assert len(pngs) == 1 and len(texts) == 1
        assert inner.read(pngs[0]).startswith(PNG_MAGIC)
        assert inner.read(texts[0]).decode("utf-8").strip()


def test_truncated_jpeg_opens_but_does_not_decode(demo: DemoSummary) -> None:
    data = (demo.root / TRUNCATED).read_bytes()
    assert data.startswith(b"\xff\xd8") and not data.endswith(b"\xff\xd9")
    with Image.open(demo.root / TRUNCATED) as image:
        assert image.format == "JPEG"
        with pytest.raises(OSError, match="truncated"):
            image.load()


def test_notes_are_benign_text(demo: DemoSummary) -> None:
    text = (demo.root / NOTES).read_text(encoding="utf-8")
    assert "synthetic" in text and "seed 7" in text


def test_refuses_a_non_empty_target(tmp_path: Path) -> None:
    (tmp_path / "case-notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="not empty"):
        make_demo_evidence(tmp_path)
    assert os.listdir(tmp_path) == ["case-notes.txt"]
    assert (tmp_path / "case-notes.txt").read_text(encoding="utf-8") == "keep me"


def test_refuses_a_file_as_target(tmp_path: Path) -> None:
    target = tmp_path / "evidence"
    target.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a directory"):
        make_demo_evidence(target)
    assert target.read_bytes() == b"x"


def test_demo_list_matches_the_demo_and_refuses_other_folders(tmp_path: Path) -> None:
    from veriscan.demo.evidence import make_demo_evidence
    from veriscan.demo.lists import write_demo_list

    evidence = tmp_path / "ev"
    make_demo_evidence(evidence)
    out = tmp_path / "known.csv"
    assert write_demo_list(evidence, out) == 8
    lines = out.read_text().splitlines()
    assert lines[0] == "md5,sha256,pdq,series,labels"
    assert len(lines[3].split(",")[2]) == 64
    assert write_demo_list(evidence, tmp_path / "again.csv") == 8
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes(), "deterministic"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="demo evidence"):
        write_demo_list(tmp_path / "empty", tmp_path / "x.csv")


def test_bulk_photos_are_deterministic_benign_landscapes(tmp_path: Path) -> None:
    from veriscan.demo.evidence import BULK_FOLDER, add_bulk_photos

    assert add_bulk_photos(tmp_path / "a", 12) == 12
    add_bulk_photos(tmp_path / "b", 12)
    names = sorted(p.name for p in (tmp_path / "a" / BULK_FOLDER).iterdir())
    assert len(names) == 12 and names[0] == "IMG_5000.JPG"
    for name in names:
        a = (tmp_path / "a" / BULK_FOLDER / name).read_bytes()
        assert a == (tmp_path / "b" / BULK_FOLDER / name).read_bytes()
    with Image.open(tmp_path / "a" / BULK_FOLDER / names[0]) as img:
        assert img.size == (640, 480)
    with pytest.raises(ValueError):
        add_bulk_photos(tmp_path / "c", -1)
