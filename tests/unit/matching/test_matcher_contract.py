"""Contract tests every registered matcher gets: found on its own hashes, silent otherwise,
and the same answers from a real imported list as from an in-memory fake of one."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from veriscan.matching.base import CaseHashes, Entry, HashList, Matcher
from veriscan.matching.library import ImportOptions, Library
from veriscan.matching.signals.base import BruteIndex, SignalIndex
from veriscan.matching.stored import StoredList
from veriscan.matching.vpdq import VideoFrame
from veriscan.plugins import load_registry

MATCHERS: list[type[Matcher]] = load_registry().classes("matchers")


def _hex(rnd: random.Random, digits: int) -> str:
    return f"{rnd.getrandbits(digits * 4):0{digits}x}"


def _contents(seed: int, n: int = 12) -> list[CaseHashes]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        frames = None
        if i % 4 == 0:
            frames = [VideoFrame(k, 90, _hex(rnd, 64), float(k)) for k in range(6)]
        out.append(
            CaseHashes(_hex(rnd, 64), _hex(rnd, 32), _hex(rnd, 40), _hex(rnd, 64), 90, frames, 1.0)
        )
    return out


class FakeList(HashList):
    """The same contract over plain dicts and brute force."""

    def __init__(self, contents: Sequence[CaseHashes]) -> None:
        self.name, self.known_good, self.pdq_threshold, self.min_quality = "fake", False, 31, 50
        self.contents = list(contents)

    def kinds(self) -> frozenset[str]:
        return frozenset({"md5", "sha1", "sha256", "pdq", "vpdq"})

    def entry(self, entry: int) -> Entry:
        c = self.contents[entry]
        rows = [[f.quality, f.hash, f.timestamp] for f in c.frames or []]
        return Entry(entry, extra={"frames": rows} if rows else {})

    def index(self, signal: str) -> SignalIndex:
        """Brute force over plain lists: what a real list's indexes must agree with."""
        if signal in ("md5", "sha1", "sha256"):
            return BruteIndex([(i, getattr(c, signal)) for i, c in enumerate(self.contents)])
        if signal == "pdq":
            return BruteIndex([(i, c.pdq or "") for i, c in enumerate(self.contents)], bits=True)
        frames = [(i, f.hash) for i, c in enumerate(self.contents) for f in c.frames or []]
        return BruteIndex(frames, bits=True)


def _stored(tmp_path: Path, contents: Sequence[CaseHashes]) -> StoredList:
    """The same entries imported through the library: CSV for digests and PDQ, vPDQ files."""
    lib = Library(tmp_path / "lib")
    csv = tmp_path / "list.csv"
    csv.write_text(
        "md5,sha1,sha256,pdq,quality\n"
        + "".join(f"{c.md5},{c.sha1},{c.sha256},{c.pdq},{c.pdq_quality}\n" for c in contents)
    )
    lib.import_list(csv, ImportOptions(name="digests"))
    return StoredList.open(lib, "digests")


@pytest.mark.parametrize("cls", MATCHERS, ids=lambda c: c.id)
def test_matcher_declares_itself(cls: type[Matcher]) -> None:
    assert isinstance(cls.id, str) and cls.id
    assert isinstance(cls.version, str) and cls.version
    assert cls.kinds and cls.kinds <= {"md5", "sha1", "sha256", "pdq", "vpdq"}


@pytest.mark.parametrize("cls", MATCHERS, ids=lambda c: c.id)
def test_matcher_finds_every_listed_content_by_its_own_kinds(cls: type[Matcher]) -> None:
    contents = _contents(1)
    hits = list(cls().match(FakeList(contents), contents))
    assert {h.kind for h in hits} == set(cls.kinds)
    for kind in cls.kinds:
        holders = [i for i, c in enumerate(contents) if kind != "vpdq" or c.frames]
        found = {(h.index, h.entry, h.distance) for h in hits if h.kind == kind}
        assert {(i, i, 0) for i in holders} <= found


@pytest.mark.parametrize("cls", MATCHERS, ids=lambda c: c.id)
def test_matcher_is_silent_on_unrelated_contents(cls: type[Matcher]) -> None:
    assert list(cls().match(FakeList(_contents(1)), _contents(2))) == []
    assert list(cls().match(FakeList(_contents(1)), [])) == []


@pytest.mark.parametrize("cls", [c for c in MATCHERS if c.kinds & {"md5", "sha1", "sha256", "pdq"}])
def test_real_list_answers_like_the_fake(cls: type[Matcher], tmp_path: Path) -> None:
    listed = _contents(3)
    queries = listed[::2] + _contents(4, 5)
    real = {
        (h.index, h.kind, h.entry, h.distance)
        for h in cls().match(_stored(tmp_path, listed), queries)
    }
    fake = {(h.index, h.kind, h.entry, h.distance) for h in cls().match(FakeList(listed), queries)}
    fake = {hit for hit in fake if hit[1] != "vpdq"}
    assert real == fake and real
