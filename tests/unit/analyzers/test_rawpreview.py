"""Camera RAW: type by signature, pixels from the embedded preview, facts marked as such."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import raw_media
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.decode import EMBEDDED_PREVIEW, image_bytes
from veriscan.analyzers.filetype import extension_mismatch, sniff_mime
from veriscan.analyzers.image import ImageAnalyzer
from veriscan.analyzers.pdq import PdqAnalyzer
from veriscan.analyzers.rawpreview import find_preview, raw_kind_of_tiff
from veriscan.domain import Attribute, Fact, Problem
from veriscan.settings import Settings

JPEG = raw_media.preview_jpeg()

BUILDERS: dict[str, tuple[Callable[[bytes], bytes], str, str, str]] = {
    "nef": (raw_media.tiff_raw, "image/tiff", "NEF", "NIKON CORPORATION"),
    "dng": (lambda j: raw_media.tiff_raw(j, b"Drawco\0", dng=True), "image/tiff", "DNG", "Drawco"),
    "raf": (raw_media.raf, "image/x-fuji-raf", "RAF", ""),
    "cr3": (raw_media.cr3, "image/x-canon-cr3", "CR3", "Canon"),
    "x3f": (raw_media.x3f, "image/x-sigma-x3f", "X3F", ""),
    "crw": (raw_media.crw, "image/x-canon-crw", "CRW", ""),
}


def analyze(name: str, data: bytes) -> tuple[str, list[Fact], FileContext]:
    s = Settings(pdq="exact")
    ctx = FileContext(name, data, sniff_mime(data[:4096]), s)
    facts: list[Fact] = []
    for analyzer in (ImageAnalyzer(s), PdqAnalyzer(s)):
        if analyzer.wants(ctx.mime):
            facts += analyzer.analyze(ctx)
    return ctx.mime, facts, ctx


def attrs(facts: list[Fact]) -> dict[str, Any]:
    return {f.name: f.value for f in facts if isinstance(f, Attribute)}


@pytest.mark.parametrize("ext", sorted(BUILDERS))
def test_raw_preview_gives_thumbnail_pdq_and_is_marked(ext: str) -> None:
    build, mime, kind, make = BUILDERS[ext]
    found_mime, facts, ctx = analyze(f"shot.{ext}", build(JPEG))
    assert found_mime == mime
    assert not extension_mismatch(f"shot.{ext}", found_mime)
    assert not [f for f in facts if isinstance(f, Problem)]
    values = attrs(facts)
    assert (values["width"], values["height"]) == raw_media.PREVIEW_SIZE
    assert values["format"] == kind
    assert values["source"] == EMBEDDED_PREVIEW
    assert any(getattr(f, "name", "") == "thumbnail" for f in facts)
    assert image_bytes(ctx) == JPEG  # what the detector and provenance decode
    _, plain, _ = analyze("preview.jpg", JPEG)
    assert values["hash"] == attrs(plain)["hash"]  # PDQ of the preview itself
    if make:
        assert values["exif"]["make"] == make  # from the container, not the preview
    if ext == "cr3":  # Canon's EXIF directory sits in its own box (CMT2)
        assert values["exif"]["datetime_original"] == "2024:05:06 07:08:09"


def test_ordinary_tiff_is_not_raw() -> None:
    from support.hostile_media import drawn, encode

    data = encode(drawn(1), "TIFF")
    assert raw_kind_of_tiff(data) is None
    _, facts, _ = analyze("x.tif", data)
    assert "source" not in attrs(facts)


def test_raw_without_preview_is_a_problem_in_plain_words() -> None:
    data = raw_media.raf(b"")
    _, facts, _ = analyze("empty.raf", data)
    problems = [f for f in facts if isinstance(f, Problem)]
    assert {p.code for p in problems} == {"raw-no-preview"}
    assert problems[0].message.startswith("RAF camera RAW: no embedded preview")


@pytest.mark.parametrize("ext", sorted(BUILDERS))
def test_cut_raw_files_never_raise(ext: str) -> None:
    data = BUILDERS[ext][0](JPEG)
    for end in range(0, len(data), max(1, len(data) // 40)):
        _, facts, _ = analyze(f"cut.{ext}", data[:end])
        for problem in (f for f in facts if isinstance(f, Problem)):
            assert "Error" not in problem.message and "object" not in problem.message


def test_ifd_loop_in_a_raw_is_stated() -> None:
    data = bytearray(raw_media.tiff_raw(JPEG))
    data[8 + 2 + 12 * 4 : 8 + 2 + 12 * 4 + 4] = (8).to_bytes(4, "little")  # IFD0 -> IFD0
    found = find_preview(bytes(data), "NEF")
    assert found.jpegs and "IFD loop" in found.defects
    _, facts, _ = analyze("loop.nef", bytes(data))
    assert "NEF structure malformed: IFD loop" in {
        f.message for f in facts if isinstance(f, Problem)
    }


RAW_SAMPLES = {
    "real/exiftool-t-images/CanonRaw.cr2": "image/tiff",
    "real/exiftool-t-images/CanonRaw.cr3": "image/x-canon-cr3",
    "real/exiftool-t-images/CanonRaw.crw": "image/x-canon-crw",
    "real/exiftool-t-images/DNG.dng": "image/tiff",
    "real/exiftool-t-images/FujiFilm.raf": "image/x-fuji-raf",
    "real/exiftool-t-images/Nikon.nef": "image/tiff",
    "real/exiftool-t-images/Panasonic.rw2": "image/x-panasonic-rw2",
    "real/exiftool-t-images/Sigma.x3f": "image/x-sigma-x3f",
    "real/exiftool-t-images/SigmaDP2.x3f": "image/x-sigma-x3f",
    "real/exiftool-t-images/Photoshop.psd": "image/vnd.adobe.photoshop",
    "real/exiftool-t-images/JXL.jxl": "image/jxl",
    "real/exiftool-t-images/JXL2.jxl": "image/jxl",
    "c2pa/c2pa-rs/sdk/tests/fixtures/sample1.jxl": "image/jxl",
    "real/exiftool-t-images/Minolta.mrw": "image/x-minolta-mrw",
}


def test_shared_corpus_raw_and_psd_samples(shared_data: Path) -> None:
    """exiftool's samples have their image data stripped: types must still be right, and a
    RAW with no preview left says so in plain words; the two with a preview left are used."""
    for rel, mime in RAW_SAMPLES.items():
        data = (shared_data / rel).read_bytes()
        found_mime, facts, _ = analyze(Path(rel).name, data)
        assert found_mime == mime, rel
        for problem in (f for f in facts if isinstance(f, Problem)):
            assert problem.code in {"raw-no-preview", "raw-malformed"}, (rel, problem)
        if rel.endswith((".raf", ".rw2")):
            assert attrs(facts)["source"] == EMBEDDED_PREVIEW
