"""The image and PDQ analyzers against the shared benign corpus and its upstream expectations.

The corpus lives outside the repository (``<repo>/../shared/data``); every test skips, saying so,
when it is absent.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
import pytest
from PIL import Image

from veriscan.analyzers.base import FileContext
from veriscan.analyzers.decode import decoded
from veriscan.analyzers.image import ImageAnalyzer
from veriscan.analyzers.pdq import PdqAnalyzer, bits_to_hex
from veriscan.domain import Attribute, Fact, Problem
from veriscan.settings import Settings

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PDQ_DIR = DATA / "pdq"
REAL_DIR = DATA / "real"
MISSING = f"shared corpus not found at {DATA.resolve()}"

CROSS_IMPLEMENTATION_TOLERANCE = 16
"""pdq/README.md: implementations that decode differently stay within 16 bits."""
FAST_TOLERANCE = 16
ORIENTATION_TOLERANCE = {"exact": 4, "fast": 16}
"""Measured: upright hashes of the exif-rotn photos sit 0-2 bits (exact) and 2-8 bits (fast) from
pdqhash's own dihedral hash of the stored pixels; ignoring the tag costs about 128 bits."""
DIHEDRAL_INDEX = {1: 0, 3: 2, 6: 3, 8: 1}
"""pdqhash.compute_dihedral order is original, rot90, rot180, rot270 (counter-clockwise), ...;
orientation 6 displays the stored pixels turned 90 degrees clockwise, which is rot270."""


def tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def params(build: Any, width: int = 1) -> list[Any]:
    """Parametrize from the corpus, or one skipped case of ``width`` values naming the gap."""
    if not DATA.is_dir():
        skip = pytest.mark.skip(reason=MISSING)
        return [pytest.param(*[None] * width, id="no-corpus", marks=skip)]
    return list(build())


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def facts_for(path: Path, pdq: str = "exact") -> tuple[dict[str, Any], list[Problem]]:
    s = Settings(pdq=pdq)
    ctx = FileContext(path.name, path.read_bytes(), "image/jpeg", s)
    facts: list[Fact] = ImageAnalyzer(s).analyze(ctx) + PdqAnalyzer(s).analyze(ctx)
    values = {f.name: f.value for f in facts if isinstance(f, Attribute)}
    return values, [f for f in facts if isinstance(f, Problem)]


@cache
def pdq_of(path: Path, pdq: str) -> tuple[str, int]:
    values, found = facts_for(path, pdq)
    assert not found, found
    return values["hash"], values["quality"]


# --- PDQ against upstream expectations ---------------------------------------------------------


def _expected_rows() -> list[Any]:
    validation = {
        (v["local_file"], v["implementation"], v["expected_pdq"]): v
        for v in tsv(PDQ_DIR / "VALIDATION.tsv")
    }
    out = []
    for i, row in enumerate(tsv(PDQ_DIR / "expected_pdq_hashes.tsv")):
        check = validation.get((row["local_file"], row["implementation"], row["expected_pdq"]))
        out.append(pytest.param(row, check, id=f"{i:02d}-{Path(row['local_file']).name}"))
    return out


@pytest.mark.parametrize(("row", "check"), params(_expected_rows, 2))
def test_pdq_matches_upstream_expectations(
    row: dict[str, str], check: dict[str, str] | None
) -> None:
    path = PDQ_DIR / row["local_file"]
    if not path.is_file():
        pytest.skip(f"{row['local_file']} is not in the corpus")
    if check is not None and not check["comparable"].startswith("yes"):
        pytest.skip(f"VALIDATION.tsv: {row['implementation']}: {check['comparable']}")
    got, quality = pdq_of(path, "exact")
    d = distance(got, row["expected_pdq"])
    if "python-threatexchange" in row["implementation"]:
        assert d == 0, f"{row['local_file']}: {got} vs python-threatexchange {row['expected_pdq']}"
    else:
        assert d <= CROSS_IMPLEMENTATION_TOLERANCE, f"{row['implementation']}: distance {d}"
    if row["expected_quality"]:
        assert quality == int(row["expected_quality"])


def test_exactness_bar_is_not_vacuous() -> None:
    if not DATA.is_dir():
        pytest.skip(MISSING)
    exact_rows = [
        r
        for r in tsv(PDQ_DIR / "expected_pdq_hashes.tsv")
        if "python-threatexchange" in r["implementation"] and (PDQ_DIR / r["local_file"]).is_file()
    ]
    assert len(exact_rows) >= 5


