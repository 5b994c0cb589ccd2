"""Problems carry a code and forensic wording; exceptions go to the case's run log (issue 15/12)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from support import hostile_media as hm
from veriscan.analyzers import failures, pdq
from veriscan.analyzers.base import FileContext
from veriscan.analyzers.filetype import sniff_mime
from veriscan.analyzers.image import ImageAnalyzer
from veriscan.analyzers.pdq import PdqAnalyzer
from veriscan.analyzers.provenance.analyzer import ProvenanceAnalyzer
from veriscan.domain import Attribute, Fact, Problem
from veriscan.settings import Settings

EXCEPTION_TEXT = re.compile(
    r"'NoneType'|object has no attribute|[A-Za-z]Error\(|Exception\(|Traceback|<[^>]* at 0x"
)


def analyze(name: str, data: bytes) -> list[Fact]:
    s = Settings()
    ctx = FileContext(name, data, sniff_mime(data[:4096]), s)
    facts: list[Fact] = []
    for analyzer in (ImageAnalyzer(s), PdqAnalyzer(s), ProvenanceAnalyzer(s)):
        facts += analyzer.analyze(ctx)  # raising here is the defect under test
    return facts


def problems(facts: list[Fact]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for fact in facts:
        if isinstance(fact, Problem):
            out.setdefault(fact.code, []).append(fact)
    return out


EXPECTED = {
    "exif-ifd-loop.jpg": ("exif-malformed", "EXIF block malformed: IFD loop"),
    "exif-huge-count.jpg": (
        "exif-malformed",
        "EXIF block malformed: entry value count larger than the block",
    ),
    "gif-cut-in-half.gif": ("image-truncated", "GIF data ends before its trailer"),
    "tiff-ifd-loop.tif": ("image-malformed", "TIFF structure malformed: IFD loop"),
    "png-pixel-bomb.png": ("image-too-large", "not decoded: the declared size is over the limit"),
    "gif-pixel-bomb.gif": ("image-too-large", "not decoded: the declared size is over the limit"),
}


@pytest.mark.parametrize("name", sorted(hm.hostile_images()))
def test_hostile_images_get_a_problem_on_the_file_not_a_crash(name: str) -> None:
    facts = analyze(name, hm.hostile_images()[name])
    found = problems(facts)
    assert "analyzer-crash" not in found and "analyzer-error" not in found
    for items in found.values():
        for problem in items:
            assert not EXCEPTION_TEXT.search(problem.message), problem
    if name in EXPECTED:
        code, wording = EXPECTED[name]
        assert any(p.message.startswith(wording) for p in found.get(code, [])), found
    if name == "png-pixel-bomb.png":  # provenance used to raise DecompressionBombError here
        assert "provenance-unreadable" in found


def test_decode_failure_wordings_are_fixed() -> None:
    bomb = Image.DecompressionBombError("Image size (1 pixels) exceeds limit")
    assert failures.decode_failure(bomb, "PNG", 10)[0] == "image-too-large"
    cut = OSError("image file is truncated (3 bytes not processed)")
    assert failures.decode_failure(cut, "JPEG", 812) == (
        "image-truncated",
        "JPEG image data truncated: the file ends after 812 bytes",
    )
    odd = AttributeError("'NoneType' object has no attribute 'width'")
    code, wording = failures.decode_failure(odd, "TIFF", 5)
    assert code == "corrupt-image" and "NoneType" not in wording


def test_a_crashing_hasher_is_logged_not_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(rgb: Any) -> tuple[str, int]:
        raise AttributeError("'NoneType' object has no attribute 'width'")

    monkeypatch.setattr(pdq, "pdq_hash", broken)
    failures.attach_run_log(tmp_path / "case", "7")
    try:
        facts = PdqAnalyzer(Settings()).analyze(
            FileContext("a.jpg", hm.drawn_file("JPEG", 1), "image/jpeg", Settings())
        )
    finally:
        for handler in list(failures.LOGGER.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                failures.LOGGER.removeHandler(handler)
    (problem,) = [f for f in facts if isinstance(f, Problem)]
    assert problem.code == "pdq-error"
    assert "NoneType" not in problem.message and "run log" in problem.message
    log = (tmp_path / "case" / "logs" / "run-7.log").read_text()
    assert "Traceback" in log and "'NoneType' object has no attribute 'width'" in log
    assert "'a.jpg'" in log
    assert not [f for f in facts if isinstance(f, Attribute)]


def test_without_a_run_log_nothing_reaches_the_console(capfd: pytest.CaptureFixture[str]) -> None:
    failures.log_exception("image", "x.jpg", ValueError("boom"))
    assert capfd.readouterr().err == ""


def test_run_log_switches_with_the_run(tmp_path: Path) -> None:
    failures.attach_run_log(tmp_path, "1")
    failures.attach_run_log(tmp_path, "2")
    try:
        files = [h for h in failures.LOGGER.handlers if isinstance(h, logging.FileHandler)]
        assert [Path(h.baseFilename).name for h in files] == ["run-2.log"]
    finally:
        for handler in list(failures.LOGGER.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                failures.LOGGER.removeHandler(handler)
