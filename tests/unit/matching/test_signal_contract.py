"""The contract every signal type gets (built-ins from the installed entry points, plus a third
party's written only against the public contract): its value read the same from a case content
and from a list entry, its index built at import and loaded back, itself found at distance 0,
unrelated values never found, and the list's distance threshold respected."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from support.third_party_matching import DigestLines, ThirdPartyDigest
from veriscan.matching.counts import ImportCounts
from veriscan.matching.engine import match_case
from veriscan.matching.hits import CaseHashes, Entry, Hit
from veriscan.matching.library import ImportOptions, Library
from veriscan.matching.lists.records import HashRecord
from veriscan.matching.registry import list_formats, signal_types
from veriscan.matching.signals.base import DistanceSignalType, SignalIndex, SignalType
from veriscan.matching.stored import StoredList
from veriscan.plugins import PluginError, Registry, load_registry

BUILTIN = {"md5", "sha1", "sha256", "pdq", "vpdq"}
SIGNALS: list[SignalType[Any]] = [*signal_types(), ThirdPartyDigest()]


class FolderList:
    """A list of one signal type's entries, built by its own builder into ``folder``."""

    def __init__(self, signal: SignalType[Any], folder: Path, records: list[HashRecord]) -> None:
        self.name, self.pdq_threshold, self.min_quality = "contract", 31, 50
        self.records = records
        folder.mkdir(parents=True, exist_ok=True)
        counts = ImportCounts()
        builder = signal.builder(folder, self.min_quality, counts)
        for entry, record in enumerate(records):
            builder.add(entry, record)
        builder.finish()
        self.counts = counts
        self.loaded = signal.load(folder)
        self.signal = signal

    def index(self, signal: str) -> SignalIndex:
        assert signal == self.signal.id
        return self.loaded

    def entry(self, entry: int) -> Entry:
        return Entry(entry, extra=dict(self.records[entry].extra))


def _examples(signal: SignalType[Any], seed: int, n: int = 6) -> list[Any]:
    rnd = random.Random(seed)
    return [signal.example(rnd) for _ in range(n)]


def _found(signal: SignalType[Any], lst: FolderList, contents: list[CaseHashes]) -> set[Hit]:
    return set(signal.match(lst, [signal.case_value(c) for c in contents]))


def test_every_builtin_signal_type_is_registered_in_order() -> None:
    assert [s.id for s in signal_types()][:5] == ["md5", "sha1", "sha256", "pdq", "vpdq"]


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.id)
def test_declares_itself(signal: SignalType[Any]) -> None:
    assert isinstance(signal.id, str) and signal.id
    assert isinstance(signal.version, str) and signal.version
    assert isinstance(signal.by_distance, bool)


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.id)
def test_value_reads_the_same_from_a_case_and_from_a_list(signal: SignalType[Any]) -> None:
    for example in _examples(signal, 1):
        value = signal.case_value(example.content)
        assert value is not None
        assert value == signal.list_value(example.record)
    assert signal.list_value(HashRecord(line=1)) is None


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.id)
def test_index_built_and_loaded_finds_every_entry_itself(
    signal: SignalType[Any], tmp_path: Path
) -> None:
    examples = _examples(signal, 2)
    lst = FolderList(signal, tmp_path, [e.record for e in examples])
    assert len(lst.loaded) >= len(examples)
    hits = _found(signal, lst, [e.content for e in examples])
    assert hits == {Hit(i, signal.id, i, 0) for i in range(len(examples))}


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.id)
def test_unrelated_values_and_empty_lists_find_nothing(
    signal: SignalType[Any], tmp_path: Path
) -> None:
    listed = FolderList(signal, tmp_path / "a", [e.record for e in _examples(signal, 3)])
    assert _found(signal, listed, [e.content for e in _examples(signal, 4)]) == set()
    assert _found(signal, listed, []) == set()
    empty = FolderList(signal, tmp_path / "b", [])
    assert len(empty.loaded) == 0
    assert _found(signal, empty, [e.content for e in _examples(signal, 3)]) == set()


