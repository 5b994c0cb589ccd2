"""A third party's signal type and list format, written only against the public contracts.

``ThirdPartyDigest`` reads a digest another analyzer stored in a content's findings
(``findings["thirdparty"]["digest"]``), keeps its own index file in the list folder and matches
exactly; ``DigestLines`` reads ``digest:<hex>`` lines. Tests register them through
``load_registry(extra=...)``, the way installed entry points would.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from veriscan.matching.counts import ImportCounts
from veriscan.matching.hits import CaseHashes, Hit
from veriscan.matching.lists.formats import ListFormat, ReadOptions
from veriscan.matching.lists.records import BadLine, HashRecord, ListEvent
from veriscan.matching.signals.base import (
    BruteIndex,
    EmptyIndex,
    Example,
    IndexBuilder,
    ListView,
    SignalIndex,
    SignalType,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
INDEX = "thirdparty.json"


class _Builder(IndexBuilder):
    def __init__(self, directory: Path, counts: ImportCounts) -> None:
        self.directory, self.counts = directory, counts
        self.pairs: list[tuple[int, str]] = []

    def add(self, entry: int, record: HashRecord) -> None:
        value = ThirdPartyDigest().list_value(record)
        if value is not None:
            self.pairs.append((entry, value))
            self.counts.hashes[ThirdPartyDigest.id] += 1

    def finish(self) -> None:
        if self.pairs:
            (self.directory / INDEX).write_text(json.dumps(self.pairs), encoding="utf-8")


class ThirdPartyDigest(SignalType[str]):
    id = "thirdparty"
    version = "0.1"
    findings_key = "thirdparty"

    def case_value(self, content: CaseHashes) -> str | None:
        found = content.findings.get("thirdparty")
        digest = found.get("digest") if isinstance(found, dict) else None
        return digest if isinstance(digest, str) and _HEX64.fullmatch(digest) else None

    def list_value(self, record: HashRecord) -> str | None:
        digest = record.extra.get("digest")
        return digest if isinstance(digest, str) and _HEX64.fullmatch(digest) else None

    def builder(self, directory: Path, min_quality: int, counts: ImportCounts) -> IndexBuilder:
        return _Builder(directory, counts)

    def load(self, folder: Path) -> SignalIndex:
        if not (folder / INDEX).is_file():
            return EmptyIndex()
        pairs = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        return BruteIndex([(int(e), str(v)) for e, v in pairs])

    def match(self, hash_list: ListView, values: Sequence[str | None]) -> Iterator[Hit]:
        usable = [i for i, v in enumerate(values) if v]
        q, entries, _ = hash_list.index(self.id).query([values[i] or "" for i in usable], 0)
        for qi, entry in zip(q.tolist(), entries.tolist(), strict=True):
            yield Hit(usable[qi], self.id, int(entry), 0)

    def example(self, rnd: random.Random) -> Example:
        digest = f"{rnd.getrandbits(256):064x}"
        content = CaseHashes(f"{rnd.getrandbits(256):064x}", "0" * 32, "0" * 40)
        content.findings["thirdparty"] = {"digest": digest}
        return Example(content, HashRecord(line=1, extra={"digest": digest}))


class DigestLines(ListFormat):
    id = "digestlines"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and head.startswith(b"digest:")

    def read(self, path: Path, options: ReadOptions) -> Iterator[ListEvent]:
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, 1):
                text = raw[:200].decode("utf-8", "replace").strip()
                value = text.removeprefix("digest:")
                if _HEX64.fullmatch(value):
                    yield HashRecord(line=number, extra={"digest": value})
                elif text:
                    yield BadLine(number, f"not a digest line: {text[:40]!r}")
