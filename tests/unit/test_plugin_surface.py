"""The typed plugin surface: registry getters check contracts, analyzers order by `requires`,
plugin settings tables are carried, validated by their plugin and recorded."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

import veriscan.api as api
from veriscan.analyzers.base import Analyzer, FileContext, run_order
from veriscan.analyzers.classifiers import ClassifierAnalyzer
from veriscan.domain import Fact
from veriscan.pipeline.ingest import prepare_analyzers
from veriscan.plugins import KINDS, PluginError, Registry, load_registry
from veriscan.settings import Settings, SettingsError, load_settings, plugin_tables, table_config


def _analyzer(name: str, needs: tuple[str, ...] = (), rank: int = 50) -> type[Analyzer]:
    class Made(Analyzer):
        id: ClassVar[str] = name
        version: ClassVar[str] = "1"
        requires: ClassVar[tuple[str, ...]] = needs
        order: ClassVar[int] = rank

        def wants(self, mime: str) -> bool:
            return False

        def analyze(self, ctx: FileContext) -> list[Fact]:
            return []

    return Made


def test_public_surface_names_the_contracts() -> None:
    for name in ("Analyzer", "StreamingAnalyzer", "FileContext", "Exporter", "EvidenceSource"):
        assert name in api.__all__ and getattr(api, name) is not None
    assert api.Analyzer is Analyzer


def test_typed_getters_check_the_contract() -> None:
    registry = load_registry()
    assert registry.analyzer("image").id == "image"
    assert {cls.id for cls in registry.exporters()} >= {"jsonl", "html"}
    assert {cls.id for cls in registry.sources()} >= {"folder", "file"}
    assert {cls.id for cls in registry.matchers()} >= {"exact", "pdq"}

    class Impostor:
        id = "impostor"
        version = "1"

    reg = Registry()
    reg.register("exporters", Impostor)
    reg.register("analyzers", Impostor)
    with pytest.raises(PluginError, match="not a subclass of Exporter"):
        reg.exporter("impostor")
    with pytest.raises(PluginError, match="not a subclass of Analyzer or StreamingAnalyzer"):
        reg.analyzers()
    with pytest.raises(SettingsError, match="not a subclass"):
        prepare_analyzers(reg, Settings())


def test_requires_orders_analyzers_ties_by_order_then_id() -> None:
    a, b, c = _analyzer("a", ("c",)), _analyzer("b"), _analyzer("c")
    assert [x.id for x in run_order([a, b, c])] == ["b", "c", "a"]
    # in layers: everything needing nothing before anything that needs something
    d, e = _analyzer("d", ("a",)), _analyzer("e")
    assert [x.id for x in run_order([a, b, c, d, e])] == ["b", "c", "e", "a", "d"]
    legacy = _analyzer("z_first", rank=10)
    assert [x.id for x in run_order([a, b, c, legacy])] == ["z_first", "b", "c", "a"]
    # a requirement that is registered but not in this run is simply not there
    assert [x.id for x in run_order([a, b], registered=["a", "b", "c"])] == ["a", "b"]


def test_missing_or_cyclic_requirements_are_setup_errors() -> None:
    with pytest.raises(SettingsError, match="'a' requires unknown analyzer"):
        run_order([_analyzer("a", ("ghost",))], registered=["a"])
    with pytest.raises(SettingsError, match="cycle: x, y"):
        run_order([_analyzer("x", ("y",)), _analyzer("y", ("x",))])
    registry = load_registry(extra=[("analyzers", _analyzer("needy", ("ghost",)))])
    with pytest.raises(SettingsError, match="requires unknown"):
        prepare_analyzers(registry, Settings())


def test_builtins_keep_their_run_order() -> None:
    """Detector after the decoders it reuses, provenance last (was order 80/90): the same order
    as before, with the classifier in the detector's layer."""
    registry = load_registry(extra=[("analyzers", ClassifierAnalyzer)])
    whole = [c for c in registry.analyzers() if issubclass(c, Analyzer)]
    ids = [c.id for c in run_order(whole, registry.ids("analyzers"))]
    assert ids.index("detector") > max(ids.index("image"), ids.index("pdq"))
    assert ids.index("provenance") > ids.index("detector")
    assert ids == ["image", "pdq", "vpdq", "classifier", "detector", "provenance"]