@pytest.mark.parametrize("signal", [s for s in SIGNALS if s.by_distance], ids=lambda s: s.id)
def test_the_lists_threshold_is_respected(signal: SignalType[Any], tmp_path: Path) -> None:
    examples = _examples(signal, 5, n=3)
    lst = FolderList(signal, tmp_path / "l", [e.record for e in examples])
    for threshold in (31, 12):
        lst.pdq_threshold = threshold
        near = [signal.nudged(e.content, threshold) for e in examples]
        far = [signal.nudged(e.content, threshold + 1) for e in examples]
        assert {(h.index, h.entry) for h in _found(signal, lst, near)} == {(i, i) for i in range(3)}
        assert _found(signal, lst, far) == set()


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.id)
def test_only_distance_types_nudge(signal: SignalType[Any]) -> None:
    assert signal.by_distance == isinstance(signal, DistanceSignalType)
    assert hasattr(signal, "nudged") == signal.by_distance


def test_registry_refuses_a_signal_type_that_is_not_one() -> None:
    class NotASignal:
        id = "bogus"
        version = "1"

    with pytest.raises(PluginError, match="no signal_types installed"):
        signal_types(Registry())
    with pytest.raises(PluginError, match="no list_formats installed"):
        list_formats(Registry())
    registry = Registry()
    registry.register("signal_types", NotASignal)
    with pytest.raises(PluginError, match="does not subclass SignalType"):
        signal_types(registry)


def test_third_party_signal_type_and_list_format_end_to_end(tmp_path: Path) -> None:
    """Registered like installed plugins: the list is sniffed, imported, indexed by the new
    type's own builder, and a case's stored findings are matched through the engine."""
    from veriscan.domain import RunInfo
    from veriscan.store import schema
    from veriscan.store.case import Case

    registry = load_registry(
        extra=[("signal_types", ThirdPartyDigest), ("list_formats", DigestLines)]
    )
    rnd = random.Random(9)
    digests = [f"{rnd.getrandbits(256):064x}" for _ in range(3)]
    listed = tmp_path / "digests.txt"
    listed.write_text("".join(f"digest:{d}\n" for d in digests) + "digest:nope\n")
    lib = Library(tmp_path / "lib", signal_types(registry), list_formats(registry))
    report = lib.import_list(listed, ImportOptions(name="tp"))
    assert report.meta.format == "digestlines"
    assert report.meta.counts["hashes"] == {"thirdparty": 3}
    assert report.meta.counts["bad_lines"] == 1

    case = Case.init(tmp_path / "case", "T", "E")
    run = case.start_run(RunInfo("test", "0", {}, {}), None)
    rows = [
        {
            "sha256": f"{i:064x}",
            "md5": "0" * 32,
            "sha1": "0" * 40,
            "size": 1,
            "mime": "application/octet-stream",
            "findings": {"thirdparty": {"digest": digest}},
            "run_id": run,
        }
        for i, digest in enumerate([digests[1], "f" * 64])
    ]
    with case.engine.begin() as conn:
        conn.execute(insert(schema.contents), rows)
    summary = match_case(case, [StoredList.open(lib, "tp")], "test", registry)
    assert summary.lists == {"tp": {"thirdparty": 1}}
    with case.engine.connect() as conn:
        found = conn.execute(select(schema.matches.c.sha256, schema.matches.c.hash_type)).all()
    assert [tuple(r) for r in found] == [(f"{0:064x}", "thirdparty")]


def test_builtin_signal_values_come_from_the_stored_columns() -> None:
    content = CaseHashes("a" * 64, "b" * 32, "c" * 40, "d" * 64, 80)
    by_id = {s.id: s for s in signal_types()}
    assert by_id["md5"].case_value(content) == "b" * 32
    assert by_id["sha256"].case_value(content) == "a" * 64
    assert by_id["pdq"].case_value(replace(content, pdq=None)) is None
    assert by_id["vpdq"].case_value(content) is None
    stored = {"frames": [[0.0, 90, "e" * 64], [1.0, 90, "e" * 64]], "interval_ms": 1000}
    video = replace(content, findings={"vpdq": stored})
    value = by_id["vpdq"].case_value(video)
    assert value is not None and value.interval == 1.0 and len(value.frames) == 2
    assert set(by_id) >= BUILTIN
