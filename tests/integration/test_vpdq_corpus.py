"""VpdqAnalyzer and vPDQ matching against the ThreatExchange sample videos and their hash files.

``pdq/vpdq/sample-hashes/<name>.txt`` holds upstream vpdq's hash of every frame (seconds_per_hash
0) at the video's own size; ``<name>-128x128.txt`` the same with frames scaled to 128x128 first.
Measured here (PyAV 18 + pdqhash, all six local videos): every frame within 6 bits of upstream,
mean 0.0-1.3, quality and 3-decimal timestamp identical, same frame count. The asserts leave a
wide margin under the upstream tolerance yet fail on the likely mistakes: hashing the frame one
place off (mean 24-36 on the moving videos), at 128x128 (mean 10-13) or as BGR (4.6 on
chair-19). All three still pass the upstream ``<= 31`` share, which is why the mean is asserted.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from veriscan.analyzers.base import FileContext
from veriscan.analyzers.video import VpdqAnalyzer
from veriscan.domain import Attribute, Problem
from veriscan.matching.vpdq import (
    VideoFrame,
    VideoMatch,
    frames_from_json,
    is_match,
    match_videos,
    read_sample_hashes,
)
from veriscan.settings import Settings

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
VIDEOS = DATA / "video"
HASHES = DATA / "pdq" / "vpdq" / "sample-hashes"
_WITH_HASHES = [p.stem for p in VIDEOS.glob("*.mp4") if (HASHES / f"{p.stem}.txt").is_file()]
NAMES: list[str | None] = [*sorted(_WITH_HASHES)] or [None]

UPSTREAM_DISTANCE = 31
"""vpdq's python tests and python-threatexchange's VPDQ_DISTANCE_THRESHOLD."""
MIN_SHARE = 0.95
MAX_MEAN = 3.0
UPSTREAM_QUERY_SHARE = 0.8
"""python-threatexchange calls a match at 80 % of the query found; its target threshold is 0 %."""
CHAIR = ["chair-19-sd-bar", "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar"]
PATTERN = ["pattern-sd-grey-bar", "pattern-sd-with-large-logo-bar"]

pytestmark = pytest.mark.slow


@cache
def hashed(name: str, interval_ms: int) -> list[VideoFrame]:
    path = VIDEOS / f"{name}.mp4"
    settings = Settings(vpdq_interval_ms=interval_ms)
    facts = VpdqAnalyzer(settings).analyze(
        FileContext(path.name, path.read_bytes(), "video/mp4", settings)
    )
    assert not [f for f in facts if isinstance(f, Problem)], facts
    (rows,) = [f.value for f in facts if isinstance(f, Attribute) and f.name == "frames"]
    return frames_from_json(rows)


@cache
def expected(name: str) -> list[VideoFrame]:
    return read_sample_hashes(HASHES / f"{name}.txt")


def distances(ours: list[VideoFrame], theirs: list[VideoFrame]) -> np.ndarray:
    """Hamming distance frame by frame, over the frames both lists have."""
    n = min(len(ours), len(theirs))
    pairs = zip(ours[:n], theirs[:n], strict=True)
    return np.array([bin(int(a.hash, 16) ^ int(b.hash, 16)).count("1") for a, b in pairs])


def every(frames: list[VideoFrame], seconds: int) -> list[VideoFrame]:
    """What upstream gives at ``seconds_per_hash``: its every-``fps * seconds``-th frame is the
    first at or after each multiple for these constant 30 fps files."""
    picked, due = [], Fraction(0)
    for frame in frames:
        when = Fraction(str(frame.timestamp))
        if when >= due:
            picked.append(frame)
            due = Fraction(when // seconds + 1) * seconds
    return picked


def present(*names: str) -> None:
    missing = [n for n in names if not (VIDEOS / f"{n}.mp4").is_file()]
    if missing:
        pytest.skip(f"not in the shared corpus: {', '.join(missing)}")


@pytest.mark.parametrize("name", NAMES, ids=str)
def test_every_frame_agrees_with_upstream(shared_data: Path, name: str | None) -> None:
    if name is None:
        pytest.skip(f"no video with sample hashes under {shared_data}")
    ours, theirs = hashed(name, 0), expected(name)
    assert [f.index for f in theirs] == list(range(len(theirs)))
    assert len(ours) == len(theirs), "upstream numbers frames in decoder output order"
    d = distances(ours, theirs)
    assert np.mean(d <= UPSTREAM_DISTANCE) >= MIN_SHARE, f"share {np.mean(d <= 31):.3f}"
    assert d.mean() <= MAX_MEAN, f"mean {d.mean():.2f}, max {d.max()}"
    assert max(abs(a.timestamp - b.timestamp) for a, b in zip(ours, theirs, strict=True)) < 0.0015
    same_quality = np.mean([a.quality == b.quality for a, b in zip(ours, theirs, strict=True)])
    assert same_quality >= MIN_SHARE


@pytest.mark.parametrize("name", NAMES, ids=str)
def test_hashes_are_of_the_full_size_frame(shared_data: Path, name: str | None) -> None:
    small = HASHES / f"{name}-128x128.txt"
    if name is None or not small.is_file():
        pytest.skip("no 128x128 sample hashes for this video")
    ours = hashed(name, 0)
    full = distances(ours, expected(name)).mean()
    scaled = distances(ours, read_sample_hashes(small)).mean()
    assert full * 2 < scaled, f"full {full:.1f} vs 128x128 {scaled:.1f}"


@pytest.mark.parametrize("name", NAMES, ids=str)
def test_one_frame_a_second_matches_its_sample_hashes(shared_data: Path, name: str | None) -> None:
    """Against upstream's 1 fps selection the video matches fully. Against the every-frame file
    only the query side is full: most of the 30 fps frames sit between two 1 fps samples."""
    if name is None:
        pytest.skip(f"no video with sample hashes under {shared_data}")
    ours = hashed(name, 1000)
    m = match_videos(ours, every(expected(name), 1))
    assert is_match(m), m
    assert m == VideoMatch(1.0, 1.0)
    dense = match_videos(ours, expected(name))
    assert dense.query_share == 1.0 and dense.target_share < 0.8, dense


@pytest.mark.parametrize("chair", CHAIR)
@pytest.mark.parametrize("pattern", PATTERN)
def test_chair_and_pattern_videos_do_not_match(shared_data: Path, chair: str, pattern: str) -> None:
    present(chair, pattern)
    m = match_videos(hashed(chair, 1000), hashed(pattern, 1000))
    assert m.query_share <= 0.05 and m.target_share <= 0.05, m
    assert not is_match(m)
    dense = match_videos(hashed(chair, 1000), expected(pattern))
    assert dense.query_share <= 0.05, dense


def test_grey_and_small_logo_variants_match(shared_data: Path) -> None:
    """Both are re-encodes of the same chair-22 footage. PDQ hashes luminance, so greyscale costs
    a few bits, and a small corner logo moves few low-frequency coefficients: upstream (80 % of
    the query, either way round) and :func:`is_match` (80 % both ways) both call it a match."""
    grey, logo = "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar"
    present(grey, logo)
    for query, target in ((grey, logo), (logo, grey)):
        m = match_videos(hashed(query, 1000), hashed(target, 1000))
        assert m.query_share >= 0.95 and m.target_share >= 0.95, m
        assert is_match(m) and m.query_share >= UPSTREAM_QUERY_SHARE


def test_large_logo_variant_does_not_match(shared_data: Path) -> None:
    """Measured 0-4 %: the large logo covers enough of the frame to move most hashes > 31 bits."""
    present(*CHAIR)
    large = expected("chair-22-with-large-logo-bar")
    for name in CHAIR[1:]:
        m = match_videos(hashed(name, 1000), large)
        assert m.query_share < UPSTREAM_QUERY_SHARE and not is_match(m), (name, m)


def test_a_trimmed_copy_needs_dense_hashes_to_be_found(shared_data: Path) -> None:
    """chair-19 is chair-22 from frame 111 on (3.7 s, 21 frames off the 1 s grid). Every 1 fps
    chair-19 frame has a near twin among chair-22's every-frame hashes, but chair-22's own 1 fps
    samples fall 0.7 s away in moving footage, so upstream at 1 fps both ways misses it (16 %)."""
    clip, source = "chair-19-sd-bar", "chair-22-sd-grey-bar"
    present(clip, source)
    d = distances(hashed(clip, 0), hashed(source, 0)[111:])
    assert d.mean() <= 6, f"measured 2.9 (sample files); a frame either side gives 28: {d.mean()}"
    dense = match_videos(hashed(clip, 1000), hashed(source, 0))
    assert dense.query_share == 1.0, dense
    sparse = match_videos(hashed(clip, 1000), hashed(source, 1000))
    assert sparse.query_share < UPSTREAM_QUERY_SHARE and not is_match(sparse), sparse
