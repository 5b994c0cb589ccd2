"""The PDQ index must find exactly what brute force finds: every pair within the threshold."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from veriscan.matching.pdqindex import (
    PdqIndex,
    brute_force,
    hex_to_words,
    radius_for,
    words_to_hex,
)


def _flip(word_row: np.ndarray, bits: np.ndarray) -> np.ndarray:
    out = word_row.copy()
    for b in bits:
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def _haystack(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    qs = rng.integers(0, 2**64, size=(queries, 4), dtype=np.uint64)
    slot = 0
    for qi in range(queries):
        for distance in range(41):
            bits = rng.choice(256, distance, replace=False)
            words[slot] = _flip(qs[qi], bits)
            slot += 1
    rng.shuffle(words)
    return words, qs


def _triples(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    q, ids, d = result
    return set(zip(q.tolist(), ids.tolist(), d.tolist(), strict=True))


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, np.ndarray, PdqIndex]:
    words, qs = _haystack(100_000, 25, seed=3)
    return words, qs, PdqIndex.build(words)


def test_recall_equals_brute_force_at_31(planted: tuple[np.ndarray, np.ndarray, PdqIndex]) -> None:
    words, qs, index = planted
    got = index.search(qs, 31)
    want = brute_force(words, qs, 31)
    assert _triples(got) == _triples(want)
    assert len(got[0]) == len(_triples(got)), "a pair was reported twice"
    # every planted neighbour at 0..31 is there, none at 32..40
    per_query = np.bincount(got[0], minlength=len(qs))
    assert (per_query >= 32).all()
    assert int(got[2].max()) <= 31


@pytest.mark.parametrize("threshold", [0, 5, 10, 21, 32, 40, 50])
def test_other_thresholds_are_exact_too(
    planted: tuple[np.ndarray, np.ndarray, PdqIndex], threshold: int
) -> None:
    words, qs, index = planted
    assert _triples(index.search(qs, threshold)) == _triples(brute_force(words, qs, threshold))


def test_radius_keeps_the_pigeonhole_bound() -> None:
    for threshold in range(0, 60):
        assert 11 * (radius_for(threshold) + 1) > threshold


def test_saved_index_is_memory_mapped_and_answers_the_same(
    planted: tuple[np.ndarray, np.ndarray, PdqIndex], tmp_path: Path
) -> None:
    _words, qs, index = planted
    index.save(tmp_path / "idx")
    loaded = PdqIndex.load(tmp_path / "idx")
    for array in (loaded.words, loaded.offsets, loaded.ids):
        base = array
        while isinstance(base, np.ndarray):
            base = base.base
        if isinstance(base, memoryview):
            base = base.obj
        assert isinstance(base, mmap.mmap), "the index is mapped, not read into memory"
        assert not array.flags.writeable
    assert _triples(loaded.search(qs, 31)) == _triples(index.search(qs, 31))


def test_load_refuses_a_folder_without_an_index(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no PDQ index"):
        PdqIndex.load(tmp_path)


def test_single_and_multi_threaded_results_agree(
    planted: tuple[np.ndarray, np.ndarray, PdqIndex],
) -> None:
    _, qs, index = planted
    assert _triples(index.search(qs, 31, threads=1)) == _triples(index.search(qs, 31, threads=3))


def test_empty_index_and_empty_queries() -> None:
    empty = PdqIndex.build(np.empty((0, 4), np.uint64))
    q = hex_to_words(["ff" * 32])
    assert len(empty.search(q, 31)[0]) == 0
    index = PdqIndex.build(q)
    assert len(index.search(np.empty((0, 4), np.uint64), 31)[0]) == 0


def test_hex_words_keep_bit_order_and_distances() -> None:
    a = "f" * 64
    b = "7" + "f" * 62 + "e"
    words = hex_to_words([a, b])
    assert words_to_hex(words) == [a, b]
    assert int(words[0, 0] ^ words[1, 0]).bit_count() == 1  # the top bit, first word
    _q, ids, d = PdqIndex.build(words).search(words[:1], 31)
    assert sorted(zip(ids.tolist(), d.tolist(), strict=False)) == [(0, 0), (1, 2)]


def test_brute_force_agrees_with_python_integers() -> None:
    rng = np.random.default_rng(9)
    hashes = [rng.bytes(32).hex() for _ in range(300)]
    ints = [int(h, 16) for h in hashes]
    words = hex_to_words(hashes)
    q, ids, d = brute_force(words, words[:5], 120)
    for qi, i, dist in zip(q.tolist(), ids.tolist(), d.tolist(), strict=True):
        assert (ints[qi] ^ ints[i]).bit_count() == dist
    expected = sum(
        1 for qi in range(5) for i in range(300) if (ints[qi] ^ ints[i]).bit_count() <= 120
    )
    assert len(q) == expected


def test_build_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError):
        PdqIndex.build(np.zeros((3, 3), np.uint64))
