"""Registry behaviour, plus contract tests every registered analyzer gets for free."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from veriscan.analyzers.base import Analyzer, FileContext, StreamingAnalyzer
from veriscan.domain import Attribute, Fact, Problem
from veriscan.plugins import PluginError, Registry, load_registry
from veriscan.settings import Settings

REGISTRY = load_registry()


def test_builtins_load_through_entry_points() -> None:
    assert {"hashes", "filetype", "image", "pdq"} <= set(REGISTRY.ids("analyzers"))
    assert {"folder", "file"} <= set(REGISTRY.ids("sources"))
    assert {"jsonl", "html"} <= set(REGISTRY.ids("exporters"))


class _Dummy(StreamingAnalyzer):
    id = "hashes"
    version = "9"

    def begin(self, name: str) -> Any:
        raise AssertionError


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(PluginError, match="duplicate analyzer id 'hashes'"):
        load_registry(extra=[("analyzers", _Dummy)])


def test_registry_is_not_global() -> None:
    reg = Registry()
    reg.register("analyzers", _Dummy)
    assert "hashes" in reg.ids("analyzers")
    assert load_registry().get("analyzers", "hashes") is not _Dummy


def test_missing_id_or_version_is_refused() -> None:
    class NoVersion(Analyzer):
        id: ClassVar[str] = "nov"

        def wants(self, mime: str) -> bool:
            return True

        def analyze(self, ctx: FileContext) -> list[Fact]:
            return []

    with pytest.raises(PluginError, match="version"):
        Registry().register("analyzers", NoVersion)
    with pytest.raises(PluginError, match="no analyzer 'nope'"):
        Registry().get("analyzers", "nope")


GARBAGE = [b"", b"\x00" * 10, b"\xff\xd8\xff\xe0garbage", b"\x89PNG\r\n\x1a\nbroken", b"hello"]
ANALYZERS = REGISTRY.classes("analyzers")


@pytest.mark.parametrize("cls", ANALYZERS, ids=lambda c: c.id)
@pytest.mark.parametrize("data", GARBAGE, ids=range(len(GARBAGE)))
def test_contract_analyzers_never_raise_on_garbage(cls: Any, data: bytes) -> None:
    analyzer = cls(Settings())
    assert isinstance(analyzer, StreamingAnalyzer | Analyzer)
    if isinstance(analyzer, StreamingAnalyzer):
        state = analyzer.begin("x.bin")
        state.update(data)
        facts = state.finish()
    else:
        mimes = ["image/jpeg", "image/png", "application/octet-stream"]
        facts = []
        for mime in mimes:
            if analyzer.wants(mime):
                facts += analyzer.analyze(FileContext("x.jpg", data, mime, Settings()))
    for fact in facts:
        if isinstance(fact, Attribute):
            import json

            json.dumps(fact.value)
    if isinstance(analyzer, Analyzer) and data and analyzer.wants("image/jpeg"):
        assert any(isinstance(f, Problem) for f in facts), "bad bytes must yield a Problem"


@pytest.mark.parametrize("cls", ANALYZERS, ids=lambda c: c.id)
def test_contract_analyzers_pickle_by_reference(cls: Any) -> None:
    import pickle

    assert pickle.loads(pickle.dumps(cls)) is cls
    assert isinstance(cls.version, str) and cls.version
