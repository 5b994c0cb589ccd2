"""Video-level vPDQ matching on hand-made frame lists, checked against a plain-Python oracle."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from veriscan.matching import vpdq
from veriscan.matching.vpdq import (
    VideoFrame,
    VideoMatch,
    frames_from_json,
    is_match,
    match_videos,
    read_sample_hashes,
    unique_frames,
)


def random_hash(rnd: random.Random) -> str:
    return f"{rnd.getrandbits(256):064x}"


def flip(hash_hex: str, bits: int, rnd: random.Random) -> str:
    value = int(hash_hex, 16)
    for bit in rnd.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def frames(hashes: list[str], quality: int = 100) -> list[VideoFrame]:
    return [VideoFrame(i, quality, h, i / 10) for i, h in enumerate(hashes)]


def oracle(query: list[VideoFrame], target: list[VideoFrame], distance: int) -> VideoMatch:
    q, t = unique_frames(query), unique_frames(target)

    def near(a: str, b: str) -> bool:
        return bin(int(a, 16) ^ int(b, 16)).count("1") <= distance

    return VideoMatch(
        sum(any(near(a, b) for b in t) for a in q) / len(q),
        sum(any(near(b, a) for a in q) for b in t) / len(t),
    )


RND = random.Random(7)
BASE = [random_hash(RND) for _ in range(40)]


def test_identical_videos_match_fully() -> None:
    m = match_videos(frames(BASE), frames(BASE))
    assert m == VideoMatch(1.0, 1.0)
    assert is_match(m)


def test_unrelated_videos_share_nothing() -> None:
    other = [random_hash(RND) for _ in range(30)]
    m = match_videos(frames(BASE), frames(other))
    assert m == VideoMatch(0.0, 0.0)
    assert not is_match(m)


def test_near_frames_count_up_to_the_distance_inclusive() -> None:
    rnd = random.Random(1)
    query = [BASE[0]]
    assert match_videos(frames(query), frames([flip(BASE[0], 31, rnd)])).query_share == 1.0
    assert match_videos(frames(query), frames([flip(BASE[0], 32, rnd)])).query_share == 0.0
    near = frames([flip(BASE[0], 10, rnd)])
    assert match_videos(frames(query), near, distance=10) == VideoMatch(1.0, 1.0)
    assert match_videos(frames(query), near, distance=9) == VideoMatch(0.0, 0.0)


def test_a_clip_is_contained_but_does_not_cover() -> None:
    rnd = random.Random(2)
    clip = [flip(h, 5, rnd) for h in BASE[10:20]]
    m = match_videos(frames(clip), frames(BASE))
    assert m == VideoMatch(1.0, 0.25)
    assert not is_match(m)
    assert is_match(m, threshold=0.25)
    assert match_videos(frames(BASE), frames(clip)) == VideoMatch(0.25, 1.0)


def test_low_quality_frames_are_ignored() -> None:
    good = frames(BASE[:10])
    flat = [VideoFrame(100 + i, 49, h, 0.0) for i, h in enumerate(BASE[10:20])]
    assert match_videos(good + flat, good) == VideoMatch(1.0, 1.0)
    assert match_videos(good + flat, good, quality=0) == VideoMatch(0.5, 1.0)
    edge = [VideoFrame(0, 50, BASE[0], 0.0)]
    assert match_videos(edge, edge) == VideoMatch(1.0, 1.0)


def test_nothing_usable_is_no_match() -> None:
    assert match_videos([], frames(BASE)) == VideoMatch(0.0, 0.0)
    assert match_videos(frames(BASE, quality=10), frames(BASE)) == VideoMatch(0.0, 0.0)


def test_repeated_frames_count_once() -> None:
    static = frames([BASE[0]] * 50 + [BASE[1]])
    assert unique_frames(static) == [BASE[0], BASE[1]]
    assert match_videos(static, frames([BASE[0]])) == VideoMatch(0.5, 1.0)


def test_unique_frames_filters_before_deduplicating() -> None:
    rows = [VideoFrame(0, 10, BASE[0], 0.0), VideoFrame(1, 90, BASE[0], 0.1)]
    assert unique_frames(rows) == [BASE[0]]
    assert unique_frames(rows, quality=91) == []


@pytest.mark.parametrize("lut", [False, True], ids=["bitwise_count", "lookup-table"])
def test_agrees_with_brute_force_across_blocks(monkeypatch: pytest.MonkeyPatch, lut: bool) -> None:
    rnd = random.Random(3)
    target = [random_hash(rnd) for _ in range(57)]
    query = [flip(rnd.choice(target), rnd.randrange(0, 60), rnd) for _ in range(83)]
    monkeypatch.setattr(vpdq, "BLOCK_PAIRS", 57 * 5)
    if lut:
        monkeypatch.delattr(np, "bitwise_count", raising=False)
    for distance in (0, 20, 31, 45):
        got = match_videos(frames(query), frames(target), distance=distance)
        want = oracle(frames(query), frames(target), distance)
        assert got.query_share == pytest.approx(want.query_share)
        assert got.target_share == pytest.approx(want.target_share)
    assert 0 < got.query_share < 1


def test_read_sample_hashes(tmp_path: Path) -> None:
    path = tmp_path / "clip.txt"
    path.write_text(f"0,100,{BASE[0]},0.000\n1,42,{BASE[1].upper()},0.033\n\n2,90,{BASE[2]}\n")
    assert read_sample_hashes(path) == [
        VideoFrame(0, 100, BASE[0], 0.0),
        VideoFrame(1, 42, BASE[1], 0.033),
        VideoFrame(2, 90, BASE[2], 0.0),
    ]


@pytest.mark.parametrize(
    "line", ["0,100", "x,100,{h},0", "0,100,abc,0", "0,100,{h},soon", "0,1,{h},0,extra"]
)
def test_read_sample_hashes_rejects_bad_lines(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"0,100,{BASE[0]},0.0\n" + line.format(h=BASE[1]) + "\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2"):
        read_sample_hashes(path)


def test_frames_from_json_numbers_rows_by_position() -> None:
    rows: list[list[object]] = [[0.0, 100, BASE[0]], [1.0, 80, BASE[1]], [2, 0, BASE[2]]]
    assert frames_from_json(rows) == [
        VideoFrame(0, 100, BASE[0], 0.0),
        VideoFrame(1, 80, BASE[1], 1.0),
        VideoFrame(2, 0, BASE[2], 2.0),
    ]


@pytest.mark.parametrize(
    "row",
    [[0.0, 100], [0.0, "100", BASE[0]], [0.0, True, BASE[0]], ["0", 100, BASE[0]], [0.0, 1, "ab"]],
)
def test_frames_from_json_rejects_bad_rows(row: list[object]) -> None:
    with pytest.raises(ValueError, match="frame 0"):
        frames_from_json([row])