# --- fast mode ----------------------------------------------------------------------------------


def _photos() -> list[Any]:
    pdq_images = sorted(
        p for p in (PDQ_DIR / "data").rglob("*") if p.suffix.lower() in {".jpg", ".png", ".webp"}
    )
    real = [
        REAL_DIR / r["local_file"]
        for r in tsv(REAL_DIR / "LABELS.tsv")
        if r["format"] and "pil_cannot_open" not in r["flags"]
    ]
    return [pytest.param(p, id=str(p.relative_to(DATA))) for p in pdq_images + real if p.is_file()]


@pytest.mark.slow
@pytest.mark.parametrize("path", params(_photos))
def test_fast_mode_stays_close_to_exact(path: Path) -> None:
    exact, quality = pdq_of(path, "exact")
    if quality < 80:
        pytest.skip(f"PDQ quality {quality} < 80: the hash itself is unreliable there")
    fast, _ = pdq_of(path, "fast")
    assert distance(fast, exact) <= FAST_TOLERANCE


def test_fast_mode_really_reduces_camera_jpegs() -> None:
    if not DATA.is_dir():
        pytest.skip(MISSING)
    path = REAL_DIR / "metadata-extractor-images" / "Canon PowerShot A560.jpg"
    ctx = FileContext(path.name, path.read_bytes(), "image/jpeg", Settings())
    assert decoded(ctx, "fast").rgb.size == (768, 576)  # type: ignore[union-attr]
    assert decoded(ctx, "exact").rgb.size == (3072, 2304)  # type: ignore[union-attr]


# --- EXIF orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize("pdq", ["exact", "fast"])
@pytest.mark.parametrize("orientation", params(lambda: [1, 3, 6, 8]))
def test_exif_rotn_photos_hash_upright(orientation: int, pdq: str) -> None:
    """The four upstream files are four separate shots of one desk, not one photo tagged four ways,
    so each is compared with the dihedral variant pdqhash computes from its own stored pixels."""
    path = PDQ_DIR / "data" / "reg-test-input" / "exif-rotn" / f"exif-rotn-{orientation}.jpg"
    stored = np.asarray(Image.open(path).convert("RGB"))
    variants, _ = pdqhash.compute_dihedral(stored)
    expected = bits_to_hex(np.asarray(variants[DIHEDRAL_INDEX[orientation]]))
    values, found = facts_for(path, pdq)
    assert not found
    assert distance(values["hash"], expected) <= ORIENTATION_TOLERANCE[pdq]
    assert values["exif"]["orientation"] == orientation
    assert (values["width"], values["height"]) == (4032, 3024)


@pytest.mark.parametrize("pdq", ["exact", "fast"])
@pytest.mark.parametrize("orientation", params(lambda: [3, 6, 8]))
def test_tagged_copies_of_the_upright_photo_hash_like_it(
    orientation: int, pdq: str, tmp_path: Path
) -> None:
    """exif-rotn-1 is upright; turn its pixels away, tag the turn back, and the hash must return."""
    upright_path = PDQ_DIR / "data" / "reg-test-input" / "exif-rotn" / "exif-rotn-1.jpg"
    upright = Image.open(upright_path).convert("RGB")
    away = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90}
    stored = upright.transpose(away.get(orientation, Image.Transpose.ROTATE_270))
    exif = Image.Exif()
    exif[0x0112] = orientation
    copy = tmp_path / f"tagged-{orientation}.jpg"
    stored.save(copy, "JPEG", quality=95, exif=exif)
    original, _ = pdq_of(upright_path, pdq)
    got, _ = pdq_of(copy, pdq)
    assert distance(got, original) <= ORIENTATION_TOLERANCE[pdq]


# --- EXIF against labels ------------------------------------------------------------------------


def label_text(value: str) -> str:
    """Labels hold raw tag text; EXIF ASCII ends at the first NUL (WWL ION230's model is
    'ION230' + NUL + junk), and surrounding whitespace is padding."""
    return " ".join(value.split("\0", 1)[0].split())


def is_unknown_date(value: str) -> bool:
    """The EXIF spec writes an unknown date as blanks or zeros around the colons."""
    return not label_text(value).strip(" :0")


def _labelled() -> list[Any]:
    return [
        pytest.param(r, id=r["local_file"])
        for r in tsv(REAL_DIR / "LABELS.tsv")
        if r["exif_make"] or r["datetime"]
    ]


