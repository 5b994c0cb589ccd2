"""Video-level vPDQ matching: what share of each video's distinct frames the other one contains.

vPDQ deliberately ignores frame order and timing, so a clip matches the film it was cut from and
a re-encode at another frame rate still matches. Following upstream (vpdq ``matchTwoHashBrute``
and python-threatexchange's brute matcher) each side is first reduced to its distinct hashes of
usable quality: a static scene otherwise counts hundreds of times, and near-flat frames (quality
under 50) hash to noise that matches anything similar. Two shares come out, because a short clip
inside a long video is 100 % contained in it while covering little of it. python-threatexchange's
signal asks only that 80 % of the query be found (the target share threshold is 0), which calls a
clip a match for its source; :func:`is_match` asks it of both sides, for "the same video".

Sampling phase still matters in moving footage: a clip trimmed off the one-second grid shares
few 1 fps frames with its source (the chair-19 sample is chair-22 from 3.7 s: 16 %), while against
the source hashed every frame it is found whole. Distances are inclusive, as python-threatexchange
(``<= 31``); the C++ ``matchTwoHashBrute`` counts ``< distance``.

The comparison is every query hash against every target hash, done in numpy blocks so a 10-hour
video at one frame a second (36 000 hashes) against another takes seconds in bounded memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

HEX_DIGITS = 64
DISTANCE = 31
QUALITY = 50
THRESHOLD = 0.8
BLOCK_PAIRS = 1 << 22

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class VideoFrame:
    index: int
    quality: int
    hash: str
    timestamp: float


@dataclass(frozen=True)
class VideoMatch:
    """Shares in 0..1: of the query's usable distinct frames found in the target, and back."""

    query_share: float
    target_share: float


def read_sample_hashes(path: Path) -> list[VideoFrame]:
    """Upstream's text form, ``frame,quality,hash,timestamp`` a line (older files lack the time)."""
    frames = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text:
                continue
            fields = text.split(",")
            if len(fields) not in (3, 4):
                raise ValueError(f"{path}:{number}: expected frame,quality,hash[,timestamp]")
            try:
                timestamp = float(fields[3]) if len(fields) == 4 else 0.0
                frame = VideoFrame(int(fields[0]), int(fields[1]), _hex(fields[2]), timestamp)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
            frames.append(frame)
    return frames


def frames_from_json(rows: list[list[Any]]) -> list[VideoFrame]:
    """The vpdq analyzer's ``frames`` attribute, ``[timestamp, quality, hash]`` rows."""
    frames = []
    for index, row in enumerate(rows):
        if not isinstance(row, list | tuple) or len(row) != 3:
            raise ValueError(f"frame {index}: expected [timestamp, quality, hash], got {row!r}")
        timestamp, quality, hash_hex = row
        if isinstance(quality, bool) or not isinstance(quality, int):
            raise ValueError(f"frame {index}: quality must be an integer, got {quality!r}")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            raise ValueError(f"frame {index}: timestamp must be a number, got {timestamp!r}")
        if not isinstance(hash_hex, str):
            raise ValueError(f"frame {index}: hash must be a string, got {hash_hex!r}")
        try:
            frames.append(VideoFrame(index, quality, _hex(hash_hex), float(timestamp)))
        except ValueError as exc:
            raise ValueError(f"frame {index}: {exc}") from None
    return frames


def unique_frames(frames: Iterable[VideoFrame], quality: int = QUALITY) -> list[str]:
    """Distinct hashes, first-seen order, of the frames whose quality is at least ``quality``."""
    return list(dict.fromkeys(f.hash for f in frames if f.quality >= quality))


def match_videos(
    query: Sequence[VideoFrame],
    target: Sequence[VideoFrame],
    distance: int = DISTANCE,
    quality: int = QUALITY,
) -> VideoMatch:
    """Both shares, a frame counting when some frame of the other side is within ``distance``."""
    q = _packed(unique_frames(query, quality))
    t = _packed(unique_frames(target, quality))
    if not len(q) or not len(t):
        return VideoMatch(0.0, 0.0)
    q_found = np.zeros(len(q), dtype=bool)
    t_found = np.zeros(len(t), dtype=bool)
    rows = max(1, BLOCK_PAIRS // len(t))
    for start in range(0, len(q), rows):
        near = _distances(q[start : start + rows], t) <= distance
        q_found[start : start + rows] = near.any(axis=1)
        t_found |= near.any(axis=0)
    return VideoMatch(float(q_found.mean()), float(t_found.mean()))


def is_match(m: VideoMatch, threshold: float = THRESHOLD) -> bool:
    """Both videos mostly inside each other; pass a lower threshold to also call clips matches."""
    return m.query_share >= threshold and m.target_share >= threshold


def _hex(text: str) -> str:
    value = text.strip().lower()
    if len(value) != HEX_DIGITS or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"not a 64-digit hex PDQ hash: {text!r}")
    return value


def _packed(hashes: list[str]) -> NDArray[np.uint64]:
    """(n, 4) words; byte order is irrelevant to a popcount of XORs as long as it is shared."""
    raw = b"".join(bytes.fromhex(h) for h in hashes)
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4)


def _distances(a: NDArray[np.uint64], b: NDArray[np.uint64]) -> NDArray[np.uint16]:
    """(len(a), len(b)) Hamming distances, summed a word (or byte) column at a time: a 2-D
    temporary per column is several times faster than one 3-D XOR summed over its last axis."""
    total = np.zeros((len(a), len(b)), dtype=np.uint16)
    if hasattr(np, "bitwise_count"):
        for w in range(a.shape[1]):
            total += np.bitwise_count(a[:, w, None] ^ b[None, :, w])
    else:
        a8, b8 = a.view(np.uint8), b.view(np.uint8)
        for i in range(a8.shape[1]):
            total += _POPCOUNT[a8[:, i, None] ^ b8[None, :, i]]
    return total


def resample(frames: Sequence[VideoFrame], interval: float) -> list[VideoFrame]:
    """The frames a hasher sampling every ``interval`` seconds would have kept.

    Lists made by other tools may hash every frame while a scan hashes one a second; comparing a
    sparse side with a dense one makes the dense side's share meaningless, so the denser side is
    brought to the same grid first: the first frame at or after each multiple of the interval.
    """
    if interval <= 0:
        return list(frames)
    kept: list[VideoFrame] = []
    next_time = 0.0
    for frame in sorted(frames, key=lambda f: f.timestamp):
        if frame.timestamp + 1e-6 >= next_time:
            kept.append(frame)
            steps = int((frame.timestamp + 1e-6) // interval) + 1
            next_time = steps * interval
    return kept


def sampling_interval(frames: Sequence[VideoFrame]) -> float:
    """The typical gap between hashed frames (median), 0 when it cannot be told."""
    times = sorted(f.timestamp for f in frames)
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    return float(np.median(gaps)) if gaps else 0.0
