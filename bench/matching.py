"""PDQ matching benchmark: veriscan's PDQ index vs faiss, python-threatexchange and brute force.

Run it in its own environment (`make bench-matching` builds `.venv-bench` with threatexchange and
faiss-cpu), so the comparison libraries never enter veriscan's runtime. Every method searches the
same haystack with the same queries at threshold 31 in one process and one run: on a shared, noisy
two-core machine absolute numbers drift between runs, the ratios between methods much less.

Data sets, both generated from a fixed seed:

- random: uniform 256-bit hashes with planted neighbours. Half of the queries get copies at every
  distance 0..40 (PLANT_PER_DISTANCE of each) hidden in the haystack, so recall is tested right at
  and just past the threshold; the other half match nothing, the common case when scanning
  evidence against a list.
- clustered: hashes scattered around a few thousand centres (binomial flips of about 20-60 bits),
  queried with hashes about 16 bits from a centre. Real PDQ hashes are far from uniform, and skew
  fills some buckets of any hash-table index, which uniform data never shows.

Ground truth is veriscan's compiled brute force, itself checked against a pure-numpy brute force on
a subset of queries and against the planted neighbours, so a wrong oracle cannot hide a miss.
The run ends with the import time of a plain MD5 list of the same number of lines, next to a loop
that only reads the file's lines (the floor any importer has to pay).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from numpy.typing import NDArray

from veriscan.matching.pdqindex import PdqIndex, brute_force, words_to_hex

Words = NDArray[np.uint64]

SEED = 20_260_531
THRESHOLD = 31
PLANT_MAX_DISTANCE = 40
PLANT_PER_DISTANCE = 2
HASHES_PER_CENTRE = 2500
POLL_S = 0.05
NUMPY_CHUNK = 1 << 20

TARGET_RECALL = 1.0
TARGET_QPS = 4000.0
TARGET_INDEX_BYTES = 2e9
TARGET_BUILD_S = 60.0
TARGET_AT_N = 10_000_000


@dataclass
class Row:
    """One method on one data set; None where a figure does not apply to the method."""

    dataset: str
    method: str
    queries: int = 0  # how many queries the q/s and recall cover
    build_s: float | None = None
    load_s: float | None = None
    disk_bytes: int | None = None
    rss_bytes: int | None = None  # RSS increase while the index is loaded and has been queried
    build_peak_bytes: int | None = None  # peak RSS increase while building
    qps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    latency_calls: int = 0
    recall: float | None = None
    false_pairs: int = 0  # reported pairs that brute force did not find
    duplicate_pairs: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Dataset:
    name: str
    haystack: Words
    queries: Words
    description: str
    planted: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]] | None = None


class PeakRss:
    """Peak RSS of this process, polled in a thread: builds allocate and free large temporaries
    that a before/after reading would miss."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.start = rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def increase(self) -> int:
        return self.peak - self.start

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(POLL_S)


def _malloc_trim() -> Callable[[int], int] | None:
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    return None


MALLOC_TRIM = _malloc_trim()


def rss() -> int:
    """RSS after handing freed heap back to the OS: without the trim, a method that allocates
    many small blocks reuses what an earlier method freed and would show no increase at all."""
    gc.collect()
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)
    return int(psutil.Process().memory_info().rss)


def now() -> float:
    return time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- data


def random_words(rng: np.random.Generator, n: int) -> Words:
    return rng.integers(0, np.iinfo(np.uint64).max, size=(n, 4), dtype=np.uint64, endpoint=True)


def flip_exact(rng: np.random.Generator, base: Words, distances: NDArray[np.int64]) -> Words:
    """``base`` rows with exactly ``distances[i]`` distinct bits flipped, for edge-exact plants."""
    m = len(base)
    order = np.argsort(rng.random((m, 256), dtype=np.float32), axis=1)
    chosen = np.arange(256) < distances[:, None]
    bits = np.zeros((m, 256), dtype=bool)
    bits[np.nonzero(chosen)[0], order[chosen]] = True
    packed = np.packbits(bits, axis=1)  # big-endian bit order, as the words are
    masks = packed.view(">u8").reshape(m, 4).astype(np.uint64)
    return base ^ masks


