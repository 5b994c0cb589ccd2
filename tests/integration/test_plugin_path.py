"""A third-party analyzer joins through the same registry path, and content is analysed once."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.domain import Attribute, Fact
from veriscan.pipeline.ingest import ingest
from veriscan.plugins import load_registry
from veriscan.settings import Settings
from veriscan.sources.folder import FolderSource
from veriscan.store.case import Case
from veriscan.store.queries import content_objects

CALLS: list[str] = []


class TextLength(Analyzer):
    id: ClassVar[str] = "textlen"
    version: ClassVar[str] = "1"

    def wants(self, mime: str) -> bool:
        return mime == "text/plain"

    def analyze(self, ctx: FileContext) -> list[Fact]:
        CALLS.append(ctx.name)
        return [Attribute("chars", len(ctx.data.decode()))]


def test_plugin_findings_and_analysed_once(tmp_path: Path) -> None:
    for label in ("a", "b"):
        d = tmp_path / label
        d.mkdir()
        (d / f"{label}-note.txt").write_text("same words\n")
        (d / f"{label}-own.txt").write_text(f"only in {label}\n")
    case = Case.init(tmp_path / "case", "t", "t")
    registry = load_registry(extra=[("analyzers", TextLength)])
    settings = Settings(workers=1)
    reports = []
    for label in ("a", "b"):
        src = FolderSource(tmp_path / label, settings)
        ev = case.add_evidence(label, None, "folder", str(src.path))
        reports.append(ingest(case, ev, src, registry, settings, command="t", executor="inline"))
    assert sorted(CALLS) == ["a-note.txt", "a-own.txt", "b-own.txt"]
    assert [r.new_contents for r in reports] == [2, 1]
    objs = {o["sha256"]: o for o in content_objects(case)}
    shared = next(o for o in objs.values() if len(o["locations"]) == 2)
    assert shared["findings"]["textlen"] == {"chars": 11}
    assert {loc["evidence"] for loc in shared["locations"]} == {"a", "b"}
