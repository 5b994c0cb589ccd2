"""The analyzer contracts.

Every file is read once. Streaming analyzers see each chunk as it is read (hashes). Whole-content
analyzers (image decoding, PDQ) ask, from the first chunk, whether they want the file; if any does,
the bytes are buffered during that same read and handed over in a :class:`FileContext`, whose
decoded-image cache lets several analyzers share one decode.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from veriscan.domain import Fact
from veriscan.settings import Settings, SettingsError, table_config


class Configurable:
    """A plugin's own settings table, ``[veriscan.analyzers.ID]``, validated by the plugin.

    Declare a dataclass as ``Config`` (each field a key; unknown keys, missing keys and wrong types
    are refused), or override :meth:`validate` to build a typed config from the table yourself.
    A plugin that declares neither takes no table: any key in it is an error.
    """

    id: ClassVar[str]
    Config: ClassVar[type[Any] | None] = None

    @classmethod
    def validate(cls, table: Mapping[str, Any]) -> Any:
        """The typed config from this plugin's table; SettingsError naming a bad key."""
        where = f"[veriscan.analyzers.{cls.id}]"
        if cls.Config is not None:
            return table_config(cls.Config, table, where)
        for key in table:
            raise SettingsError(f"unknown setting {key!r} in {where}")
        return None

    @classmethod
    def config_from(cls, settings: Settings) -> Any:
        return cls.validate(settings.table("analyzers", cls.id))


class StreamState(ABC):
    @abstractmethod
    def update(self, chunk: bytes) -> None: ...

    @abstractmethod
    def finish(self) -> list[Fact]: ...


class StreamingAnalyzer(Configurable, ABC):
    id: ClassVar[str]
    version: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = self.config_from(settings)

    @abstractmethod
    def begin(self, name: str) -> StreamState:
        """A fresh state for one file called ``name`` (the last locator segment)."""


@dataclass
class FileContext:
    name: str
    data: bytes
    mime: str
    settings: Settings
    cache: dict[str, Any] = field(default_factory=dict)


class Analyzer(Configurable, ABC):
    id: ClassVar[str]
    version: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    """Ids of the analyzers whose results this one reads from ``FileContext.cache`` (provenance
    reads the detector's): they run before it. Each must be a registered analyzer (else the run
    does not start); one left out of a run (``--skip``, nothing to run with) simply is not there."""
    order: ClassVar[int] = 50
    """Deprecated tie-break kept for plugins that still set it; use ``requires``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = self.config_from(settings)

    @classmethod
    def prepare(cls, settings: Settings) -> str | None:
        """Once per run, before any file is read: the version the run record stores, or None when
        the analyzer has nothing to run with (it is then left out of the run and its record).

        Raises SettingsError for a setting the examiner chose that cannot work, so a scan stops at
        once with one line instead of recording the same problem on every file.
        """
        return cls.version

    @abstractmethod
    def wants(self, mime: str) -> bool:
        """Decided from the content-sniffed MIME type before the bytes are buffered."""

    @abstractmethod
    def analyze(self, ctx: FileContext) -> list[Fact]:
        """Facts about the content; failures are returned as Problem facts, not raised."""


_A = TypeVar("_A")


def run_order(analyzers: Iterable[_A], registered: Iterable[str] | None = None) -> list[_A]:
    """Whole-content analyzers (classes or instances) sorted so each runs after what it
    ``requires``, in layers: those needing nothing first, then those whose requirements all ran
    (a layer is its longest chain of requirements); ties by (order, layer, id). With
    ``registered`` given, a requirement on an id not in it is a SettingsError; a cycle always is."""
    items = {getattr(a, "id"): a for a in analyzers}  # noqa: B009
    known = set(items) if registered is None else set(registered) | set(items)
    needs: dict[str, set[str]] = {}
    for plugin_id, a in items.items():
        wanted = set(getattr(a, "requires", ()))
        missing = sorted(wanted - known)
        if missing and registered is not None:
            raise SettingsError(
                f"analyzer {plugin_id!r} requires unknown analyzer(s): {', '.join(missing)}"
            )
        needs[plugin_id] = wanted & set(items)
    layer = _layers(needs)
    order = {i: int(getattr(a, "order", 50)) for i, a in items.items()}
    waiting = {i: set(n) for i, n in needs.items()}
    ready = [(order[i], layer[i], i) for i, n in waiting.items() if not n]
    heapq.heapify(ready)
    out: list[_A] = []
    while ready:
        plugin_id = heapq.heappop(ready)[2]
        out.append(items[plugin_id])
        for other, pending in waiting.items():
            if plugin_id in pending:
                pending.discard(plugin_id)
                if not pending:
                    heapq.heappush(ready, (order[other], layer[other], other))
    return out


def _layers(needs: dict[str, set[str]]) -> dict[str, int]:
    """Each id's longest chain of requirements (0: needs nothing); SettingsError on a cycle."""
    layer: dict[str, int] = {}
    while len(layer) < len(needs):
        done = {
            i: 1 + max((layer[n] for n in wanted), default=-1)
            for i, wanted in needs.items()
            if i not in layer and wanted <= set(layer)
        }
        if not done:
            stuck = sorted(set(needs) - set(layer))
            raise SettingsError(f"analyzers require each other in a cycle: {', '.join(stuck)}")
        layer.update(done)
    return layer
