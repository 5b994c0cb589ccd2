"""The registry of sources, analyzers, exporters, matchers and case-wide stages.

Built-ins are declared as entry points in pyproject.toml and loaded the same way a third-party
plugin is, so the public path is the one that gets exercised. The registry is an ordinary object
passed to whoever needs it; nothing is registered by importing a module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, get_args

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
