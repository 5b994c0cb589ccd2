"""Cutting a source's items into picklable work units, skipping what a previous run committed.

Units are small (a few dozen files or a few hundred MB) so a killed run loses little, memory stays
bounded, and the same unit can later travel to a Ray worker unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from veriscan.domain import Item
from veriscan.settings import Settings
from veriscan.sources.base import SourceSpec

SkipQuery = Callable[[list[str]], set[str]]


@dataclass(frozen=True)
class WorkUnit:
    unit_id: str
    source_cls: type[Any]
    source: SourceSpec
    items: tuple[Item, ...]
    settings: Settings
    analyzer_classes: tuple[type[Any], ...]
    tmp_dir: str
    db_url: str | None

    @property
    def planned_bytes(self) -> int:
        return sum(i.size or 0 for i in self.items)


@dataclass
class PlanStats:
    items_seen: int = 0
    items_skipped: int = 0


def batched_items(
    items: Iterable[Item], settings: Settings, already_done: SkipQuery, stats: PlanStats
) -> Iterator[list[Item]]:
    """Group items into units; ``already_done`` is asked once per group, never for the whole set."""
    group: list[Item] = []
    size = 0

    def flush() -> list[Item]:
        done = already_done([str(i.locator) for i in group])
        stats.items_skipped += len(done)
        return [i for i in group if str(i.locator) not in done]

    for item in items:
        stats.items_seen += 1
        group.append(item)
        size += item.size or 0
        if len(group) >= settings.unit_files or size >= settings.unit_bytes:
            kept = flush()
            if kept:
                yield kept
            group, size = [], 0
    if group:
        kept = flush()
        if kept:
            yield kept
