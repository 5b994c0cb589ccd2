"""An analyzer that raises costs one file's facts: a fixed-wording problem, the traceback logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from support.hostile_media import drawn_file
from veriscan.analyzers import failures
from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.filetype import FileTypeAnalyzer
from veriscan.analyzers.hashes import HashAnalyzer
from veriscan.domain import Fact
from veriscan.pipeline.plan import WorkUnit
from veriscan.pipeline.process import process_unit
from veriscan.settings import Settings
from veriscan.sources.folder import FolderSource


class Exploding(Analyzer):
    id: ClassVar[str] = "exploding"
    version: ClassVar[str] = "1"

    def wants(self, mime: str) -> bool:
        return True

    def analyze(self, ctx: FileContext) -> list[Fact]:
        raise AttributeError("'NoneType' object has no attribute 'width'")


def test_a_raising_analyzer_is_a_plain_problem_and_a_run_log_entry(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "a.jpg").write_bytes(drawn_file("JPEG", 2))
    case = tmp_path / "case"
    (case / "tmp").mkdir(parents=True)
    settings = Settings()
    source = FolderSource(evidence, settings)
    unit = WorkUnit(
        unit_id="42-0",
        source_cls=FolderSource,
        source=source.spec,
        items=tuple(source.items()),
        settings=settings,
        analyzer_classes=(HashAnalyzer, FileTypeAnalyzer, Exploding),
        tmp_dir=str(case / "tmp"),
        db_url=None,
    )
    try:
        result = process_unit(unit)
    finally:
        for handler in list(failures.LOGGER.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                failures.LOGGER.removeHandler(handler)
    (content,) = result.contents
    (problem,) = content.problems
    assert problem.code == "analyzer-crash"
    assert problem.message == (
        "the exploding analyzer failed on this file "
        "(internal error; details are in the case's run log)"
    )
    log = (case / "logs" / "run-42.log").read_text()
    assert "Traceback" in log and "'NoneType' object has no attribute 'width'" in log
    assert "a.jpg" in log
