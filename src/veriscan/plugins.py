"""The registry of sources, analyzers, exporters, matchers and case-wide stages.

Built-ins are declared as entry points in pyproject.toml and loaded the same way a third-party
plugin is, so the public path is the one that gets exercised. The registry is an ordinary object
passed to whoever needs it; nothing is registered by importing a module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from veriscan.analyzers.base import Analyzer, StreamingAnalyzer
    from veriscan.matching.base import Matcher
    from veriscan.reports.base import Exporter
    from veriscan.sources.base import EvidenceSource

Kind = Literal[
    "sources",
    "analyzers",
    "exporters",
    "matchers",
    "signal_types",
    "list_formats",
    "archive_formats",
    "stages",
]
KINDS: tuple[Kind, ...] = get_args(Kind)
GROUP_PREFIX = "veriscan."


class PluginError(Exception):
    """A plugin could not be registered (duplicate id, missing id, failed import)."""


@dataclass
class Registry:
    _entries: dict[Kind, dict[str, type[Any]]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )

    def register(self, kind: Kind, cls: type[Any]) -> None:
        plugin_id = getattr(cls, "id", None)
        if not isinstance(plugin_id, str) or not plugin_id:
            raise PluginError(f"{cls!r} has no string 'id'")
        if kind in ("analyzers", "matchers") and not isinstance(getattr(cls, "version", None), str):
            raise PluginError(f"analyzer {plugin_id!r} has no string 'version'")
        existing = self._entries[kind].get(plugin_id)
        if existing is not None and existing is not cls:
            raise PluginError(
                f"duplicate {kind[:-1]} id {plugin_id!r}: "
                f"{existing.__module__} and {cls.__module__}"
            )
        self._entries[kind][plugin_id] = cls

    def get(self, kind: Kind, plugin_id: str) -> type[Any]:
        try:
            return self._entries[kind][plugin_id]
        except KeyError:
            known = ", ".join(sorted(self._entries[kind])) or "none"
            raise PluginError(f"no {kind[:-1]} {plugin_id!r} (known: {known})") from None

    def ids(self, kind: Kind) -> list[str]:
        return list(self._entries[kind])

    def classes(self, kind: Kind) -> list[type[Any]]:
        return list(self._entries[kind].values())

    # Typed getters: each checks that the registered class implements its kind's contract, so a
    # plugin of the wrong type fails here with its name instead of deep inside a run.

    def analyzer(self, plugin_id: str) -> type[Analyzer] | type[StreamingAnalyzer]:
        from veriscan.analyzers.base import Analyzer, StreamingAnalyzer

        cls: type[Analyzer] | type[StreamingAnalyzer]
        cls = self._checked("analyzers", plugin_id, Analyzer, StreamingAnalyzer)
        return cls

    def analyzers(self) -> list[type[Analyzer] | type[StreamingAnalyzer]]:
        return [self.analyzer(plugin_id) for plugin_id in self.ids("analyzers")]

    def exporter(self, plugin_id: str) -> type[Exporter]:
        from veriscan.reports.base import Exporter

        cls: type[Exporter] = self._checked("exporters", plugin_id, Exporter)
        return cls

    def exporters(self) -> list[type[Exporter]]:
        return [self.exporter(plugin_id) for plugin_id in self.ids("exporters")]

    def source(self, plugin_id: str) -> type[EvidenceSource]:
        from veriscan.sources.base import EvidenceSource

        cls: type[EvidenceSource] = self._checked("sources", plugin_id, EvidenceSource)
        return cls

    def sources(self) -> list[type[EvidenceSource]]:
        return [self.source(plugin_id) for plugin_id in self.ids("sources")]

    def matcher(self, plugin_id: str) -> type[Matcher]:
        from veriscan.matching.base import Matcher

        cls: type[Matcher] = self._checked("matchers", plugin_id, Matcher)
        return cls

    def matchers(self) -> list[type[Matcher]]:
        return [self.matcher(plugin_id) for plugin_id in self.ids("matchers")]

    def _checked(self, kind: Kind, plugin_id: str, *contracts: type) -> type[Any]:
        cls = self.get(kind, plugin_id)
        if isinstance(cls, type) and issubclass(cls, contracts):
            return cls
        names = " or ".join(c.__name__ for c in contracts)
        raise PluginError(
            f"{kind[:-1]} plugin {plugin_id!r} ({cls!r}) is not a subclass of {names}"
        )


def load_registry(extra: Iterable[tuple[Kind, type[Any]]] = ()) -> Registry:
    """Build a registry from installed entry points (built-ins included), plus ``extra``."""
    registry = Registry()
    for kind in KINDS:
        eps = sorted(entry_points(group=GROUP_PREFIX + kind), key=lambda ep: ep.name)
        for ep in eps:
            try:
                cls = ep.load()
            except Exception as exc:
                msg = f"cannot load {kind[:-1]} plugin {ep.name!r}: {exc}"
                raise PluginError(msg) from exc
            if getattr(cls, "id", None) != ep.name:
                found = getattr(cls, "id", None)
                raise PluginError(f"entry point {ep.name!r} names a class whose id is {found!r}")
            registry.register(kind, cls)
    for kind, cls in extra:
        registry.register(kind, cls)
    return registry
