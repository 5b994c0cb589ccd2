"""One settings object, layered: defaults < veriscan.toml < VERISCAN_* environment < CLI flags.

A single frozen dataclass means the run record can store exactly what a run used, and work units can
carry it to worker processes.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PDQ_MODES = ("fast", "exact")
WATERMARK_MODES = ("auto", "always", "never")
BATCH = "batch"
DETECTOR_STAGES = ("auto", "inline", BATCH)
REQUIRED_ANALYZERS = frozenset({"hashes", "filetype"})


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

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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


def _layer(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    known = {f.name: _TYPES[str(f.type)] for f in fields(Settings)}
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
        merged.update(_layer(section, str(toml_path)))
    env = os.environ if environ is None else environ
    from_env = {
        k[len("VERISCAN_") :].lower(): v
        for k, v in env.items()
        if k.startswith("VERISCAN_") and k[len("VERISCAN_") :].lower() in _field_names()
    }
    merged.update(_layer(from_env, "environment"))
    if overrides:
        merged.update(_layer({k: v for k, v in overrides.items() if v is not None}, "flags"))
    return Settings(**merged)


def _field_names() -> set[str]:
    return {f.name for f in fields(Settings)}
