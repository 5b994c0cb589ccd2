"""The matching families a plugin registry holds, as instances: signal types and list formats.

Built-ins come through the same entry points as a third party's (groups ``veriscan.signal_types``
and ``veriscan.list_formats``); a class that does not implement the family's contract is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from veriscan.matching.lists.formats import ListFormat
from veriscan.matching.signals.base import SignalType
from veriscan.plugins import Kind, PluginError, Registry, load_registry

BUILTIN_ORDER = ("md5", "sha1", "sha256", "pdq", "vpdq")
"""Built-in signal types in the order their counts have always been written in ``list.json``."""
BUILTIN_FORMATS = ("vics", "csv", "plain", "pdq", "nsrl", "vpdq")

T = TypeVar("T")
MISSING = "reinstall veriscan, e.g. pip install -e ."


def _checked(registry: Registry, kind: Kind, base: Any) -> list[type[T]]:
    out: list[type[T]] = []
    for cls in registry.classes(kind):
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{kind[:-1]} {cls!r} does not subclass {base.__name__}")
        out.append(cls)
    if not out:
        raise PluginError(
            f"no {kind} installed: the package's entry points are missing ({MISSING})"
        )
    return out


def _rank(order: tuple[str, ...]) -> Callable[[type[Any]], tuple[int, str]]:
    def rank(cls: type[Any]) -> tuple[int, str]:
        plugin_id = str(cls.id)
        return (order.index(plugin_id) if plugin_id in order else len(order), plugin_id)

    return rank


def signal_types(registry: Registry | None = None) -> list[SignalType[Any]]:
    """One instance of every registered signal type, built-ins first."""
    classes: list[type[SignalType[Any]]] = _checked(
        registry or load_registry(), "signal_types", SignalType
    )
    return [cls() for cls in sorted(classes, key=_rank(BUILTIN_ORDER))]


def list_formats(registry: Registry | None = None) -> list[ListFormat]:
    """One instance of every registered list format, built-ins first."""
    classes: list[type[ListFormat]] = _checked(
        registry or load_registry(), "list_formats", ListFormat
    )
    return [cls() for cls in sorted(classes, key=_rank(BUILTIN_FORMATS))]
