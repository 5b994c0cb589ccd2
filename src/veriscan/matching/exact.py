"""Exact-hash lookup over sorted, memory-mapped arrays.

A 10M-entry MD5 list is 160 MB of digests: kept as sorted 64-bit prefixes (binary search) beside
the full digests (to confirm) and the entry each belongs to. Nothing is parsed when a list is
opened, and a whole case's hashes are looked up in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from veriscan.matching.lists.records import HASH_LENGTHS


def prefixes(digests: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """The first 8 bytes of each digest as an unsigned integer (big-endian, so order is bytes')."""
    head = np.ascontiguousarray(digests[:, :8])
    return head.view(">u8").reshape(-1).astype(np.uint64)


def digests_from_hex(kind: str, values: Sequence[str]) -> NDArray[np.uint8]:
    width = HASH_LENGTHS[kind] // 2
    raw = b"".join(bytes.fromhex(v) for v in values)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)


def build_exact(
    directory: Path, kind: str, digests: NDArray[np.uint8], entries: NDArray[np.uint32]
) -> int:
    """Sorts and saves one hash kind; returns how many digests it holds."""
    order = np.argsort(prefixes(digests), kind="stable")
    np.save(directory / f"{kind}-prefix.npy", prefixes(digests)[order])
    np.save(directory / f"{kind}-digest.npy", digests[order])
    np.save(directory / f"{kind}-entry.npy", entries[order])
    return len(order)


class ExactTable:
    """One hash kind of one list, memory-mapped."""

    def __init__(self, directory: Path, kind: str) -> None:
        self.kind = kind
        path = directory / f"{kind}-prefix.npy"
        if path.is_file():
            self.prefix: NDArray[np.uint64] = np.load(path, mmap_mode="r")
            self.digest: NDArray[np.uint8] = np.load(
                directory / f"{kind}-digest.npy", mmap_mode="r"
            )
            self.entry: NDArray[np.uint32] = np.load(directory / f"{kind}-entry.npy", mmap_mode="r")
        else:
            width = HASH_LENGTHS[kind] // 2
            self.prefix = np.empty(0, np.uint64)
            self.digest = np.empty((0, width), np.uint8)
            self.entry = np.empty(0, np.uint32)

    def __len__(self) -> int:
        return int(self.prefix.shape[0])

    def lookup(self, values: Sequence[str]) -> list[tuple[int, int]]:
        """(position in ``values``, entry id) for every value on the list."""
        if not values or len(self) == 0:
            return []
        queries = digests_from_hex(self.kind, values)
        heads = prefixes(queries)
        left = np.searchsorted(self.prefix, heads, side="left")
        right = np.searchsorted(self.prefix, heads, side="right")
        hits: list[tuple[int, int]] = []
        for qi in np.nonzero(right > left)[0]:
            for pos in range(int(left[qi]), int(right[qi])):
                if np.array_equal(self.digest[pos], queries[qi]):
                    hits.append((int(qi), int(self.entry[pos])))
        return hits
