"""One settings object, layered: defaults < veriscan.toml < VERISCAN_* environment < CLI flags.

A single frozen dataclass means the run record can store exactly what a run used, and work units can
carry it to worker processes.

Plugins get their own tables, ``[veriscan.analyzers.ID]`` and ``[veriscan.classifiers.NAME]``:
they are carried here untouched (as canonical JSON text, so the object stays frozen, hashable and
picklable) and validated by the plugin that owns them (:func:`table_config` for a dataclass).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

PDQ_MODES = ("fast", "exact")
WATERMARK_MODES = ("auto", "always", "never")
BATCH = "batch"
DETECTOR_STAGES = ("auto", "inline", BATCH)
REQUIRED_ANALYZERS = frozenset({"hashes", "filetype"})
PLUGIN_FAMILIES = ("analyzers", "classifiers")
"""Sub-tables of ``[veriscan]`` that belong to plugins: ``[veriscan.<family>.<name>]``."""
PluginTables = tuple[tuple[str, str, str], ...]


class SettingsError(ValueError):
    """A setting has a value veriscan cannot use; reported as a usage error."""


@dataclass(frozen=True)
class Settings:
    workers: int = 0
    pdq: str = "fast"
    thumbnail_px: int = 256
    chunk_bytes: int = 1 << 20
    unit_files: int = 64
    unit_bytes: int = 256 << 20
    max_buffer_bytes: int = 512 << 20
    spool_memory_bytes: int = 64 << 20
    archive_max_depth: int = 4
    archive_max_entries: int = 100_000
    archive_max_expanded_bytes: int = 20 << 30
    archive_max_ratio: int = 200
    archive_ratio_min_bytes: int = 1 << 20
    watermark: str = "auto"
    watermark_max_pixels: int = 4_194_304
    c2pa_trust_anchors: str = ""
    skip: str = ""
    vpdq_interval_ms: int = 1000
    vpdq_max_frames: int = 36_000
    lists: str = ""
    library: str = ""
    carve: bool = True
    ray_address: str = ""
    carve_max_file_bytes: int = 64 << 20
    detector_model: str = ""
    """Folder of the pixel detector's bundle (detector.onnx + detector.json); empty: the packaged
    one, and no detector when veriscan ships without it."""
    detector_stage: str = "auto"
    """Where the detector scores: ``inline`` in each work unit, ``batch`` in a stage after the
    units (Ray Data on the Ray executor); ``auto`` is batch when the Ray cluster has GPUs."""
    plugin_tables: PluginTables = ()
    """(family, name, table as canonical JSON) for each ``[veriscan.<family>.<name>]`` table,
    sorted; read through :meth:`table` and validated by the plugin that owns it."""

    def __post_init__(self) -> None:
        if self.pdq not in PDQ_MODES:
            raise SettingsError(f"pdq must be one of {', '.join(PDQ_MODES)}, not {self.pdq!r}")
        if self.skipped & REQUIRED_ANALYZERS:
            raise SettingsError(
                f"cannot skip {', '.join(sorted(self.skipped & REQUIRED_ANALYZERS))}: "
                "every file is hashed and typed"
            )
        if self.watermark not in WATERMARK_MODES:
            modes = ", ".join(WATERMARK_MODES)
            raise SettingsError(f"watermark must be one of {modes}, not {self.watermark!r}")
        if self.detector_stage not in DETECTOR_STAGES:
            stages = ", ".join(DETECTOR_STAGES)
            raise SettingsError(
                f"detector_stage must be one of {stages}, not {self.detector_stage!r}"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise SettingsError(f"{f.name} must not be negative")

    @property
    def skipped(self) -> frozenset[str]:
        """Analyzer ids left out of a run ("provenance" for a hash-only first pass)."""
        return frozenset(s.strip() for s in self.skip.split(",") if s.strip())

    @property
    def effective_workers(self) -> int:
        return self.workers or max(1, os.cpu_count() or 1)

    def table(self, family: str, name: str) -> dict[str, Any]:
        """The plugin table ``[veriscan.<family>.<name>]`` as read from TOML; {} when absent."""
        for fam, key, text in self.plugin_tables:
            if fam == family and key == name:
                loaded: dict[str, Any] = json.loads(text)
                return loaded
        return {}

    def table_names(self, family: str) -> list[str]:
        return [key for fam, key, _ in self.plugin_tables if fam == family]

    def as_dict(self) -> dict[str, Any]:
        """What the run record stores: every flat setting, plus the plugin tables as tables."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "plugin_tables"}
        tables: dict[str, dict[str, Any]] = {}
        for fam, key, text in self.plugin_tables:
            tables.setdefault(fam, {})[key] = json.loads(text)
        values["plugin_tables"] = tables
        return values

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, kind: type, raw: Any) -> Any:
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if isinstance(raw, str):
        try:
            if kind is bool:
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
            if kind is int:
                return int(raw)
            return raw
        except ValueError:
            pass
    raise SettingsError(f"setting {name}: cannot use {raw!r} as {kind.__name__}")


