"""The contract every registered stage runs: ids, declared order, pending and run on an empty and
on a scanned case; and the runner's ordering by ``after``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

import veriscan
from veriscan.domain import RunInfo
from veriscan.pipeline.executors import make_executor
from veriscan.pipeline.ingest import ingest, prepare_analyzers
from veriscan.plugins import PluginError, Registry, load_registry
from veriscan.settings import Settings
from veriscan.sources.folder import FolderSource
from veriscan.stages.base import Stage, StageContext, StageResult
from veriscan.stages.runner import ordered, select_stages, stage_classes
from veriscan.store.case import Case

REGISTRY = load_registry()
STAGES = stage_classes(REGISTRY)
PYPROJECT = Path(veriscan.__file__).parents[2] / "pyproject.toml"


def context(case: Case, registry: Registry = REGISTRY) -> StageContext:
    settings = Settings(workers=1)
    _, versions = prepare_analyzers(registry, settings)
    run_id = case.start_run(RunInfo("test", veriscan.__version__, {}, {}), None)
    return StageContext(settings, make_executor("inline", 1), registry, "test", run_id, versions)


@pytest.mark.skipif(not PYPROJECT.is_file(), reason="runs from a source checkout")
def test_the_built_in_stages_are_registered_through_entry_points() -> None:
    """A stale installation (entry points not refreshed) would silently skip case-wide steps."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["veriscan.stages"]
    assert set(declared) <= {s.id for s in STAGES}, "run `pip install -e .` to refresh them"
    assert {"detector", "groups", "lists", "toolchain"} <= set(declared)


def test_ids_unique_after_known_and_the_order_topological() -> None:
    ids = [s.id for s in STAGES]
    assert len(ids) == len(set(ids))
    for s in STAGES:
        assert isinstance(s.id, str) and s.id
        assert isinstance(s.after, tuple)
        assert set(s.after) <= set(ids), s.id
        assert s.id not in s.after
    order = [s.id for s in ordered(STAGES)]
    assert sorted(order) == sorted(ids)
    for s in STAGES:
        assert all(order.index(a) < order.index(s.id) for a in s.after), (s.id, order)


def textured(seed: int) -> Image.Image:
    """Fine texture: a PDQ hash of full quality (drawn scenes stay below the grouping floor)."""
    noise = (np.random.default_rng(seed).random((60, 80, 3)) * 255).astype("uint8")
    return Image.fromarray(noise).resize((320, 240), Image.Resampling.BILINEAR)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Case:
    import conftest

    root = tmp_path_factory.mktemp("scanned")
    evidence = root / "evidence"
    evidence.mkdir()
    (evidence / "t0.png").write_bytes(conftest.encode(textured(0), "PNG"))
    (evidence / "t0-copy.jpg").write_bytes(conftest.encode(textured(0), "JPEG", quality=70))
    (evidence / "t1.png").write_bytes(conftest.encode(textured(1), "PNG"))
    (evidence / "scene.png").write_bytes(conftest.encode(conftest.draw_scene(2), "PNG"))
    (evidence / "note.txt").write_text("words\n")
    case = Case.init(root / "case", "t", "t")
    settings = Settings(workers=1)
    source = FolderSource(evidence, settings)
    ev = case.add_evidence("e", None, "folder", str(source.path))
    ingest(case, ev, source, REGISTRY, settings, command="t", executor="inline")
    return case


@pytest.mark.parametrize("cls", STAGES, ids=lambda s: s.id)
def test_pending_on_an_empty_case_and_run_only_when_pending(
    cls: type[Stage], tmp_path: Path
) -> None:
    case = Case.init(tmp_path / "case", "t", "t")
    ctx = context(case)
    stage = cls()
    pending = stage.pending(case, ctx)
    assert isinstance(pending, int) and pending >= 0
    if pending:
        _check_result(stage.run(case, ctx), cls)


@pytest.mark.parametrize("cls", STAGES, ids=lambda s: s.id)
def test_pending_and_run_on_a_scanned_case_converge(cls: type[Stage], scanned: Case) -> None:
    ctx = context(scanned)
    stage = cls()
    pending = stage.pending(scanned, ctx)
    assert isinstance(pending, int) and pending >= 0
    if not pending:
        return
    first = stage.run(scanned, ctx)
    _check_result(first, cls)
    if stage.pending(scanned, ctx):
        assert stage.run(scanned, ctx).counts == first.counts, "running again converges"


def _check_result(result: StageResult, cls: type[Stage]) -> None:
    assert isinstance(result, StageResult)
    assert result.stage == cls.id and not result.skipped
    assert all(isinstance(v, int) for v in result.counts.values())
    assert all(isinstance(v, int) for v in result.run_counts.values())
    assert result.problems >= 0
    assert all(isinstance(line, str) and "\n" not in line for line in result.lines)


def test_the_scanned_case_gives_the_rebuilding_stages_work(scanned: Case) -> None:
    """The contract runs above are not vacuous: the scan holds a near-duplicate pair."""
    by_id = {s.id: s for s in STAGES}
    ctx = context(scanned)
    assert by_id["groups"]().pending(scanned, ctx) > 0
    assert by_id["toolchain"]().pending(scanned, ctx) > 0
    assert by_id["groups"]().run(scanned, ctx).counts == {"groups": 1}


def _stage(name: str, after: tuple[str, ...] = ()) -> type[Stage]:
    class Made(Stage):
        id: ClassVar[str] = name

        def pending(self, case: Case, context: StageContext) -> int:
            return 0

        def run(self, case: Case, context: StageContext) -> StageResult:
            return StageResult(self.id)

    Made.after = after
    return Made


def test_order_follows_after_and_keeps_registry_order_for_ties() -> None:
    a, b, c, d = _stage("a", ("c",)), _stage("b"), _stage("c", ("b",)), _stage("d")
    assert [s.id for s in ordered([a, b, c, d])] == ["b", "c", "a", "d"]


def test_a_cycle_or_an_unknown_after_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="cycle"):
        ordered([_stage("a", ("b",)), _stage("b", ("a",))])
    with pytest.raises(PluginError, match="unknown stage"):
        ordered([_stage("a", ("nope",))])


def test_select_names_stages_in_declared_order_and_refuses_unknown_ones() -> None:
    registry = load_registry(extra=[("stages", _stage("zz", ("groups",)))])
    chosen = [s.id for s in select_stages(registry, ["zz", "groups"])]
    assert chosen == ["groups", "zz"]
    with pytest.raises(PluginError, match="no stage nope"):
        select_stages(registry, ["nope"])


def test_a_registered_class_that_is_no_stage_is_refused() -> None:
    class NotAStage:
        id = "odd"

    registry = load_registry(extra=[("stages", NotAStage)])
    with pytest.raises(PluginError, match="not a veriscan Stage"):
        stage_classes(registry)
