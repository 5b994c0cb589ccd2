"""An exact-recall PDQ index: multi-index hashing with compiled probe and verify loops.

faiss' binary indexes (what python-threatexchange uses) either scan everything (flat), keep
several copies of every hash in hash maps (IndexBinaryMultiHash: 4-6 GB at 10M) or are not exact
(HNSW). This index splits the 256 bits into 11 substrings of 23-24 bits. Two hashes within
distance 32 differ by at most 2 bits in at least one substring (pigeonhole: 11 x 3 > 32), so
probing every key within 2 bits of each query substring finds every pair; candidates are then
verified on the full 256 bits. Each table is a sorted id array plus a bucket-offset array, both
saved as ``.npy`` and memory-mapped, so a 10M-hash list costs about 1.2 GB on disk and is not
rebuilt per scan. A pair is reported only by the first table in which it is within the radius,
so results need no de-duplication. Small lists use narrower bucket keys (the top bits of
each substring), which keeps their files small without losing a match. Brute force
(:func:`brute_force`) is the oracle the tests and the benchmark hold it to.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

Words = NDArray[np.uint64]
SearchResult = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]

TABLES = 11
_WIDTHS = (24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23)
STARTS = np.cumsum((0, *_WIDTHS[:-1])).astype(np.int64)
WIDTHS = np.asarray(_WIDTHS, dtype=np.int64)
MAX_RADIUS = 3
_FORMAT = "veriscan-pdq-mih-2"


def hex_to_words(hashes: Sequence[str]) -> Words:
    """PDQ hex strings as (n, 4) native uint64 words, most significant bits first."""
    raw = b"".join(bytes.fromhex(h) for h in hashes)
    return bytes_to_words(np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32))


def bytes_to_words(packed: NDArray[np.uint8]) -> Words:
    if packed.ndim != 2 or packed.shape[1] != 32:
        raise ValueError(f"expected (n, 32) bytes, got shape {packed.shape}")
    big = np.ascontiguousarray(packed).view(">u8").reshape(-1, 4)
    return big.astype(np.uint64)


def words_to_hex(words: Words) -> list[str]:
    data = np.ascontiguousarray(words).astype(">u8").tobytes()
    return [data[i : i + 32].hex() for i in range(0, len(data), 32)]


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, inline="always")
def _substring(
    w0: np.uint64, w1: np.uint64, w2: np.uint64, w3: np.uint64, start: int, width: int
) -> np.int64:
    words = (w0, w1, w2, w3)
    index = start // 64
    offset = start % 64
    mask = (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    if offset + width <= 64:
        return np.int64((words[index] >> np.uint64(64 - offset - width)) & mask)
    high = 64 - offset
    low = width - high
    part = (words[index] & ((np.uint64(1) << np.uint64(high)) - np.uint64(1))) << np.uint64(low)
    return np.int64(part | (words[index + 1] >> np.uint64(64 - low)))


@njit(cache=True, nogil=True)
def _keys(words: Words, start: int, width: int) -> NDArray[np.int64]:
    out = np.empty(words.shape[0], dtype=np.int64)
    for i in range(words.shape[0]):
        out[i] = _substring(words[i, 0], words[i, 1], words[i, 2], words[i, 3], start, width)
    return out


@njit(cache=True, nogil=True)
def _search(
    words: Words,
    queries: Words,
    offsets: NDArray[np.uint32],
    ids: NDArray[np.uint32],
    starts: NDArray[np.int64],
    widths: NDArray[np.int64],
    table_base: NDArray[np.int64],
    id_base: NDArray[np.int64],
    shifts: NDArray[np.int64],
    masks: NDArray[np.int64],
    mask_table: NDArray[np.int64],
    threshold: int,
    radius: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]:
    # Phases (probe keys, bucket bounds, candidate ids, verification) are separate loops of
    # independent loads, so the CPU overlaps many cache misses instead of chasing one at a time.
    cap = 1024
    out_q = np.empty(cap, dtype=np.int64)
    out_id = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.int32)
    n = 0
    tables = starts.shape[0]
    probes = masks.shape[0]
    slot = np.empty(probes, dtype=np.int64)
    lo = np.empty(probes, dtype=np.int64)
    hi = np.empty(probes, dtype=np.int64)
    keys = np.empty(tables, dtype=np.int64)
    cand = np.empty(4096, dtype=np.int64)
    cand_table = np.empty(4096, dtype=np.int64)
    for qi in range(queries.shape[0]):
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        for t in range(tables):
            keys[t] = _substring(q0, q1, q2, q3, starts[t], widths[t]) >> shifts[t]
        for p in range(probes):
            t = mask_table[p]
            slot[p] = table_base[t] + (keys[t] ^ masks[p])
        total = 0
        for p in range(probes):
            lo[p] = np.int64(offsets[slot[p]])
            hi[p] = np.int64(offsets[slot[p] + 1])
            total += hi[p] - lo[p]
        if total > cand.shape[0]:
            cand = np.empty(total * 2, dtype=np.int64)
            cand_table = np.empty(total * 2, dtype=np.int64)
        c = 0
        for p in range(probes):
            base = id_base[mask_table[p]]
            for pos in range(lo[p], hi[p]):
                cand[c] = np.int64(ids[base + pos])
                cand_table[c] = mask_table[p]
                c += 1
        for j in range(c):
            i = cand[j]
            x0 = words[i, 0] ^ q0
            x1 = words[i, 1] ^ q1
            x2 = words[i, 2] ^ q2
            x3 = words[i, 3] ^ q3
            dist = _popcount(x0) + _popcount(x1) + _popcount(x2) + _popcount(x3)
            if dist > threshold:
                continue
            # report the pair from the first table whose whole substring is within the radius
            owner = -1
            for u in range(cand_table[j] + 1):
                if _popcount(np.uint64(_substring(x0, x1, x2, x3, starts[u], widths[u]))) <= radius:
                    owner = u
                    break
            if owner != cand_table[j]:
                continue
            if n == cap:
                cap *= 2
                out_q = np.concatenate((out_q, np.empty(cap - n, dtype=np.int64)))
                out_id = np.concatenate((out_id, np.empty(cap - n, dtype=np.int64)))
                out_d = np.concatenate((out_d, np.empty(cap - n, dtype=np.int32)))
            out_q[n] = qi
            out_id[n] = i
            out_d[n] = np.int32(dist)
            n += 1
    return out_q[:n], out_id[:n], out_d[:n]


def _flip_masks(width: int, radius: int) -> list[int]:
    """Every XOR mask of at most ``radius`` set bits within ``width`` bits."""
    from itertools import combinations

    masks = []
    for r in range(radius + 1):
        for bits in combinations(range(width), r):
            masks.append(sum(1 << b for b in bits))
    return masks


def _probe_plan(
    radius: int, key_bits: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    return _cached_plan(radius, tuple(int(b) for b in key_bits))


@lru_cache(maxsize=16)
def _cached_plan(
    radius: int, key_bits: tuple[int, ...]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    masks: list[int] = []
    tables: list[int] = []
    for t, width in enumerate(key_bits):
        flips = _flip_masks(width, radius)
        masks += flips
        tables += [t] * len(flips)
    return np.asarray(masks, dtype=np.int64), np.asarray(tables, dtype=np.int64)


@njit(cache=True, nogil=True)
def _brute(
    words: Words, queries: Words, threshold: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]:
    out_q = []
    out_id = []
    out_d = []
    for qi in range(queries.shape[0]):
        for i in range(words.shape[0]):
            dist = (
                _popcount(words[i, 0] ^ queries[qi, 0])
                + _popcount(words[i, 1] ^ queries[qi, 1])
                + _popcount(words[i, 2] ^ queries[qi, 2])
                + _popcount(words[i, 3] ^ queries[qi, 3])
            )
            if dist <= threshold:
                out_q.append(qi)
                out_id.append(i)
                out_d.append(np.int32(dist))
    return (
        np.array(out_q, dtype=np.int64),
        np.array(out_id, dtype=np.int64),
        np.array(out_d, dtype=np.int32),
    )


def map_npy(path: Path) -> NDArray[Any]:
    """A read-only memory map of a ``.npy`` file, advised to use huge pages where it can.

    Lookups jump at random through a gigabyte of index; with 4 KiB pages nearly every jump also
    misses the TLB. Kernels that keep file pages in large folios map them with 2 MiB pages once
    the mapping asks for it (measured: 3,100 -> 4,700-5,100 q/s on the clustered 10M benchmark).
    Elsewhere the advice is refused and ignored.
    """
    with path.open("rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        offset = fh.tell()
        if fortran:
            raise ValueError(f"{path}: Fortran-ordered arrays are not used by the index")
        count = int(np.prod(shape))
        if count == 0:
            return np.empty(shape, dtype=dtype)
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is not None:
        with contextlib.suppress(OSError):
            mapped.madvise(advice)
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape)


def radius_for(threshold: int) -> int:
    """The per-substring radius that keeps recall exact: TABLES * (radius + 1) > threshold."""
    return max(0, threshold // TABLES)


def _threads(threads: int | None) -> int:
    return max(1, threads or os.cpu_count() or 1)


def _fan_out(
    queries: Words, threads: int | None, run: Callable[[Words], SearchResult]
) -> SearchResult:
    """Runs ``run`` (compiled, GIL released) on one slice of the queries per thread and merges
    the results, query rows renumbered to the whole batch."""
    total = len(queries)
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    size = max(1, -(-total // _threads(threads)))
    starts = list(range(0, total, size))
    with ThreadPoolExecutor(len(starts)) as pool:
        parts = list(pool.map(lambda lo: run(queries[lo : lo + size]), starts))
    q = np.concatenate([p[0] + lo for p, lo in zip(parts, starts, strict=True)])
    return q, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def brute_force(
    words: Words, queries: Words, threshold: int, threads: int | None = None
) -> SearchResult:
    """Every (query, id, distance) within ``threshold``, by comparing each query with every hash."""
    return _fan_out(queries, threads, lambda part: _brute(words, part, threshold))


def key_bits(count: int) -> NDArray[np.int64]:
    """Bucket-key width per table: about one hash per bucket, so small lists stay small.

    A key is the top bits of its substring; anything within the radius on the whole substring is
    within it on those bits too, so narrower keys only add candidates, never lose a match.
    """
    bits = min(max(8, int(np.ceil(np.log2(max(count, 2))))), int(WIDTHS.max()))
    return np.minimum(WIDTHS, bits).astype(np.int64)


class PdqIndex:
    """Exact-recall Hamming search over PDQ hashes; ids are row numbers of ``words``."""

    def __init__(self, words: Words, offsets: NDArray[np.uint32], ids: NDArray[np.uint32]) -> None:
        self.words = words
        self.offsets = offsets
        self.ids = ids
        self.key_bits = key_bits(len(words))
        sizes = (1 << self.key_bits) + 1
        self._table_base = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self._id_base = (np.arange(TABLES, dtype=np.int64) * len(words)).astype(np.int64)

    def __len__(self) -> int:
        return int(self.words.shape[0])

    @classmethod
    def build(cls, words: Words) -> PdqIndex:
        words = np.ascontiguousarray(words, dtype=np.uint64)
        if words.ndim != 2 or words.shape[1] != 4:
            raise ValueError(f"expected (n, 4) uint64 words, got shape {words.shape}")
        if len(words) >= 2**32:
            raise ValueError("a PDQ index holds at most 2**32 - 1 hashes")
        n = len(words)
        bits = key_bits(n)
        # filled in place, table by table: the build never holds two copies of the index
        offsets = np.empty(int(((1 << bits) + 1).sum()), dtype=np.uint32)
        ids = np.empty(n * TABLES, dtype=np.uint32)
        at = 0
        for t, (start, width, kw) in enumerate(zip(STARTS, WIDTHS, bits, strict=True)):
            keys = _keys(words, int(start), int(width)) >> (int(width) - int(kw))
            ids[t * n : (t + 1) * n] = np.argsort(keys, kind="stable")
            counts = np.bincount(keys, minlength=1 << int(kw))
            del keys
            offsets[at] = 0
            np.cumsum(counts, out=offsets[at + 1 : at + 1 + len(counts)], dtype=np.uint32)
            at += len(counts) + 1
        return cls(words, offsets, ids)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "pdq-words.npy", self.words)
        np.save(directory / "pdq-offsets.npy", self.offsets)
        np.save(directory / "pdq-ids.npy", self.ids)
        (directory / "pdq-index.txt").write_text(_FORMAT + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> PdqIndex:
        """Memory-maps the saved arrays: opening a 10M-hash index reads almost nothing."""
        marker = directory / "pdq-index.txt"
        if not marker.is_file() or marker.read_text(encoding="utf-8").strip() != _FORMAT:
            raise ValueError(f"{directory} holds no PDQ index of format {_FORMAT}")
        return cls(
            map_npy(directory / "pdq-words.npy"),
            map_npy(directory / "pdq-offsets.npy"),
            map_npy(directory / "pdq-ids.npy"),
        )

    def search(
        self, queries: Words, threshold: int = 31, threads: int | None = None
    ) -> SearchResult:
        """(query row, id, distance) for every stored hash within ``threshold`` of a query."""
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        if len(self) == 0:
            queries = queries[:0]
        radius = radius_for(threshold)
        if radius > MAX_RADIUS:
            return brute_force(self.words, queries, threshold, threads)
        masks, mask_table = _probe_plan(radius, self.key_bits)
        shifts = WIDTHS - self.key_bits

        def run(part: Words) -> SearchResult:
            return _search(
                self.words,
                part,
                self.offsets,
                self.ids,
                STARTS,
                WIDTHS,
                self._table_base,
                self._id_base,
                shifts,
                masks,
                mask_table,
                threshold,
                radius,
            )

        return _fan_out(queries, threads, run)
