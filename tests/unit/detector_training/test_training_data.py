"""Detector datasets: the split by source image, manifests, folders, augmentations (no torch)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veriscan.detector_training import augment
from veriscan.detector_training.data import (
    SPLITS,
    UnusableError,
    load_dataset,
    read_manifest,
    read_pixels,
    split_of,
)


def _png(path: Path, seed: int, size: tuple[int, int] = (96, 80)) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "PNG")


def _gradient(h: int = 300, w: int = 280) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([yy % 256, xx % 256, (yy + xx) % 256], axis=-1).astype(np.uint8)


def test_split_is_deterministic_and_roughly_70_15_15() -> None:
    keys = [f"folder/image_{i:04d}.png" for i in range(3000)]
    first = [split_of(k) for k in keys]
    assert first == [split_of(k) for k in reversed(keys)][::-1]
    shares = {s: first.count(s) / len(keys) for s in SPLITS}
    assert abs(shares["train"] - 0.70) < 0.04
    assert abs(shares["val"] - 0.15) < 0.03
    assert abs(shares["test"] - 0.15) < 0.03


def test_manifest_split_by_source_image(tmp_path: Path) -> None:
    rows = ["file\tcategory\ttruth\tgenerator_family\trepo\tpath"]
    for g in range(30):
        for t in range(3):  # three tiles cut from one upstream grid image
            rows.append(f"tiles/g{g}_t{t}.png\tsynthetic\tai\tFamilyA\torg/repo\tgrid{g}.png")
            _png(tmp_path / f"tiles/g{g}_t{t}.png", 100 * g + t)
    for r in range(20):
        rows.append(f"real/p{r}.png\treal\treal\t\torg/photos\tp{r}.png")
        _png(tmp_path / f"real/p{r}.png", 10_000 + r)
    rows.append("other/x.png\tunknown\tunknown\t\t\t")
    rows.append("other/m.png\tmixed\tmixed\tFamilyA\t\t")
    rows.append("gone.png\treal\treal\t\t\t")
    (tmp_path / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")

    ds = read_manifest(tmp_path / "MANIFEST.tsv")
    assert len(ds.samples) == 110
    assert ds.skipped == {"truth unknown": 1, "truth mixed": 1, "missing file": 1}
    assert {s.family for s in ds.samples} == {"FamilyA", "real"}
    sides: dict[str, set[str]] = {}
    for s in ds.samples:
        sides.setdefault(s.group, set()).add(s.split)
    assert all(len(v) == 1 for v in sides.values())
    names = [{s.name for s in ds.select(split)} for split in SPLITS]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert sum(len(n) for n in names) == 110
    again = read_manifest(tmp_path / "MANIFEST.tsv")
    assert [s.split for s in again.samples] == [s.split for s in ds.samples]
    assert len(ds.without(["familya"]).samples) == 20


def test_folders_by_content_with_families_duplicates_and_corrupt(tmp_path: Path) -> None:
    _png(tmp_path / "real/a.png", 1)
    _png(tmp_path / "real/sub/renamed.dat", 2)
    (tmp_path / "real/notes.txt").write_text("not an image\n")
    _png(tmp_path / "ai/flux/x.png", 3)
    _png(tmp_path / "ai/loose.png", 4)
    (tmp_path / "ai/flux/copy.png").write_bytes((tmp_path / "ai/flux/x.png").read_bytes())
    good = (tmp_path / "ai/loose.png").read_bytes()
    (tmp_path / "ai/flux/broken.png").write_bytes(good[: len(good) // 3])

    ds = load_dataset(None, tmp_path / "real", tmp_path / "ai")
    families = sorted((s.name, s.family) for s in ds.samples)
    assert ("real/sub/renamed.dat", "real") in families
    assert ("ai/loose.png", "ai") in families
    assert ("ai/flux/broken.png", "flux") in families
    assert ds.skipped["not an image"] == 1
    assert ds.skipped["duplicate content"] == 1
    broken = next(s for s in ds.samples if s.name.endswith("broken.png"))
    with pytest.raises(UnusableError, match="undecodable"):
        read_pixels(broken)


def test_augmented_patches_keep_shape_and_dtype() -> None:
    rng = np.random.default_rng(0)
    crops = augment.random_crops(_gradient(), rng, count=8, size=256)
    assert len(crops) == 8 and all(c.shape == (256, 256, 3) for c in crops)
    small = augment.random_crops(_gradient(40, 50), rng, count=8, size=256)
    assert len(small) == 1 and small[0].shape == (40, 50, 3)
    cfg = augment.AugmentConfig(rescale_prob=0.5, blur_prob=0.5)
    for crop in [*crops, small[0]]:
        patch = augment.augment_patch(crop, rng, cfg, 64)
        assert patch.shape == (64, 64, 3) and patch.dtype == np.uint8


def test_reencode_changes_the_container_for_both_classes() -> None:
    rng = np.random.default_rng(0)
    cfg = augment.AugmentConfig()
    for stored in ("JPEG", "PNG"):  # the corpus: real photos mostly JPEG, AI mostly PNG
        pixels = augment.decode(augment.encode(_gradient(64, 64), stored))
        formats = set()
        for _ in range(40):
            data = augment.reencode(pixels, rng, cfg)
            formats.add(Image.open(io.BytesIO(data)).format)
        assert formats == {"JPEG", "PNG"}
    png = augment.reencode(pixels, np.random.default_rng(1), augment.AugmentConfig(jpeg_prob=0))
    assert np.array_equal(augment.decode(png), pixels)
    jpg = augment.encode(pixels, "JPEG", 60)
    assert not np.array_equal(augment.decode(jpg), pixels)
