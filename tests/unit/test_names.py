"""Locators stay unique and reversible for any name (issue 15, items 2 and 4)."""

from __future__ import annotations

import os

import pytest

from support.hostile_archives import HOSTILE_FILE_NAMES, random_names
from veriscan.domain import SEP, Locator
from veriscan.names import escape_name, escape_path, normalise_locator_text, unescape

EDGE_NAMES = (b"", b".", b"..", b"a/b", b"nul\x00", b"!/", b"x!/y!", b"\xed\xa0\x80", b"%%41")
ALL_NAMES = [*HOSTILE_FILE_NAMES, *EDGE_NAMES, *random_names(3000)]


def _safe_text(text: str) -> None:
    text.encode("utf-8")  # strict: no surrogates, so PostgreSQL and SQLite take it as text
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text), text


@pytest.mark.parametrize("raw", ALL_NAMES[:60])
def test_each_hostile_name_round_trips(raw: bytes) -> None:
    name = os.fsdecode(raw)
    escaped = escape_name(name)
    _safe_text(escaped)
    assert "/" not in escaped and SEP not in escaped and not escaped.endswith("!")
    assert os.fsencode(unescape(escaped)) == raw


def test_generated_names_are_unique_and_reversible() -> None:
    seen: dict[str, bytes] = {}
    for raw in ALL_NAMES:
        escaped = escape_name(os.fsdecode(raw))
        _safe_text(escaped)
        assert os.fsencode(unescape(escaped)) == raw
        assert seen.setdefault(escaped, raw) == raw, (
            f"{raw!r} and {seen[escaped]!r} share a locator"
        )
        assert normalise_locator_text(escaped) == escaped


def test_paths_and_nested_locators_split_back_exactly() -> None:
    names = [n for n in ALL_NAMES if n and b"/" not in n and n not in (b".", b"..", b"nul\x00")]
    locators: dict[str, tuple[bytes, ...]] = {}
    for i in range(0, len(names) - 3, 3):
        path = [os.fsdecode(n) for n in names[i : i + 2]]
        member = os.fsdecode(names[i + 2])
        segments = (escape_path("/".join(path)), escape_path(member))
        text = str(Locator(segments))
        _safe_text(text)
        assert Locator.parse(text).segments == segments
        raw = (os.fsencode(unescape(segments[0])), os.fsencode(unescape(segments[1])))
        assert raw == (b"/".join(names[i : i + 2]), names[i + 2])
        assert locators.setdefault(text, raw) == raw


def test_a_folder_named_like_an_archive_locator_gets_its_own_locator() -> None:
    folder_file = escape_path(os.fsdecode(b"p.zip!/a.txt"))
    archive_member = str(Locator(("p.zip", "a.txt")))
    assert folder_file == "p.zip%21/a.txt"
    assert folder_file != archive_member
    assert Locator.parse(folder_file).depth == 0


def test_a_raw_name_typed_in_a_shell_finds_its_locator() -> None:
    raw = os.fsdecode(b"caf\xe9\n.jpg")
    assert normalise_locator_text(raw) == escape_name(raw) == "caf%E9%0A.jpg"
    assert Locator.parse(raw) == Locator(("caf%E9%0A.jpg",))