@pytest.mark.parametrize("row", params(_labelled))
def test_exif_matches_labels(row: dict[str, str]) -> None:
    path = REAL_DIR / row["local_file"]
    if not path.is_file():
        pytest.skip(f"{row['local_file']} is not in the corpus")
    values, _ = facts_for(path, "fast")
    exif = values.get("exif", {})
    assert exif.get("make", "") == label_text(row["exif_make"])
    assert exif.get("model", "") == label_text(row["exif_model"])
    if not is_unknown_date(row["datetime"]):
        assert exif.get("datetime_original") == label_text(row["datetime"])
    else:
        # An unknown DateTimeOriginal falls back to IFD0 DateTime, if that one is a real date.
        fallback = str(Image.open(path).getexif().get(0x0132) or "")
        expected = None if is_unknown_date(fallback) else label_text(fallback)
        assert exif.get("datetime_original") == expected


def _dimensioned() -> list[Any]:
    return [
        pytest.param(r, id=r["local_file"])
        for r in tsv(REAL_DIR / "LABELS.tsv")
        if r["format"] and "pil_cannot_open" not in r["flags"]
    ]


@pytest.mark.parametrize("row", params(_dimensioned))
def test_header_matches_labels(row: dict[str, str]) -> None:
    path = REAL_DIR / row["local_file"]
    if not path.is_file():
        pytest.skip(f"{row['local_file']} is not in the corpus")
    values, _ = facts_for(path, "fast")
    assert (values["width"], values["height"], values["format"]) == (
        int(row["width"]),
        int(row["height"]),
        row["format"],
    )
    assert len(values["hash"]) == 64


# --- GPS against metadata-extractor's reference dumps -------------------------------------------

DMS = re.compile(r"^(-?)(\d+)° (\d+)' ([\d.]+)\"$")


def parse_dms(text: str) -> float:
    match = DMS.match(text.strip())
    assert match, text
    sign, deg, minutes, sec = match.groups()
    value = int(deg) + int(minutes) / 60 + float(sec) / 3600
    return -value if sign else value


def _gps_dumps() -> list[Any]:
    folder = REAL_DIR / "metadata-extractor-images"
    out = []
    for dump in sorted((folder / "expected_metadata_java").glob("*.txt")):
        image = folder / dump.name.removesuffix(".txt")
        text = dump.read_text(encoding="utf-8", errors="replace")
        if image.is_file() and "[GPS - 0x0002] GPS Latitude =" in text:
            out.append(pytest.param(image, text, id=image.name))
    return out


@pytest.mark.parametrize(("image", "dump"), params(_gps_dumps, 2))
def test_gps_matches_metadata_extractor(image: Path, dump: str) -> None:
    tags = dict(re.findall(r"^\[GPS - 0x[0-9a-f]{4}\] (GPS [^=]+?) = (.*)$", dump, re.M))
    lat = parse_dms(tags["GPS Latitude"])
    lon = parse_dms(tags["GPS Longitude"])
    # metadata-extractor prints the magnitude for latitude and a signed longitude: apply refs.
    lat = -abs(lat) if tags.get("GPS Latitude Ref") == "S" else abs(lat)
    lon = -abs(lon) if tags.get("GPS Longitude Ref") == "W" else abs(lon)
    gps = facts_for(image, "fast")[0]["exif"]["gps"]
    assert gps["lat"] == pytest.approx(lat, abs=0.006 / 3600)  # dumps round to 0.01"
    assert gps["lon"] == pytest.approx(lon, abs=0.006 / 3600)
    if "GPS Altitude" in tags:
        alt = float(tags["GPS Altitude"].split()[0])
        alt = -alt if tags.get("GPS Altitude Ref") == "Below sea level" else alt
        assert gps["alt"] == pytest.approx(alt, abs=0.05)


def test_heif_exif_comes_through_pillow_heif() -> None:
    if not DATA.is_dir():
        pytest.skip(MISSING)
    path = REAL_DIR / "exif-samples" / "heic" / "mobile" / "HMD_Nokia_8.3_5G_hdr.heif"
    values, found = facts_for(path, "fast")
    assert not found
    assert values["format"] == "HEIF"
    assert values["exif"]["datetime_original"] == "2022:01:12 07:30:14"
    assert values["exif"]["software"] == "00WW_2_270_SP04"