_TYPES: dict[str, type] = {"int": int, "bool": bool, "str": str}


def _flat_fields() -> dict[str, type]:
    """The flat settings, name to type (plugin tables are read apart)."""
    return {f.name: _TYPES[str(f.type)] for f in fields(Settings) if str(f.type) in _TYPES}


def _layer(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    known = _flat_fields()
    out: dict[str, Any] = {}
    for key, raw in values.items():
        name = key.replace("-", "_")
        if name not in known:
            raise SettingsError(f"unknown setting {key!r} in {origin}")
        out[name] = _coerce(name, known[name], raw)
    return out


def load_settings(
    toml_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve the layers; ``overrides`` are CLI flags, where None means 'not given'."""
    merged: dict[str, Any] = {}
    if toml_path is not None and toml_path.is_file():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read {toml_path}: {exc}") from exc
        section = data.get("veriscan", data)
        if not isinstance(section, dict):
            raise SettingsError(f"{toml_path}: [veriscan] must be a table")
        section = dict(section)
        merged["plugin_tables"] = _plugin_tables(section, toml_path)
        merged.update(_layer(section, str(toml_path)))
    env = os.environ if environ is None else environ
    flat = _flat_fields()
    from_env = {
        k[len("VERISCAN_") :].lower(): v
        for k, v in env.items()
        if k.startswith("VERISCAN_") and k[len("VERISCAN_") :].lower() in flat
    }
    merged.update(_layer(from_env, "environment"))
    if overrides:
        merged.update(_layer({k: v for k, v in overrides.items() if v is not None}, "flags"))
    return Settings(**merged)


def _plugin_tables(section: dict[str, Any], origin: Path) -> PluginTables:
    """Takes the plugin families out of ``section`` (the flat settings stay)."""
    found: list[tuple[str, str, str]] = []
    for family in PLUGIN_FAMILIES:
        tables = section.pop(family, None)
        if tables is None:
            continue
        if not isinstance(tables, dict):
            raise SettingsError(f"{origin}: [veriscan.{family}] must hold tables")
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise SettingsError(f"{origin}: [veriscan.{family}.{name}] must be a table")
            found.append((family, name, json.dumps(table, sort_keys=True, default=str)))
    return tuple(sorted(found))


def plugin_tables(tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> PluginTables:
    """``plugin_tables`` for Settings built in code: {family: {name: table}}."""
    return tuple(
        sorted(
            (family, name, json.dumps(dict(table), sort_keys=True))
            for family, named in tables.items()
            for name, table in named.items()
        )
    )


_T = TypeVar("_T")


def table_config(config: type[_T], table: Mapping[str, Any], where: str) -> _T:
    """A plugin's settings dataclass built from its table: an unknown key, a missing required
    key or a value of the wrong type is a SettingsError naming the key and the table."""
    hints = get_type_hints(config)
    known = {f.name: f for f in fields(config)}  # type: ignore[arg-type]
    for key in table:
        if key.replace("-", "_") not in known:
            raise SettingsError(f"unknown setting {key!r} in {where}")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        name = key.replace("-", "_")
        values[name] = _typed(name, hints[name], raw, where)
    missing = [
        f.name
        for f in known.values()
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise SettingsError(f"missing setting {missing[0]!r} in {where}")
    try:
        return config(**values)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {exc}") from exc


def _typed(name: str, hint: Any, raw: Any, where: str) -> Any:
    """``raw`` checked against a simple annotation (scalars, tuples/lists of them, unions)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            try:
                return _typed(name, option, raw, where)
            except SettingsError:
                continue
        raise SettingsError(f"setting {name!r} in {where}: {raw!r} has the wrong type")
    if origin in (tuple, list):
        args = [a for a in get_args(hint) if a is not Ellipsis]
        if not isinstance(raw, list | tuple):
            raise SettingsError(f"setting {name!r} in {where} must be a list")
        inner = args[0] if args else Any
        items = [_typed(name, inner, v, where) for v in raw]
        return tuple(items) if origin is tuple else items
    if hint is Any or hint is object:
        return raw
    number = isinstance(raw, int | float) and not isinstance(raw, bool)
    if hint is float and number:
        return float(raw)
    plain = (hint is int and number and isinstance(raw, int)) or (
        hint in (str, bool) and isinstance(raw, hint)
    )
    if plain or (hint is type(None) and raw is None):
        return raw
    if (origin is dict or hint is dict) and isinstance(raw, dict):
        return raw
    raise SettingsError(f"setting {name!r} in {where}: {raw!r} is not a {_name(hint)}")


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))
