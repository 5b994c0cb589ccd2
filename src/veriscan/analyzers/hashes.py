"""Cryptographic digests, computed while the file streams past (one read)."""

from __future__ import annotations

import hashlib

from veriscan.analyzers.base import StreamingAnalyzer, StreamState
from veriscan.domain import Attribute, Digest, Fact

ALGORITHMS = ("md5", "sha1", "sha256")


class _HashState(StreamState):
    def __init__(self) -> None:
        self._hashers = [hashlib.new(a) for a in ALGORITHMS]
        self._size = 0

    def update(self, chunk: bytes) -> None:
        self._size += len(chunk)
        for h in self._hashers:
            h.update(chunk)

    def finish(self) -> list[Fact]:
        facts: list[Fact] = [
            Digest(a, h.hexdigest()) for a, h in zip(ALGORITHMS, self._hashers, strict=True)
        ]
        facts.append(Attribute("size", self._size))
        return facts


class HashAnalyzer(StreamingAnalyzer):
    id = "hashes"
    version = "1"

    def begin(self, name: str) -> StreamState:
        return _HashState()