def sparse_masks(rng: np.random.Generator, m: int, ands: int) -> Words:
    """Random masks with each bit set with probability 2**-ands (AND of ``ands`` random words)."""
    mask = random_words(rng, m)
    for _ in range(ands - 1):
        mask &= random_words(rng, m)
    return mask


def make_random(rng: np.random.Generator, n: int, nq: int) -> Dataset:
    queries = random_words(rng, nq)
    planted_q = np.arange(nq // 2, dtype=np.int64)
    per_query = (PLANT_MAX_DISTANCE + 1) * PLANT_PER_DISTANCE
    while len(planted_q) * per_query > n // 2 and len(planted_q) > 1:
        planted_q = planted_q[: len(planted_q) // 2]
    distances = np.tile(
        np.repeat(np.arange(PLANT_MAX_DISTANCE + 1, dtype=np.int64), PLANT_PER_DISTANCE),
        len(planted_q),
    )
    owners = np.repeat(planted_q, per_query)
    haystack = random_words(rng, n)
    positions = rng.choice(n, size=len(owners), replace=False).astype(np.int64)
    haystack[positions] = flip_exact(rng, queries[owners], distances)
    text = (
        f"{n:,} uniform random hashes; {len(planted_q):,} of {nq:,} queries have "
        f"{PLANT_PER_DISTANCE} planted copies at each distance 0..{PLANT_MAX_DISTANCE}, "
        "the rest match nothing planted"
    )
    return Dataset("random", haystack, queries, text, (owners, positions, distances))


def make_clustered(rng: np.random.Generator, n: int, nq: int) -> Dataset:
    centres = random_words(rng, max(50, n // HASHES_PER_CENTRE))
    haystack = np.empty((n, 4), dtype=np.uint64)
    for lo in range(0, n, NUMPY_CHUNK):
        hi = min(n, lo + NUMPY_CHUNK)
        pick = rng.integers(0, len(centres), size=hi - lo)
        # p = 1/8 (mean 32 bits) for half the rows, about 3/16 (mean 46 bits) for the others
        masks = sparse_masks(rng, hi - lo, 3)
        wider = rng.random(hi - lo) < 0.5
        masks[wider] |= sparse_masks(rng, int(wider.sum()), 4)
        haystack[lo:hi] = centres[pick] ^ masks
    queries = centres[rng.integers(0, len(centres), size=nq)] ^ sparse_masks(rng, nq, 4)
    text = (
        f"{n:,} hashes around {len(centres):,} centres (binomial flips, mean 32 or 46 bits); "
        f"{nq:,} queries about 16 bits from a centre"
    )
    return Dataset("clustered", haystack, queries, text)


def to_bytes(words: Words) -> NDArray[np.uint8]:
    """The (n, 32) byte layout faiss and the hex strings use: most significant byte first."""
    return np.ascontiguousarray(words).astype(">u8").view(np.uint8).reshape(-1, 32)


# ---------------------------------------------------------------- scoring


@dataclass
class Truth:
    """Brute-force pairs as sorted keys ``query * n + id``, with their distances."""

    n: int
    keys: NDArray[np.int64]
    distances: NDArray[np.int32]

    def restrict(self, rows: NDArray[np.int64] | None) -> NDArray[np.int64]:
        if rows is None:
            return self.keys
        return self.keys[np.isin(self.keys // self.n, rows)]


def pair_keys(q: NDArray[Any], ids: NDArray[Any], n: int) -> NDArray[np.int64]:
    return np.asarray(q, dtype=np.int64) * n + np.asarray(ids, dtype=np.int64)


def score(row: Row, truth: Truth, q: NDArray[Any], ids: NDArray[Any], rows: Any = None) -> None:
    keys = pair_keys(q, ids, truth.n)
    unique = np.unique(keys)
    expected = truth.restrict(None if rows is None else np.asarray(rows, dtype=np.int64))
    hit = int(np.isin(unique, expected).sum())
    row.recall = hit / len(expected) if len(expected) else 1.0
    row.false_pairs = len(unique) - hit
    row.duplicate_pairs = len(keys) - len(unique)


def percentiles(row: Row, seconds: Sequence[float]) -> None:
    if seconds:
        row.p50_ms = float(np.percentile(seconds, 50) * 1e3)
        row.p99_ms = float(np.percentile(seconds, 99) * 1e3)
        row.latency_calls = len(seconds)


def timed_calls(
    call: Callable[[int], object], order: Sequence[int], limit: int, budget_s: float
) -> list[float]:
    """Seconds per single-query call, for up to ``limit`` calls or ``budget_s`` of wall time."""
    seconds: list[float] = []
    started = now()
    for i in order[:limit]:
        t = now()
        call(int(i))
        seconds.append(now() - t)
        if now() - started > budget_s:
            break
    return seconds


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- methods


def compiled_brute(data: Dataset, threads: int) -> tuple[Truth, Row]:
    row = Row(data.name, "brute force, compiled (veriscan oracle)", len(data.queries))
    brute_force(data.haystack[:1000], data.queries[:1], THRESHOLD, 1)  # compile outside timing
    t = now()
    q, ids, d = brute_force(data.haystack, data.queries, THRESHOLD, threads)
    row.qps = len(data.queries) / (now() - t)
    keys = pair_keys(q, ids, len(data.haystack))
    order = np.argsort(keys)
    truth = Truth(len(data.haystack), keys[order], d[order])
    row.recall = 1.0
    row.duplicate_pairs = len(keys) - len(np.unique(keys))
    row.notes.append("defines the truth; threads as given")
    return truth, row


def _popcounts(x: NDArray[np.uint64]) -> NDArray[np.int64]:
    bitwise_count = getattr(np, "bitwise_count", None)
    if bitwise_count is not None:
        return np.asarray(bitwise_count(x).sum(axis=1, dtype=np.int64))
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return np.asarray(table[x.view(np.uint8)].sum(axis=1, dtype=np.int64))


def numpy_search(haystack: Words, query: Words) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every id within the threshold of one query: XOR and popcount over the haystack in chunks,
    so memory stays at one chunk however large the haystack."""
    ids, dists = [], []
    for lo in range(0, len(haystack), NUMPY_CHUNK):
        d = _popcounts(haystack[lo : lo + NUMPY_CHUNK] ^ query)
        hit = np.flatnonzero(d <= THRESHOLD)
        ids.append(hit + lo)
        dists.append(d[hit])
    return np.concatenate(ids), np.concatenate(dists)


def numpy_brute(data: Dataset, truth: Truth, count: int) -> tuple[Row, bool]:
    rows = np.unique(np.linspace(0, len(data.queries) - 1, count).astype(np.int64))
    row = Row(data.name, "brute force, pure numpy", len(rows))
    found_q: list[NDArray[np.int64]] = []
    found_id: list[NDArray[np.int64]] = []
    found_d: list[NDArray[np.int64]] = []

    def one(i: int) -> None:
        ids, d = numpy_search(data.haystack, data.queries[i])
        found_q.append(np.full(len(ids), i, dtype=np.int64))
        found_id.append(ids)
        found_d.append(d)

    seconds = timed_calls(one, list(rows), len(rows), float("inf"))
    row.qps = len(rows) / sum(seconds)
    percentiles(row, seconds)
    q, ids, d = np.concatenate(found_q), np.concatenate(found_id), np.concatenate(found_d)
    score(row, truth, q, ids, rows)
    keys = pair_keys(q, ids, truth.n)
    expected = truth.restrict(rows)
    mask = np.isin(truth.keys, expected)
    agree = bool(
        np.array_equal(np.sort(keys), expected)
        and np.array_equal(d[np.argsort(keys)], truth.distances[mask])
    )
    row.notes.append(f"{len(rows)} queries, one at a time, single thread")
    if not agree:
        row.notes.append("DISAGREES with the compiled brute force")
    return row, agree


def check_planted(data: Dataset, truth: Truth) -> str:
    """The planted pairs within the threshold must all be in the truth; returns a verdict line."""
    if data.planted is None:
        return ""
    owners, positions, distances = data.planted
    inside = distances <= THRESHOLD
    keys = pair_keys(owners[inside], positions[inside], truth.n)
    missing = int((~np.isin(keys, truth.keys)).sum())
    return (
        f"planted pairs within {THRESHOLD}: {len(keys):,}, missing from the truth: {missing}"
        if missing == 0
        else f"PLANTED PAIRS MISSING FROM THE TRUTH: {missing} of {len(keys):,}"
    )


def bench_veriscan(data: Dataset, truth: Truth, args: argparse.Namespace, work: Path) -> Row:
    row = Row(data.name, f"veriscan PdqIndex ({args.threads} threads)", len(data.queries))
    with PeakRss() as peak:
        t = now()
        index = PdqIndex.build(data.haystack)
        row.build_s = now() - t
    row.build_peak_bytes = peak.increase
    in_memory = index.words.nbytes + index.offsets.nbytes + index.ids.nbytes
    folder = work / f"veriscan-{data.name}"
    t = now()
    index.save(folder)
    save_s = now() - t
    del index
    row.disk_bytes = folder_bytes(folder)
    before = rss()
    t = now()
    loaded = PdqIndex.load(folder)
    row.load_s = now() - t
    loaded.search(data.queries[:1], THRESHOLD, threads=1)  # numba: load cached code untimed
    t = now()
    q, ids, _ = loaded.search(data.queries, THRESHOLD, threads=args.threads)
    row.qps = len(data.queries) / (now() - t)
    row.rss_bytes = rss() - before
    score(row, truth, q, ids)
    queries = data.queries

    def one(i: int) -> None:
        loaded.search(queries[i : i + 1], THRESHOLD, threads=args.threads)

    percentiles(row, timed_calls(one, args.order, args.latency_calls, 60.0))
    row.notes += [
        f"built arrays {in_memory / 1e6:,.0f} MB, save {save_s:.1f} s",
        "load is a memory map of just-written files (warm page cache)",
    ]
    shutil.rmtree(folder, ignore_errors=True)  # the maps stay valid until the index is dropped
    return row


def _faiss_rows(lims: NDArray[Any], nq: int) -> NDArray[np.int64]:
    return np.repeat(np.arange(nq, dtype=np.int64), np.diff(lims.astype(np.int64)))


def bench_faiss(
    data: Dataset, truth: Truth, args: argparse.Namespace, work: Path, config: str
) -> tuple[Row, str]:
    """Raw faiss, batched: what threatexchange wraps, without its per-hash Python layer."""
    import faiss

    faiss.omp_set_num_threads(args.threads)
    haystack, queries = to_bytes(data.haystack), to_bytes(data.queries)
    before = rss()
    with PeakRss() as peak:
        t = now()
        if config == "flat":
            index = faiss.IndexBinaryFlat(256)
            method = "faiss IndexBinaryFlat"
        else:
            nhash, bits = (int(v) for v in config.split("x"))
            index = faiss.IndexBinaryMultiHash(256, nhash, bits)
            index.nflip = THRESHOLD // nhash
            method = f"faiss IndexBinaryMultiHash {nhash}x{bits} nflip={index.nflip}"
        index.add(haystack)
        build_s = now() - t
    row = Row(data.name, f"{method} ({args.threads} threads)", len(queries), build_s=build_s)
    row.build_peak_bytes = peak.increase
    row.rss_bytes = rss() - before
    path = work / f"faiss-{config}.index"
    faiss.write_index_binary(index, str(path))
    row.disk_bytes = path.stat().st_size
    path.unlink()
    index.range_search(queries[:1], THRESHOLD + 1)
    t = now()
    lims, dist, ids = index.range_search(queries, THRESHOLD + 1)
    row.qps = len(queries) / (now() - t)
    score(row, truth, _faiss_rows(lims, len(queries)), ids)

    def one(i: int) -> None:
        index.range_search(queries[i : i + 1], THRESHOLD + 1)

    percentiles(row, timed_calls(one, args.order, args.latency_calls, 30.0))
    radius = ""
    if config == "flat":
        # faiss keeps d < radius: radius 32 must return distance 31, radius 31 must not
        at_31 = int((dist == THRESHOLD).sum())
        probe = queries[: max(1, min(50, len(queries)))]
        _, strict, _ = index.range_search(probe, THRESHOLD)
        expect = int((truth.distances[truth.keys // truth.n < len(probe)] == THRESHOLD).sum())
        radius = (
            f"faiss range_search radius check: radius {THRESHOLD + 1} returned {at_31} pairs at "
            f"distance {THRESHOLD} (max {int(dist.max()) if len(dist) else '-'}); radius "
            f"{THRESHOLD} on {len(probe)} queries returned max distance "
            f"{int(strict.max()) if len(strict) else '-'} where {expect} pairs lie at "
            f"{THRESHOLD}: the radius is strict, so threshold {THRESHOLD} needs radius "
            f"{THRESHOLD + 1}"
        )
    index.reset()  # frees the hashes and tables now, before the next method builds its own
    return row, radius


def _te_queries(
    index: Any, query_hex: list[str], order: Sequence[int], budget_s: float
) -> tuple[list[float], list[int], list[int]]:
    found_q: list[int] = []
    found_id: list[int] = []
    index.query(query_hex[0])

    def one(i: int) -> None:
        for match in index.query(query_hex[i]):
            found_q.append(i)
            found_id.append(int(match.metadata))

    return timed_calls(one, order, len(query_hex), budget_s), found_q, found_id


def bench_threatexchange(data: Dataset, truth: Truth, args: argparse.Namespace, work: Path) -> Row:
    """python-threatexchange's PDQ index, as PdqSignal builds it: (hex, metadata) pairs in,
    one hex string per query."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    index_cls = PdqSignal.get_index_cls()
    before = rss()  # before the hex strings: the index keeps them, so they are its memory too
    hexes = words_to_hex(data.haystack)
    query_hex = words_to_hex(data.queries)
    with PeakRss() as peak:
        t = now()
        index = index_cls(zip(hexes, range(len(hexes)), strict=True))
        build_s = now() - t
    row = Row(data.name, f"threatexchange {index_cls.__name__}", build_s=build_s)
    row.build_peak_bytes = peak.increase
    del hexes
    row.rss_bytes = rss() - before
    inner = getattr(getattr(index, "index", None), "mih_index", None)
    if inner is not None:
        row.notes.append(
            f"faiss IndexBinaryMultiHash nhash={inner.nhash} b={inner.b}, "
            f"nflip {THRESHOLD // inner.nhash} at threshold {THRESHOLD}"
        )
    seconds, found_q, found_id = _te_queries(index, query_hex, args.order, args.te_budget)
    done = np.asarray(args.order[: len(seconds)], dtype=np.int64)
    row.queries = len(seconds)
    row.qps = len(seconds) / sum(seconds)
    percentiles(row, seconds)
    score(row, truth, np.asarray(found_q, dtype=np.int64), np.asarray(found_id), done)
    if len(seconds) < len(query_hex):
        row.notes.append(
            f"{len(seconds)} of {len(query_hex)} queries (a random sample, "
            f"{args.te_budget:.0f} s budget)"
        )
    row.notes.append("per-hash query API, so q/s is a loop of single queries")
    path = work / "threatexchange.pickle"
    with path.open("wb") as fh:
        index.serialize(fh)
    row.disk_bytes = path.stat().st_size
    del index
    gc.collect()
    t = now()
    with path.open("rb") as fh:
        reloaded = pickle.load(fh)
    row.load_s = now() - t
    del reloaded
    path.unlink()
    gc.collect()
    return row


# ---------------------------------------------------------------- MD5 import


def write_md5_list(path: Path, lines: int, rng: np.random.Generator) -> None:
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    with path.open("wb") as fh:
        for lo in range(0, lines, NUMPY_CHUNK):
            raw = rng.integers(0, 256, size=(min(lines, lo + NUMPY_CHUNK) - lo, 16), dtype=np.uint8)
            out = np.empty((len(raw), 33), dtype=np.uint8)
            out[:, 0:32:2] = digits[raw >> 4]
            out[:, 1:32:2] = digits[raw & 15]
            out[:, 32] = ord("\n")
            fh.write(out.tobytes())


def bench_md5(lines: int, work: Path, rng: np.random.Generator) -> dict[str, Any]:
    from veriscan.matching.library import ImportOptions, Library

    path = work / "md5-list.txt"
    write_md5_list(path, lines, rng)
    t = now()
    count = 0
    with path.open("rb") as fh:
        for _line in fh:
            count += 1
    read_s = now() - t
    t = now()
    with path.open("rb") as fh:
        for line in fh:
            bytes.fromhex(line[:32].decode("ascii"))
    parse_s = now() - t
    library = Library(work / "library")
    with PeakRss() as peak:
        t = now()
        report = library.import_list(path, ImportOptions(name="md5-bench", fmt="plain"))
        import_s = now() - t
    records = int(report.meta.counts.get("records", 0))
    result = {
        "lines": count,
        "file_bytes": path.stat().st_size,
        "import_s": import_s,
        "import_lines_per_s": count / import_s,
        "records": records,
        "bad_lines": int(report.meta.counts.get("bad_lines", 0)),
        "import_peak_rss_increase": peak.increase,
        "library_bytes": folder_bytes(library.folder("md5-bench")),
        "read_lines_s": read_s,
        "read_lines_per_s": count / read_s,
        "read_fromhex_s": parse_s,
        "read_fromhex_lines_per_s": count / parse_s,
    }
    shutil.rmtree(work / "library", ignore_errors=True)
    path.unlink()
    return result


# ---------------------------------------------------------------- report


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:,.0f}"


def method_table(rows: list[Row]) -> str:
    lines = [
        "| method | queries | build s | build peak MB | load s | disk MB | RSS MB | q/s batched "
        "| p50 ms | p99 ms | recall | false pairs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {r.queries:,} | {_num(r.build_s, '.1f')} "
            f"| {_mb(r.build_peak_bytes)} | {_num(r.load_s, '.3f')} "
            f"| {_mb(r.disk_bytes)} | {_mb(r.rss_bytes)} | {_num(r.qps, ',.0f')} "
            f"| {_num(r.p50_ms, '.2f')} | {_num(r.p99_ms, '.2f')} | {_num(r.recall, '.4f')} "
            f"| {r.false_pairs} |"
        )
    return "\n".join(lines)


def ratio_lines(rows: list[Row]) -> list[str]:
    ours = next((r for r in rows if r.method.startswith("veriscan")), None)
    if ours is None or not ours.qps:
        return []
    out = []
    for r in rows:
        if r is not ours and r.qps:
            out.append(f"- veriscan q/s / {r.method} q/s: {ours.qps / r.qps:,.1f}x")
    return out


def target_table(row: Row, n: int) -> str:
    index_bytes = max(row.disk_bytes or 0, row.rss_bytes or 0)
    checks = [
        ("recall vs brute force", _num(row.recall, ".4f"), "1.0", row.recall == TARGET_RECALL),
        ("false pairs", str(row.false_pairs), "0", row.false_pairs == 0),
        ("q/s batched", _num(row.qps, ",.0f"), f">= {TARGET_QPS:,.0f} at 10M", None),
        ("index size (max of disk, RSS)", f"{_mb(index_bytes)} MB", "< 2,000 MB", None),
        ("build s", _num(row.build_s, ".1f"), f"< {TARGET_BUILD_S:.0f}", None),
    ]
    if n >= TARGET_AT_N:
        checks[2] = (*checks[2][:3], (row.qps or 0) >= TARGET_QPS)
        checks[3] = (*checks[3][:3], index_bytes < TARGET_INDEX_BYTES)
        checks[4] = (*checks[4][:3], (row.build_s or 1e9) < TARGET_BUILD_S)
    lines = ["| veriscan target | value | target | met |", "|---|---|---|---|"]
    for name, value, target, met in checks:
        verdict = "n/a (N < 10M)" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {value} | {target} | {verdict} |")
    return "\n".join(lines)


def md5_table(md5: dict[str, Any]) -> str:
    ratio = md5["import_lines_per_s"] / md5["read_lines_per_s"]
    return "\n".join(
        [
            "| MD5 list import | lines | seconds | lines/s | peak RSS MB | library MB |",
            "|---|---|---|---|---|---|",
            f"| veriscan Library.import_list (plain) | {md5['lines']:,} | {md5['import_s']:.1f} "
            f"| {md5['import_lines_per_s']:,.0f} | {_mb(md5['import_peak_rss_increase'])} "
            f"| {_mb(md5['library_bytes'])} |",
            f"| baseline: read lines in Python | {md5['lines']:,} | {md5['read_lines_s']:.1f} "
            f"| {md5['read_lines_per_s']:,.0f} | - | - |",
            f"| baseline: read lines + bytes.fromhex | {md5['lines']:,} "
            f"| {md5['read_fromhex_s']:.1f} | {md5['read_fromhex_lines_per_s']:,.0f} | - | - |",
            "",
            f"import / read-lines speed ratio: {ratio:.2f} "
            f"(records {md5['records']:,}, bad lines {md5['bad_lines']})",
        ]
    )


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in ("veriscan", "numpy", "numba", "faiss-cpu", "threatexchange"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": f"{platform.platform()}, Python {platform.python_version()}",
        "versions": versions,
    }


# ---------------------------------------------------------------- main


def run_dataset(
    data: Dataset, args: argparse.Namespace, work: Path, result: dict[str, Any]
) -> tuple[list[Row], bool]:
    log(f"{data.name}: {data.description}")
    args.order = list(np.random.default_rng(SEED + 1).permutation(len(data.queries)))
    log("ground truth: compiled brute force")
    truth, brute_row = compiled_brute(data, args.threads)
    rows = [brute_row]
    planted = check_planted(data, truth)
    log(f"truth: {len(truth.keys):,} pairs; {planted}")
    numpy_row, agree = numpy_brute(data, truth, args.numpy_queries)
    rows.append(numpy_row)
    ok = agree and "MISSING" not in planted
    log("veriscan")
    rows.insert(0, bench_veriscan(data, truth, args, work))
    notes = [planted] if planted else []
    if not args.skip_faiss:
        for config in ("flat", *args.faiss_mih):
            log(f"faiss {config}")
            row, radius = bench_faiss(data, truth, args, work, config)
            rows.append(row)
            if radius:
                notes.append(radius)
    if not args.skip_threatexchange:
        log("threatexchange")
        rows.append(bench_threatexchange(data, truth, args, work))
    for row in rows:
        log(f"  {row.method}: {row.qps or 0:,.0f} q/s, recall {row.recall}")
    result["datasets"][data.name] = {
        "description": data.description,
        "truth_pairs": len(truth.keys),
        "notes": notes,
        "rows": [asdict(r) for r in rows],
    }
    ours = rows[0]
    ok = ok and ours.recall == TARGET_RECALL and ours.false_pairs == 0
    return rows, ok


def datasets(args: argparse.Namespace) -> Iterator[Dataset]:
    """One at a time, so a 10M haystack and its index copies are never held twice."""
    if args.skip_pdq:
        return
    rng = np.random.default_rng(SEED)
    yield make_random(rng, args.n, args.queries)
    if not args.skip_clustered:
        yield make_clustered(np.random.default_rng(SEED + 2), args.n, args.queries)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=10_000_000, help="hashes in the haystack")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latency-calls", type=int, default=300, help="single-query calls")
    parser.add_argument("--numpy-queries", type=int, default=20, help="pure-numpy brute force")
    parser.add_argument(
        "--faiss-mih",
        default="16x16,11x23",
        help="IndexBinaryMultiHash configs (nhash x bits), comma separated; '' for none",
    )
    parser.add_argument(
        "--te-budget", type=float, default=300.0, help="seconds for threatexchange queries"
    )
    parser.add_argument("--md5-lines", type=int, help="lines in the MD5 list (default: --n)")
    parser.add_argument("--skip-threatexchange", action="store_true")
    parser.add_argument("--skip-faiss", action="store_true")
    parser.add_argument("--skip-clustered", action="store_true")
    parser.add_argument("--skip-md5", action="store_true")
    parser.add_argument("--skip-pdq", action="store_true", help="only the MD5 list import")
    parser.add_argument("--out-json", type=Path, help="also write the results here")
    parser.add_argument("--workdir", type=Path, help="where to make the temp folder")
    args = parser.parse_args(argv)
    if args.n < 1000 or args.queries < 2 or args.threads < 1:
        parser.error("--n must be >= 1000, --queries >= 2, --threads >= 1")
    args.faiss_mih = [c for c in args.faiss_mih.split(",") if c]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.skip_pdq and (not args.skip_threatexchange or not args.skip_faiss):
        try:
            import faiss  # noqa: F401

            if not args.skip_threatexchange:
                import threatexchange  # noqa: F401
        except ImportError:
            print(
                "faiss / threatexchange are not installed here: run `make bench-matching`, "
                "or pass --skip-faiss --skip-threatexchange",
                file=sys.stderr,
            )
            return 2
    result: dict[str, Any] = {
        "machine": machine(),
        "args": {k: v for k, v in vars(args).items() if k != "out_json"},
        "threshold": THRESHOLD,
        "load_average_start": os.getloadavg(),
        "datasets": {},
    }
    result["args"]["workdir"] = str(args.workdir) if args.workdir else None
    tables: list[str] = []
    ok = True
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="veriscan-bench-matching-", dir=args.workdir))
    try:
        for data in datasets(args):
            rows, fine = run_dataset(data, args, work, result)
            ok = ok and fine
            notes = result["datasets"][data.name]["notes"]
            section = [
                f"### {data.name}: {data.description}",
                "",
                method_table(rows),
                "",
                *ratio_lines(rows),
                *(f"- {line}" for line in notes),
                *(f"- {r.method}: {'; '.join(r.notes)}" for r in rows if r.notes),
            ]
            if data.name == "random":
                section += ["", target_table(rows[0], args.n)]
            tables.append("\n".join(section))
            del data, rows
            gc.collect()
        if not args.skip_md5:
            lines = args.md5_lines or args.n
            log(f"MD5 list import, {lines:,} lines")
            result["md5_import"] = bench_md5(lines, work, np.random.default_rng(SEED + 3))
            tables.append(md5_table(result["md5_import"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_end"] = os.getloadavg()
    info = result["machine"]
    print()
    print(
        f"{info['cpu']}, {info['cores']} cores, {info['memory_bytes'] / 2**30:.0f} GiB; "
        f"{info['platform']}; {info['versions']}; threshold {THRESHOLD}; "
        f"load average {result['load_average_start'][0]:.2f} at start, "
        f"{result['load_average_end'][0]:.2f} at end (shared machine: numbers as measured)\n"
    )
    print("\n\n".join(tables))
    if args.out_json:
        args.out_json.parent.mkdir(parents=True, exist_ok=True)
        args.out_json.write_text(json.dumps(result, indent=2, default=str) + "\n", "utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
