"""The built-in matchers: exact digests, PDQ by Hamming distance, vPDQ by shared frames."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from veriscan.matching.base import CaseHashes, HashList, Hit, Matcher
from veriscan.matching.lists.records import EXACT_KINDS
from veriscan.matching.pdqindex import hex_to_words
from veriscan.matching.vpdq import (
    VideoFrame,
    is_match,
    match_videos,
    resample,
    sampling_interval,
)


class ExactMatcher(Matcher):
    id = "exact"
    version = "1"
    kinds = frozenset(EXACT_KINDS)

    def match(self, hash_list: HashList, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        for kind in EXACT_KINDS:
            if kind not in hash_list.kinds():
                continue
            values = [getattr(c, kind) for c in contents]
            for index, entry in hash_list.exact_lookup(kind, values):
                yield Hit(index, kind, entry, 0)


class PdqMatcher(Matcher):
    """Images below the list's quality floor are not compared: their hashes match too easily."""

    id = "pdq"
    version = "1"
    kinds = frozenset({"pdq"})

    def match(self, hash_list: HashList, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        if "pdq" not in hash_list.kinds():
            return
        usable = [
            i
            for i, c in enumerate(contents)
            if c.pdq and (c.pdq_quality or 0) >= hash_list.min_quality
        ]
        if not usable:
            return
        q, entries, dist = hash_list.pdq_search(
            hex_to_words([contents[i].pdq or "" for i in usable])
        )
        for qi, entry, d in zip(q.tolist(), entries.tolist(), dist.tolist(), strict=True):
            yield Hit(usable[qi], "pdq", int(entry), int(d))


class VpdqMatcher(Matcher):
    """Candidates from a frame index, then the share of matched frames both ways.

    Both sides are first brought to the coarser of their two sampling grids (a list hashed at
    every frame against a scan at one frame a second). The distance reported is the percentage of
    unique frames left unmatched on the weaker side: 0 means every frame has a counterpart.
    """

    id = "vpdq"
    version = "1"
    kinds = frozenset({"vpdq"})

    def match(self, hash_list: HashList, contents: Sequence[CaseHashes]) -> Iterator[Hit]:
        if "vpdq" not in hash_list.kinds():
            return
        threshold, quality = hash_list.pdq_threshold, hash_list.min_quality
        for index, video in enumerate(contents):
            frames = [f for f in video.frames or [] if f.quality >= quality]
            unique = list(dict.fromkeys(f.hash for f in frames))
            if not unique:
                continue
            for entry in sorted(hash_list.video_candidates(hex_to_words(unique))):
                rows = hash_list.entry(entry).extra.get("frames") or []
                target = [
                    VideoFrame(i, int(r[0]), str(r[1]), float(r[2])) for i, r in enumerate(rows)
                ]
                grid = max(video.interval, sampling_interval(target))
                shares = match_videos(
                    resample(frames, grid), resample(target, grid), threshold, quality
                )
                if is_match(shares):
                    weaker = min(shares.query_share, shares.target_share)
                    yield Hit(index, "vpdq", entry, round(100 * (1 - weaker)))