def test_plugin_tables_are_carried_picklable_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "veriscan.toml"
    path.write_text(
        "[veriscan]\nworkers = 3\n"
        "[veriscan.analyzers.textlen]\nlimit = 5\nnames = ['a']\n"
        "[veriscan.classifiers.c1]\nsize = 8\n"
    )
    settings = load_settings(path, environ={})
    assert settings.workers == 3
    assert settings.table("analyzers", "textlen") == {"limit": 5, "names": ["a"]}
    assert settings.table("analyzers", "other") == {}
    assert settings.table_names("classifiers") == ["c1"]
    assert pickle.loads(pickle.dumps(settings)) == settings
    hash(settings)
    assert settings.as_dict()["plugin_tables"] == {
        "analyzers": {"textlen": {"limit": 5, "names": ["a"]}},
        "classifiers": {"c1": {"size": 8}},
    }
    assert Settings().as_dict()["plugin_tables"] == {}
    with pytest.raises(SettingsError, match="unknown setting 'bogus'"):
        path.write_text("[veriscan]\nbogus = 1\n")
        load_settings(path, environ={})


@dataclass(frozen=True)
class Limits:
    limit: int
    ratio: float = 0.5
    names: tuple[str, ...] = ()
    label: str | None = None


def test_table_config_checks_keys_and_types() -> None:
    where = "[veriscan.analyzers.t]"
    got = table_config(Limits, {"limit": 2, "ratio": 1, "names": ["x"]}, where)
    assert got == Limits(2, 1.0, ("x",))
    for table, message in [
        ({}, "missing setting 'limit'"),
        ({"limit": 1, "extra": 2}, "unknown setting 'extra' in [veriscan.analyzers.t]"),
        ({"limit": True}, "setting 'limit'"),
        ({"limit": 1, "names": "x"}, "must be a list"),
        ({"limit": 1, "label": 3}, "setting 'label'"),
    ]:
        with pytest.raises(SettingsError, match=re_escape(message)):
            table_config(Limits, table, where)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_an_analyzer_validates_its_own_table() -> None:
    class Custom(_analyzer("custom")):  # type: ignore[misc]
        @classmethod
        def validate(cls, table: Mapping[str, Any]) -> int:
            if set(table) - {"n"}:
                raise SettingsError(f"unknown setting {sorted(set(table) - {'n'})[0]!r}")
            return int(table.get("n", 1))

    tables = plugin_tables({"analyzers": {"custom": {"n": 4}}})
    assert Custom(Settings(plugin_tables=tables)).config == 4
    registry = load_registry(extra=[("analyzers", Custom)])
    bad = plugin_tables({"analyzers": {"custom": {"m": 4}}})
    with pytest.raises(SettingsError, match="unknown setting 'm'"):
        prepare_analyzers(registry, Settings(plugin_tables=bad))
    no_table = plugin_tables({"analyzers": {"image": {"x": 1}}})
    with pytest.raises(SettingsError, match=re_escape("'x' in [veriscan.analyzers.image]")):
        prepare_analyzers(registry, Settings(plugin_tables=no_table))
    lone = plugin_tables({"classifiers": {"c": {"size": 8}}})
    installed = load_registry()
    without = Registry()  # an installation without the classifier analyzer
    for kind in KINDS:
        for cls in installed.classes(kind):
            if (kind, cls.id) != ("analyzers", "classifier"):
                without.register(kind, cls)
    with pytest.raises(SettingsError, match="needs the classifier analyzer"):
        prepare_analyzers(without, Settings(plugin_tables=lone))
